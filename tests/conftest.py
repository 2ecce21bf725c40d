"""Worlds shared by the tests of one session (issue 29).

Each is built once, on an empty folder, and never changed: a test that must change one
copies it into its own ``tmp_path`` first (:func:`warm_results`). The ci world is built
in the background from the end of the collection, and the tests that read it run last,
so that it builds while the others run. Building a world is
what an end-to-end test used to do on its own, so a test that needs an EMPTY cache on
purpose still starts from ``tmp_path``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
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


def _build_ci_world(root: Path) -> CiWorld:
    """The ci world in ``root``, on an empty folder, as a reader with a GPU would build
    it: `make paper`'s protocol (scripts/paper.py --profile ci), then every chapter from
    its stored results (compute=False, two at a time) and the book built into HTML."""
    env = {**os.environ, "RC_RESULTS": str(root / "results")}
    start = time.perf_counter()
    protocol = subprocess.run([sys.executable, str(REPO / "scripts" / "paper.py"), "--profile",
                               "ci", "--quiet"], cwd=REPO, env=env, capture_output=True,
                              text=True)
    book = run_book(root / "book", root / "results", "-p", "compute", "false", "--jobs", "2",
                    "--build")
    return CiWorld(root / "book", book, time.perf_counter() - start, root / "results",
                   protocol)


class _Background:
    """A world built in a thread of its own (its work runs in subprocesses) while the
    other tests run; :meth:`result` waits for it."""

    def __init__(self, build, root: Path):
        self.root, self._value, self._error = root, None, None
        self._thread = threading.Thread(target=self._run, args=(build,), daemon=True)
        self._thread.start()

    def _run(self, build) -> None:
        try:
            self._value = build(self.root)
        except BaseException as exc:  # handed to the test that asks for the world
            self._error = exc

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


#: The worlds being built in the background, by fixture name (:func:`pytest_collection_
#: finish` starts them).
_BACKGROUND: dict[str, _Background] = {}
#: The fixtures built in the background, and how.
_BUILDS = {"shared_ci_book": _build_ci_world}


def _uses(item, fixture: str) -> bool:
    return fixture in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(session, config, items):
    """The tests that read a world built in the background run last (the order is kept
    otherwise), so that it builds while the others run."""
    items.sort(key=lambda item: any(_uses(item, f) for f in _BUILDS))


def pytest_collection_finish(session):
    """Start building each background world that a selected test reads (issue 29: the ci
    world, about 2.5 minutes on 2 cores, then overlaps the fast layer)."""
    if session.config.option.collectonly:
        return
    for fixture, build in _BUILDS.items():
        if any(_uses(item, fixture) for item in session.items):
            root = Path(tempfile.mkdtemp(prefix=f"rc-{fixture}-"))
            _BACKGROUND[fixture] = _Background(build, root)


def pytest_sessionfinish(session, exitstatus):
    """The background worlds' folders are removed after a session that passed (kept to
    look into otherwise: their paths are in the failures' messages)."""
    if exitstatus == 0:
        for world in _BACKGROUND.values():
            shutil.rmtree(world.root, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_ci_book(tmp_path_factory) -> CiWorld:
    """The ci world (:func:`_build_ci_world`), built once a session on an empty folder,
    in the background from the end of the collection. Copy ``results`` before running
    anything on it (test_reliability.py's kill and concurrency tests run the protocol on
    copies less one data set, and compare with it)."""
    world = _BACKGROUND.get("shared_ci_book")
    if world is None:  # e.g. a test asked for it by a fixture of its own
        return _build_ci_world(tmp_path_factory.mktemp("ci-book"))
    return world.result()
