"""Small data shared by the tests."""
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def load_script(name: str):
    """The module ``scripts/<name>.py`` (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_book_run(name: str):
    """The module ``scripts/book_run/<name>.py``, a part of ``scripts/run_book.py``, imported
    as that script imports it (its folder on ``sys.path``)."""
    scripts = str(REPO / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    return importlib.import_module(f"book_run.{name}")


def stripes(n=60, seed=0):
    """A tiny binary data set: one random horizontal or vertical line in an 8x8 image."""
    rng = np.random.default_rng(seed)
    imgs = np.zeros((n, 8, 8), np.float32)
    for i in range(n):
        j = rng.integers(8)
        if rng.random() < 0.5:
            imgs[i, j, :] = 1
        else:
            imgs[i, :, j] = 1
    return imgs


def _tiny():
    import rc

    return rc.get_profile("ci").replace(datasets=("simple_superposition", "bars"), ks=(2, 12),
                                        n_test=16, loss_runs=2, search_runs=2)


#: The one tiny profile of the tests (two data sets, two clusterings, sixteen test images,
#: two runs per search and per loss study); a test that needs other sizes says so with
#: ``TINY.replace(...)``. tests/conftest.py computes its bars evaluation once a session.
TINY = _tiny()


def run_book(out: Path, results: Path, *args: str) -> subprocess.CompletedProcess:
    """scripts/run_book.py with the ci profile into ``out``, caching under ``results``."""
    env = {**os.environ, "RC_RESULTS": str(results)}
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "run_book.py"), "--profile", "ci",
         "--out", str(out), *args], cwd=REPO, capture_output=True, text=True, env=env)


#: The data set whose entries the kill, concurrency and Dask tests remove from their copy
#: of the shared ci world (tests/conftest.py) and have the protocol compute again: the
#: cheapest of the ci protocol. Its search and loss-vs-score study (run steps), table DAE,
#: the elements' RC runs, scores and examples, its animation, choosing K and the spreads,
#: and the scorecard after them: every kind of step. (Before issue 29 these tests ran
#: scripts/paper.py on an empty folder and compared with one more run of their own.)
REDO_DATASET = "simple_superposition"
REDO = re.compile(rf"(^|/)(table\d-{REDO_DATASET}/|{REDO_DATASET}-|predictability-"
                  rf"{REDO_DATASET}\.)")


def copy_world_less_one_dataset(world, results: Path) -> tuple[list[str], float]:
    """The shared ci world's results copied into ``results``, less :data:`REDO`'s entries;
    returns the entries removed and the seconds that the world's uninterrupted protocol
    run took for the steps of :data:`REDO_DATASET` (a scale for when to kill)."""
    from rc.storage import read_checked_json

    shutil.copytree(world.results, results)
    removed = []
    for path in sorted((results / "ci").rglob("*")):
        rel = str(path.relative_to(results / "ci"))
        if path.is_file() and not path.name.startswith(".") and REDO.search(rel):
            path.unlink()
            removed.append(rel)
    kinds = {r.split("/")[0] for r in removed}
    assert {"search", "loss", "dae", "rc", "scores", "animation"} <= kinds, removed
    (session,) = read_checked_json(results / "ci" / "provenance.json")["sessions"]
    seconds = sum(c["seconds"] for c in session["chunks"] if REDO_DATASET in c["step"])
    assert seconds > 0
    return removed, seconds


def background_fixture(name: str):
    """The session fixture ``name``: the value of the module's ``BACKGROUND`` build of that
    name, which conftest.py's lane builds while the other tests run."""
    import pytest

    @pytest.fixture(scope="session", name=name)
    def built(lane):
        return lane.result(name)
    return built
