"""Worlds shared by the tests of one session (issue 29).

Each is built once, on an empty folder, and never changed: a test that must change one
copies it into its own ``tmp_path`` first (:func:`warm_results`). Building a world is
what an end-to-end test used to do on its own, so a test that needs an EMPTY cache on
purpose still starts from ``tmp_path``.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from helpers import TINY, run_book

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


@pytest.fixture(scope="session")
def shared_ci_book(tmp_path_factory):
    """The ci book, executed one notebook at a time and built once a session on an empty
    cache: (folder, process, seconds); its cache is the folder's sibling ``results``
    (copy it before running anything on it)."""
    root = tmp_path_factory.mktemp("ci-book")
    start = time.perf_counter()
    result = run_book(root / "book", root / "results", "--build")
    return root / "book", result, time.perf_counter() - start
