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
    results = rc.Results(TINY, progress=False, root=root)
    results.evaluation("bars")
    assert results.cache.computed, "the tiny world was not built on an empty folder"
    return root


@pytest.fixture
def warm_results(tiny_world, tmp_path, monkeypatch) -> Path:
    """A copy of :func:`tiny_world` in ``tmp_path``, the results folder of this test
    (``RC_RESULTS``)."""
    return _results_copy(tiny_world, tmp_path / "warm", monkeypatch)


def _results_copy(world: Path, root: Path, monkeypatch) -> Path:
    """``world`` copied to ``root``, made this test's results folder (``RC_RESULTS``)."""
    shutil.copytree(world, root)
    monkeypatch.setenv("RC_RESULTS", str(root))
    return root


class CiWorld(NamedTuple):
    folder: Path  # the book: book/executed/*.ipynb and _build/html
    result: subprocess.CompletedProcess  # scripts/run_book.py's
    seconds: float  # the protocol and the book together
    results: Path  # the protocol's results folder (RC_RESULTS), complete
    protocol: subprocess.CompletedProcess  # scripts/paper.py's


def _build_ci_world(root: Path, built=None) -> CiWorld:
    """The ci world in ``root``, on an empty folder, as a reader with a GPU would build
    it: `make paper`'s protocol (scripts/paper.py --profile ci), then every chapter from
    its stored results (may_compute=False, two at a time) and the book built into HTML."""
    env = {**os.environ, "RC_RESULTS": str(root / "results")}
    start = time.perf_counter()
    protocol = subprocess.run([sys.executable, str(REPO / "scripts" / "paper.py"), "--profile",
                               "ci", "--quiet"], cwd=REPO, env=env, capture_output=True,
                              text=True)
    book = run_book(root / "book", root / "results", "-p", "may_compute", "false", "--jobs", "2",
                    "--build")
    return CiWorld(root / "book", book, time.perf_counter() - start, root / "results",
                   protocol)


class _Lane:
    """Builds run one after the other in a thread of their own (their work runs in
    subprocesses) while the tests run in the main thread: one lane beside the tests, so
    that two cores stay busy without crowding them. :meth:`result` waits for a build."""

    def __init__(self):
        self.builds: dict[str, tuple] = {}   # name: (build, folder), in the order they run
        self._done: dict[str, tuple] = {}    # name: (value, error)
        self.seconds: dict[str, float] = {}  # name: wall seconds of its build
        self._finished = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def add(self, name: str, build) -> None:
        self.builds[name] = (build, Path(tempfile.mkdtemp(prefix=f"rc-{name}-")))

    def start(self) -> None:
        if self.builds:
            self._thread.start()

    def _run(self) -> None:
        for name, (build, folder) in self.builds.items():
            start = time.perf_counter()
            try:
                outcome = (build(folder, self.result), None)
            except BaseException as exc:  # handed to the test that asks for the build
                outcome = (None, exc)
            with self._finished:
                self.seconds[name] = time.perf_counter() - start
                self._done[name] = outcome
                self._finished.notify_all()

    def result(self, name: str):
        with self._finished:
            self._finished.wait_for(lambda: name in self._done)
        value, error = self._done[name]
        if error is not None:
            raise error
        return value


_LANE = _Lane()


def _background_builds(module) -> dict:
    """The builds a test module runs in the background: its ``BACKGROUND`` (fixture name:
    function of an empty folder and of ``built``, which gives the value of a build that
    ran before it by name), and the ci world, first, for every module."""
    return {"shared_ci_book": _build_ci_world, **getattr(module, "BACKGROUND", {})}


def _lane_position(item) -> int | None:
    """Where the last background build that ``item`` reads runs in the lane (None: it
    reads none)."""
    names = [n for n in _background_builds(item.module) if n in item.fixturenames]
    order = list(_LANE.builds) or ["shared_ci_book"]
    return max((order.index(n) if n in order else len(order) for n in names), default=None)


def pytest_collection_modifyitems(session, config, items):
    """The background builds that the selected tests read go into the lane, the ci world
    first; the tests that read them run last, in the lane's order (the order is kept
    otherwise), so that the lane builds while the other tests run (issue 29)."""
    for item in items:
        for name, build in _background_builds(item.module).items():
            if name in item.fixturenames and name not in _LANE.builds:
                _LANE.add(name, build)
    if "shared_ci_book" in _LANE.builds:
        _LANE.builds = {"shared_ci_book": _LANE.builds.pop("shared_ci_book"), **_LANE.builds}
    items.sort(key=_run_order)


def _run_order(item) -> int:
    """0 for a test that reads no background build, else 1 + its lane position."""
    position = _lane_position(item)
    return 0 if position is None else 1 + position


def pytest_collection_finish(session):
    """Start the lane (not for ``--collect-only``), with the builds of the tests that
    were selected."""
    if session.config.option.collectonly:
        return
    wanted = {n for item in session.items for n in item.fixturenames}
    _LANE.builds = {n: b for n, b in _LANE.builds.items() if n in wanted}
    _LANE.start()


def pytest_terminal_summary(terminalreporter):
    """The background builds' wall times, beside pytest's slowest tests (they are no
    test's time: they run while the tests run)."""
    if _LANE.seconds:
        terminalreporter.section("background builds (tests/conftest.py)")
        for name, seconds in _LANE.seconds.items():
            terminalreporter.write_line(f"{seconds:8.2f}s  {name}")


def pytest_sessionfinish(session, exitstatus):
    """The background builds' folders are removed after a session that passed (kept to
    look into otherwise)."""
    if exitstatus == 0:
        for _, folder in _LANE.builds.values():
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def lane() -> _Lane:
    """The background lane: a module's fixture for one of its ``BACKGROUND`` builds
    returns ``lane.result(name)``."""
    return _LANE


@pytest.fixture(scope="session")
def shared_ci_book(lane) -> CiWorld:
    """The ci world (:func:`_build_ci_world`), built once a session on an empty folder,
    in the background from the end of the collection. Copy ``results`` before running
    anything on it (test_reliability.py's kill and concurrency tests run the protocol on
    copies less one data set, and compare with it)."""
    return lane.result("shared_ci_book")
