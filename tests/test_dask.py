"""The protocol on a Dask cluster (rc.cluster): the same entries as in one process.

The end-to-end test runs the ci protocol on a LocalCluster of two workers and compares
every stored entry with the shared ci world's (tests/conftest.py), which one process
computed: the same files, the same keys and inputs, and the same values byte for byte,
except the fields that say when, where and how long (provenance, seconds), which differ
between any two runs.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, copy_world_less_one_dataset

import rc
from rc.cluster import parse_scheduler
from rc.storage import read_json, read_npz
from rc.tasks import Task, WorkContext

#: Fields of a stored value that say when, where or how long, not what.
WHEN_AND_WHERE = {"provenance", "seconds", "train_seconds", "rc_seconds"}


def _what(value):
    """``value`` without the fields of :data:`WHEN_AND_WHERE`, at any depth."""
    if isinstance(value, dict):
        return {k: _what(v) for k, v in value.items() if k not in WHEN_AND_WHERE}
    if isinstance(value, list):
        return [_what(v) for v in value]
    return value


def _entries(root: Path) -> dict[str, Path]:
    """The stored entries under a profile's results folder, by relative path (the
    protocol's record, locks and temporaries aside)."""
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and p.name != "provenance.json"}


def _differences(ours: Path, theirs: Path) -> list[str]:
    """What differs between two entries (empty: the same but for when and where)."""
    if ours.suffix == ".npz":
        arrays, doc = read_npz(ours)
        arrays2, doc2 = read_npz(theirs)
        found = [f"array {k}" for k in sorted(set(arrays) | set(arrays2))
                 if k not in arrays or k not in arrays2
                 or arrays[k].dtype != arrays2[k].dtype
                 or arrays[k].tobytes() != arrays2[k].tobytes()]
        doc, doc2 = {k: doc.get(k) for k in ("record", "fields")}, \
            {k: doc2.get(k) for k in ("record", "fields")}
    else:
        found, doc, doc2 = [], read_json(ours), read_json(theirs)
        doc.pop("digest", None)
        doc2.pop("digest", None)
    if _what(doc) != _what(doc2):
        found.append("fields")
    return found


@pytest.mark.slow
@pytest.mark.e2e
def test_the_ci_protocol_on_a_local_cluster_stores_what_one_process_stores(
        shared_ci_book, tmp_path):
    """The ci protocol on two workers, started on a copy of the shared ci world less one
    data set's entries (:data:`helpers.REDO`: every kind of entry), computes them again:
    the same entries as the world's single process, byte for byte but for when and
    where. (Issue 29: it ran the whole ci protocol on an empty folder, about 4 minutes.)"""
    assert shared_ci_book.protocol.returncode == 0, shared_ci_book.protocol.stderr[-2000:]
    results = tmp_path / "results"
    removed, _ = copy_world_less_one_dataset(shared_ci_book, results)
    env = {**os.environ, "RC_RESULTS": str(results)}
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "paper.py"), "--profile",
                           "ci", "--quiet", "--scheduler", "local:2"], cwd=REPO, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "complete=True" in done.stdout, done.stdout[-2000:]
    ours = _entries(results / "ci")
    theirs = _entries(shared_ci_book.results / "ci")
    assert sorted(ours) == sorted(theirs)
    assert len(ours) > 150 and len(removed) > 10
    differ = {name: d for name in ours if (d := _differences(ours[name], theirs[name]))}
    assert not differ, differ
    # the heavy entries computed again were computed by workers, which their provenance
    # names
    dae = next(ours[n] for n in removed if n.startswith("dae/"))
    provenance = read_npz(dae)[1]["fields"]["provenance"]
    assert provenance.get("worker", "").startswith("tcp://"), provenance
    record = read_json(results / "ci" / "provenance.json")
    assert record["cluster"]["workers"] == 2


@pytest.mark.slow
@pytest.mark.e2e
def test_the_plan_declares_every_entry_the_protocol_stores(shared_ci_book):
    """The tasks of the plan (with their dependencies) are the ci world's entries: each
    element declares what it stores, and nothing else."""
    from rc import protocol

    results = rc.Results("ci", may_compute=False, progress=False, device="cpu",
                      root=shared_ci_book.results)
    declared = set()

    def walk(task):
        declared.add(str(results.cache.path(task.name, task.inputs, task.value_type)
                         .relative_to(results.cache.root)))
        for dep in task.deps:
            walk(dep)
    for step in protocol.plan(results):
        assert step.tasks is not None, step.name
        for task in step.tasks:
            walk(task)
    stored = set(_entries(results.cache.root)) - {"scorecard.json"}
    assert declared == stored, (sorted(declared - stored)[:5], sorted(stored - declared)[:5])
    assert all(step.check(results).n_done == step.units for step in protocol.plan(results))


def test_schedulers_are_parsed_with_clear_errors():
    assert parse_scheduler("none") is None and parse_scheduler("") is None
    assert parse_scheduler("local:3") == 3
    assert parse_scheduler("tcp://node:8786") == "tcp://node:8786"
    for bad in ("local:0", "local:x", "cluster"):
        with pytest.raises(ValueError, match="scheduler|local:N"):
            parse_scheduler(bad)


def test_the_paper_script_rejects_a_bad_scheduler_in_one_line():
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "paper.py"), "--scheduler",
                           "local:0", "--status"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_task_is_named_by_its_entry_and_computed_from_its_dependencies(tmp_path):
    results = rc.Results("ci", progress=False, device="cpu", root=tmp_path)
    spec = results.table_spec("bars")
    training = results.training_task(spec)
    again = results.training_task(spec)
    assert training == again and len({training, again}) == 1
    assert training.key == rc.cache.cache_key(training.name, spec.inputs())
    evaluation = results.evaluation_task(results.eval_spec("bars"))
    assert evaluation.deps == (training,) and evaluation.flop > 0 and training.flop > 0
    assert not results.has(training)
    with pytest.raises(ValueError, match="no work of its own"):
        Task("x", {}).compute(WorkContext())
    with pytest.raises(ValueError, match="inputs"):
        Task("x", [1])
    context = WorkContext(deadline=None, worker="tcp://w:1")
    assert context.provenance()["worker"] == "tcp://w:1"
    assert np.isfinite(evaluation.flop)


def _fails(context=None):
    raise AssertionError("work queued past the deadline must not start")


def test_a_budgets_end_on_the_workers_stores_what_finished_and_fails_no_task():
    """At the deadline a worker returns what it finished (a search group's runs) instead
    of raising, so that Dask logs no failed task; work still queued returns at once,
    undone; the process that stores gets every finished value, then DeadlineReached."""
    from dask.distributed import Client

    from rc.cluster import Cluster, _run_task, _Stopped
    from rc.training import DeadlineReached

    late = WorkContext(deadline=0.0)  # the epoch: long past
    task = Task("x", {"i": 1}, dict, work=_fails)
    stopped = _run_task(task, late)
    assert isinstance(stopped, _Stopped) and stopped.finished == []
    assert "before" in stopped.reason and "started" in stopped.reason
    with Client(processes=False, n_workers=1, threads_per_worker=2,
                dashboard_address=None) as client:
        futures = {client.submit(_Stopped, ["run 3"], "the deadline passed", pure=False): "g1",
                   client.submit(dict, n=4, pure=False): "t2",
                   client.submit(_Stopped, [], "the deadline passed", pure=False): "g3"}
        stored = []
        with pytest.raises(DeadlineReached, match="the deadline passed"):
            Cluster._gather(futures, lambda what, value: stored.append((what, value)))
    assert sorted(stored, key=str) == [("g1", ["run 3"]), ("t2", {"n": 4})]
