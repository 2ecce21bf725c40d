"""rc.protocol and scripts/paper.py: the whole protocol in resumable steps within a budget.

The dry run uses the same code as the paper profile's GPU run, at tiny sizes on the CPU.
"""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import TINY, background_fixture, copy_world_less_one_dataset

import rc
from rc import protocol

REPO = Path(__file__).resolve().parent.parent


def test_cost_model_counts_the_products_of_training():
    results = rc.Results(TINY, progress=False)
    spec = results.table_spec("bars")
    d, h = 400, spec.config.n_hidden
    n_train = int(spec.data.n * 0.9)
    expected = 3 * (10 * d * h * n_train + 4 * d * h * (spec.data.n - n_train))
    assert protocol.train_flop(spec, 3) == expected
    assert protocol.train_flop(spec, 10**6) == protocol.train_flop(spec, spec.max_epochs)


def test_steps_beyond_the_paper_are_costed_within_their_budgets(tmp_path):
    default = protocol.beyond_flop(rc.Results("default", may_compute=False, root=tmp_path))
    paper = protocol.beyond_flop(rc.Results("paper", may_compute=False, root=tmp_path))
    p = rc.get_profile("default")
    # under a budget every training costs at most the budget of a table DAE (plus the
    # forward passes over its validation tenth, which the cap does not count: 4%)
    n_trainings = {"robustness: spreads and selection": (p.spread_seeds - 1) * 6,
                   "grey levels": 2, "convolutional DAE": 2,
                   "RC inside DAE training": 2 * len(p.rc_training_datasets)}
    for name, count in n_trainings.items():
        assert (0 < default[name] if count else default[name] == 0), name
        assert default[name] <= count * p.train_tflop * 1e12 * 1.045, name
        assert paper[name] > 10 * default[name], name
    # a profile without the data sets trains nothing beyond the paper
    none = rc.get_profile("ci").replace(datasets=("simple_superposition",), spread_tables=())
    reader = rc.Results(none, may_compute=False, root=tmp_path)
    assert sum(protocol.beyond_flop(reader).values()) == 0
    assert protocol.estimated_epochs("no_such_set", 1, "search") == protocol.DEFAULT_EPOCHS


def test_the_plan_covers_searches_tables_and_every_element(tmp_path):
    results = rc.Results(TINY, progress=False, root=tmp_path)
    names = [s.name for s in protocol.plan(results)]
    assert names[:3] == ["search, Table 1, simple_superposition", "search, Table 1, bars",
                         "search, Table 2, bars"]
    assert "loss-vs-score study, bars" in names and "DAE of Table 2, bars" in names
    assert set(rc.paper.ELEMENTS) <= set(names) and names[-1] == "scorecard"
    rows = protocol.status(results)
    # five run steps: three searches of two runs, two loss-vs-score studies of three
    assert sum(r[2] for r in rows) == len(rows) - 5 + 3 * 2 + 2 * 3
    assert all(r[3] > 0 for r in rows if r[0].startswith(("search", "loss", "DAE")))


def _ci_results(root: Path) -> rc.Results:
    return rc.Results("ci", progress=False, device="cpu", root=root)


@pytest.mark.slow
@pytest.mark.e2e
def test_a_budgeted_run_stops_and_the_next_resumes(tmp_path, shared_ci_book):
    """On a copy of the shared ci world less one data set's entries (conftest.py,
    :data:`helpers.REDO_DATASET`; issue 29: it used to run the whole tiny protocol on an
    empty folder, then a tiny protocol of its own less Bars): a run whose budget ends a
    millisecond after its start (no computation starts after that) stops with work
    left on any machine, the next finishes it, a third finds nothing to do. (The kill
    test of test_reliability.py stops runs part of the way through their work.)"""
    root = tmp_path / "results"
    removed, _ = copy_world_less_one_dataset(shared_ci_book, root)
    compute_seconds = 0.001
    results = _ci_results(root)
    start = time.monotonic()
    first = protocol.run(results, budget_seconds=protocol.MARGIN + compute_seconds,
                         progress=False, log=lambda s: None)
    assert time.monotonic() - start < protocol.MARGIN + 30  # stopped, not run to the end
    assert not first["complete"] and first["units_done"] < first["units_total"]
    assert any(not (root / "ci" / r).exists() for r in removed)  # work was left
    second = protocol.run(_ci_results(root), progress=False, log=lambda s: None)
    assert second["complete"] and second["units_done"] == second["units_total"]
    assert len(second["sessions"]) == 3  # the world's own, the budgeted one, this one
    assert second["protocol_wall_seconds"] == pytest.approx(
        sum(c["seconds"] for s in second["sessions"] for c in s["chunks"]), abs=0.05)
    for key in ("device", "torch", "git_commit", "profile"):
        assert key in second
    again = _ci_results(root)
    third = protocol.run(again, progress=False, log=lambda s: None)
    assert third["complete"] and again.cache.computed == []  # nothing left to do
    stored = json.loads((root / "ci" / "provenance.json").read_text())
    assert stored["complete"] is True and len(stored["sessions"]) == 4
    # a result computed again is checked against the scorecard by content: the same
    # claims leave the card's bytes as they were (file times do not count)
    card = root / "ci" / "scorecard.json"
    built = card.read_bytes()
    next((root / "ci" / "rc").glob("bars-*.npz")).unlink()
    again = _ci_results(root)
    fourth = protocol.run(again, progress=False, log=lambda s: None)
    assert fourth["complete"] and card.read_bytes() == built
    assert protocol._scorecard_current(again)


@pytest.mark.slow
@pytest.mark.e2e
def test_dry_run_of_make_paper_then_the_book_from_stored_results(shared_ci_book):
    """scripts/paper.py (the ci profile) on an empty folder, then every chapter with
    may_compute=False, two at a time (nothing is computed, so the order cannot matter). Both
    runs are the shared ci world's (conftest.py: the book's tests read the same book)."""
    env = {**os.environ, "RC_RESULTS": str(shared_ci_book.results)}
    done = shared_ci_book.protocol
    assert done.returncode == 0, done.stderr[-3000:]
    assert "complete=True" in done.stdout
    book = shared_ci_book.result
    assert book.returncode == 0, book.stderr[-3000:]
    status = subprocess.run([sys.executable, str(REPO / "scripts" / "paper.py"), "--profile",
                             "ci", "--status"], cwd=REPO, env=env, capture_output=True,
                            text=True)
    assert status.returncode == 0, status.stderr[-3000:]
    done_of = re.search(r"(\d+)/(\d+) results", status.stdout)
    assert done_of and done_of.group(1) == done_of.group(2), status.stdout[-2000:]


def test_results_are_packed_into_few_bounded_archives(tmp_path):
    import tarfile

    root = tmp_path / "results" / "paper"
    (root / "search").mkdir(parents=True)
    for i in range(5):
        (root / "search" / f"run{i}.json").write_bytes(os.urandom(3000))
    old = root / "old.json"
    old.write_text("{}")
    os.utime(old, (0, 0))
    out = tmp_path / "out"
    spec = subprocess.run([sys.executable, str(REPO / "scripts" / "pack_results.py"), "--root",
                           str(root), "--since", "1000", "--out", str(out), "--max-bytes",
                           "7000"], capture_output=True, text=True)
    assert spec.returncode == 0, spec.stderr
    parts = sorted(out.iterdir())
    assert len(parts) == 3  # two files of 3000 bytes fit in 7000
    names = [n for p in parts for n in tarfile.open(p).getnames()]
    assert sorted(names) == [f"results/paper/search/run{i}.json" for i in range(5)]
    too_many = subprocess.run([sys.executable, str(REPO / "scripts" / "pack_results.py"),
                               "--root", str(root), "--out", str(tmp_path / "o2"),
                               "--max-bytes", "3500", "--max-files", "2"],
                              capture_output=True, text=True)
    assert too_many.returncode != 0 and "more than 2" in too_many.stderr


def _gpu_rehearsal(folder: Path, built=None) -> tuple[Path, subprocess.CompletedProcess]:
    """scripts/gpu_run.sh with DEVICE=cpu into ``folder``/out. The protocol gets a fixed
    budget (PROTOCOL_SECONDS), so that its step runs however loaded the machine is (a GPU
    slot gives it what is left of its limit)."""
    out = folder / "out"
    env = {**os.environ, "DEVICE": "cpu", "OUT": str(out), "PY": sys.executable,
           "RC_RESULTS": str(folder / "results"), "GPU_RUN_SECONDS": "600",
           "SMOKE_SECONDS": "10", "PROTOCOL_SECONDS": "15",
           "RC_DATA": os.environ.get("RC_DATA", ""),
           "BENCH_ARGS": "--members 3 --epochs 1 --n 300 --matmul 256"}
    return out, subprocess.run(["bash", str(REPO / "scripts" / "gpu_run.sh")], cwd=REPO,
                               env=env, capture_output=True, text=True, timeout=400)


#: Built in the background lane (conftest.py) while the other tests run.
BACKGROUND = {"gpu_rehearsal": _gpu_rehearsal}


gpu_rehearsal = background_fixture("gpu_rehearsal")


@pytest.mark.slow
@pytest.mark.e2e
def test_the_gpu_script_rehearsed_on_the_cpu(gpu_rehearsal):
    """scripts/gpu_run.sh with DEVICE=cpu: smoke test, benchmark, protocol, packing (run
    in the background lane, :func:`_gpu_rehearsal`)."""
    out, done = gpu_rehearsal
    log = (out / "gpu_run.log").read_text()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "smoke test done" in log and "benchmark done" in log and log.endswith("done\n")
    # the protocol step (c) ran after the benchmark and printed its summary
    after = log.split("benchmark done", 1)[1]
    assert "protocol_wall_seconds=" in after, after[-3000:]
    bench = json.loads((out / "bench_gpu.json").read_text())
    assert {"architecture", "activation", "all", "one_by_one"} <= set(bench)
    archives = sorted(out.glob("results-*.tar.gz"))
    assert archives and len(list(out.iterdir())) <= 8
    assert all(a.stat().st_size <= 16 << 20 for a in archives)
