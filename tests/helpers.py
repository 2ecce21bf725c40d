"""Small data shared by the tests."""
import importlib.util
import os
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
