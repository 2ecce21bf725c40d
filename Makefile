# Two commands do all set-up: `make book` and `make test` (see README.md).
# Outside an active virtual environment (or conda env) a local .venv is created first.
PROFILE ?= default
TORCH_SPEC ?= torch==2.13.0
# Extra arguments for scripts/run_book.py, e.g. BOOK_ARGS="--only 04_results -p recompute true"
BOOK_ARGS ?=

ifneq ($(strip $(VIRTUAL_ENV)$(CONDA_PREFIX)),)
PYTHON := python
JUPYTER_BOOK := jupyter-book
STAMP := .installed-$(notdir $(VIRTUAL_ENV)$(CONDA_PREFIX))
else
PYTHON := .venv/bin/python
JUPYTER_BOOK := .venv/bin/jupyter-book
STAMP := .venv/.installed
endif

# Budget of `make paper` in seconds (empty: no limit)
BUDGET ?=
# Where `make paper` / `make full` compute: none (this process), local:N (a Dask
# LocalCluster of N workers) or a Dask scheduler's address, e.g. tcp://host:8786
SCHEDULER ?= none
PAPER_ARGS ?=

.PHONY: install test test-fast test-e2e lint book book-build paper paper-status full full-status full-retrain lock clean bench

ifeq ($(PYTHON),.venv/bin/python)
$(PYTHON):
	python3 -m venv .venv
VENV_DEP := $(PYTHON)
endif

# Exact versions from the lock (constraints.txt; `make lock` updates it).
$(STAMP): pyproject.toml constraints.txt | $(VENV_DEP)
	$(PYTHON) -m pip install -q -c constraints.txt --upgrade pip
	$(PYTHON) -m pip install -q -c constraints.txt "$(TORCH_SPEC)"
	$(PYTHON) -m pip install -q -c constraints.txt -e ".[book,test]"
	touch $(STAMP)

install: $(STAMP)

# ruff first (seconds), then every test (tests/test_lint.py repeats it, for plain pytest runs)
test: $(STAMP)
	$(PYTHON) -m ruff check rc tests scripts benchmarks
	$(PYTHON) -m pytest

lint: $(STAMP)
	$(PYTHON) -m ruff check rc tests scripts benchmarks

# The layers (issue 29): test-fast is the unit and property tests (no notebook, no protocol
# run, no training beyond a tiny DAE; under 2 minutes on 2 cores); test-e2e the end-to-end
# tests alone (the ci book and protocol runs, built once a session: tests/conftest.py).
test-fast: $(STAMP)
	$(PYTHON) -m pytest -m "not slow"

test-e2e: $(STAMP)
	$(PYTHON) -m pytest -m e2e

# Execute every notebook with papermill (profile $(PROFILE)) into book/executed/, then
# render _build/html with Jupyter Book 1.x (execution off; warnings are errors); the time
# record (book/executed/time_record.json) ends with the ten slowest cells and computations.
book: $(STAMP)
	$(PYTHON) scripts/run_book.py --profile $(PROFILE) --build $(BOOK_ARGS)

# The paper's whole protocol (results/paper/), resumable, within $(BUDGET) seconds; meant
# for a GPU. `make book PROFILE=paper` then renders from the stored results.
paper: $(STAMP)
	$(PYTHON) scripts/paper.py $(if $(BUDGET),--budget-seconds $(BUDGET)) --scheduler $(SCHEDULER) $(PAPER_ARGS)

paper-status: $(STAMP)
	$(PYTHON) scripts/paper.py --status

# The full-scale profile (results/full/): the paper's Table 1/2 configurations trained on
# all images, every element built on them, more seeds for the spreads. Hours on a CPU,
# resumable (run it again to go on); its results are committed, so `make book` shows them.
full: $(STAMP)
	$(PYTHON) scripts/paper.py --profile full $(if $(BUDGET),--budget-seconds $(BUDGET)) --scheduler $(SCHEDULER) $(PAPER_ARGS)

full-status: $(STAMP)
	$(PYTHON) scripts/paper.py --profile full --status

# Train stored full-scale table DAEs again here and compare, e.g. DAE="bars:1 shapes:1".
full-retrain: $(STAMP)
	$(PYTHON) scripts/paper.py --profile full $(foreach d,$(or $(DAE),bars:1),--retrain $(d))

# Re-render the already executed notebooks without running them again.
book-build: $(STAMP)
	$(JUPYTER_BOOK) build . -W -n --keep-going

bench: $(STAMP)
	$(PYTHON) benchmarks/bench_rc.py
	$(PYTHON) benchmarks/bench_train.py

# Re-resolve the environment from pyproject.toml's ranges and write the lock
# (constraints.txt and environment.yml) from what got installed.
lock:
	rm -rf .venv-lock && python3 -m venv .venv-lock
	.venv-lock/bin/python -m pip install -q --upgrade pip
	.venv-lock/bin/python -m pip install -q "$(TORCH_SPEC)"
	.venv-lock/bin/python -m pip install -q -e ".[book,test]"
	.venv-lock/bin/python scripts/lock.py --python .venv-lock/bin/python
	rm -rf .venv-lock

clean:
	rm -rf _build book/executed .pytest_cache
