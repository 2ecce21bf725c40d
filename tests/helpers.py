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
                                        n_test=16, loss_runs=3, search_runs=2)


#: The one tiny profile of the tests (two data sets, two clusterings, sixteen test images,
#: two runs per search, three per loss study: the fewest that rank losses against
#: scores); a test that needs other sizes says so with ``TINY.replace(...)``.
#: tests/conftest.py computes its bars evaluation, and its whole protocol, once a session.
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


def redo_pattern(dataset: str = REDO_DATASET) -> re.Pattern:
    """What names a data set's entries in a results folder (relative to the profile's)."""
    return re.compile(rf"(^|/)(table\d-{dataset}/|{dataset}-|predictability-{dataset}\.)")


#: The entries of :data:`REDO_DATASET`.
REDO = redo_pattern()


def copy_world_less_one_dataset(world, results: Path, dataset: str = REDO_DATASET,
                                profile: str = "ci") -> tuple[list[str], float]:
    """A world's results (``world``: a results folder, or a world with ``.results``)
    copied into ``results``, less ``dataset``'s entries (:func:`redo_pattern`); returns
    the entries removed and the seconds that the world's uninterrupted protocol run took
    for that data set's steps (a scale for when to kill)."""
    from rc.storage import read_checked_json

    shutil.copytree(getattr(world, "results", world), results)
    pattern, removed = redo_pattern(dataset), []
    for path in sorted((results / profile).rglob("*")):
        rel = str(path.relative_to(results / profile))
        if path.is_file() and not path.name.startswith(".") and pattern.search(rel):
            path.unlink()
            removed.append(rel)
    kinds = {r.split("/")[0] for r in removed}
    assert {"search", "loss", "dae", "rc", "scores", "animation"} <= kinds, removed
    (session,) = read_checked_json(results / profile / "provenance.json")["sessions"]
    seconds = sum(c["seconds"] for c in session["chunks"] if dataset in c["step"])
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
