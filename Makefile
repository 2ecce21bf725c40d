# Two commands do all set-up: `make book` and `make test` (see README.md).
# Outside an active virtual environment (or conda env) a local .venv is created first.
PROFILE ?= default
TORCH_SPEC ?= torch==2.13.0

ifneq ($(strip $(VIRTUAL_ENV)$(CONDA_PREFIX)),)
PYTHON := python
STAMP := .installed-$(notdir $(VIRTUAL_ENV)$(CONDA_PREFIX))
else
PYTHON := .venv/bin/python
STAMP := .venv/.installed
endif

.PHONY: install test test-fast book clean bench

$(PYTHON):
	python3 -m venv .venv

$(STAMP): pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q "$(TORCH_SPEC)"
	$(PYTHON) -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PYTHON) -m pytest

test-fast: $(STAMP)
	$(PYTHON) -m pytest -m "not slow"

bench: $(STAMP)
	$(PYTHON) benchmarks/bench_rc.py
	$(PYTHON) benchmarks/bench_train.py

clean:
	rm -rf _build book/executed .pytest_cache
