"""Worlds shared by the tests of one session (issue 29).

Each is built once, on an empty folder, and never changed: a test that must change one
copies it into its own ``tmp_path`` first (:func:`warm_results`). Building a world is
what an end-to-end test used to do on its own, so a test that needs an EMPTY cache on
purpose still starts from ``tmp_path``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest
from helpers import REPO, TINY, run_book

import rc


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> Path:
    """A results folder holding the :data:`helpers.TINY` profile's bars evaluation (its
    Table 1 DAE and RC with K = 12), computed once a session on an empty folder. Read it,
    or copy it with :func:`warm_results`; never write into it."""
    root = tmp_path_factory.mktemp("tiny-world")
    pipe = rc.Pipeline(TINY, progress=False, root=root)
    pipe.evaluation("bars")
    assert pipe.cache.computed, "the tiny world was not built on an empty folder"
    return root


@pytest.fixture
def warm_results(tiny_world, tmp_path, monkeypatch) -> Path:
    """A copy of :func:`tiny_world` in ``tmp_path``, the results folder of this test
    (``RC_RESULTS``)."""
    root = tmp_path / "warm"
    shutil.copytree(tiny_world, root)
    monkeypatch.setenv("RC_RESULTS", str(root))
    return root


class CiWorld(NamedTuple):
    folder: Path  # the book: book/executed/*.ipynb and _build/html
    result: subprocess.CompletedProcess  # scripts/run_book.py's
    seconds: float  # the protocol and the book together
    results: Path  # the protocol's results folder (RC_RESULTS), complete
    protocol: subprocess.CompletedProcess  # scripts/paper.py's


@pytest.fixture(scope="session")
def shared_ci_book(tmp_path_factory) -> CiWorld:
    """The ci world, built once a session on an empty folder as a reader with a GPU
    would: `make paper`'s protocol (scripts/paper.py --profile ci), then every chapter
    from its stored results (compute=False, two at a time) and the book built into HTML.
    Copy ``results`` before running anything on it (test_reliability.py's kill and
    concurrency tests run the protocol on copies less one data set, and compare with it)."""
    root = tmp_path_factory.mktemp("ci-book")
    env = {**os.environ, "RC_RESULTS": str(root / "results")}
    start = time.perf_counter()
    protocol = subprocess.run([sys.executable, str(REPO / "scripts" / "paper.py"), "--profile",
                               "ci", "--quiet"], cwd=REPO, env=env, capture_output=True,
                              text=True)
    book = run_book(root / "book", root / "results", "-p", "compute", "false", "--jobs", "2",
                    "--build")
    return CiWorld(root / "book", book, time.perf_counter() - start, root / "results",
                   protocol)
