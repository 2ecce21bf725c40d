"""The protocol on a Dask cluster: workers compute, the process that owns the results stores.

``scripts/paper.py --scheduler local:N`` (a :class:`~dask.distributed.LocalCluster` of N
worker processes) or ``--scheduler tcp://host:8786`` (a running scheduler: a SLURM
allocation started with ``dask-jobqueue``, a multi-GPU node with one worker per GPU, ...)
runs :func:`rc.protocol.run` with a :class:`Cluster`. For every step that is not done,
the step's missing tasks that have work of their own (:class:`rc.tasks.Task`: trainings,
RC evaluations and final scores, the runs of searches and loss-vs-score studies, the
heaviest work of the protocol) are sent to the workers, each with the values of its
dependencies (a stored one is loaded here and sent; one computed in the same step is
passed from worker to worker). A worker returns the value; this process stores it under
its key, with the digest and provenance a computation here would give, and the provenance
names the worker (``worker``) and its device. Workers need no shared folder and never
write results. Then the step's own computation runs here as without a cluster: it finds
those entries stored and computes only what an element computes for itself (an
animation's recorded run, a figure's example runs, the networks of :mod:`rc.beyond`,
cheap next to the rest), after its dependencies are stored.

The runs of a search are sent in the groups a population training of this device makes
(:func:`rc.train_population`; one run per group on a CPU), so that a run's value does not
depend on the cluster. On a GPU (``--device cuda``) every task asks for a worker resource
``GPU`` (``dask worker --resources GPU=1``), so that it goes only to a worker with a GPU.

The budget works as without a cluster: nothing is sent after the deadline, a worker's
training stops at the end of the epoch in which it passes (the deadline travels as a
wall-clock time), work still queued then returns undone, and what finished is stored (a
search group's finished runs too); a worker returns rather than raises at the deadline,
so that a budget's end logs no failed task. A killed run resumes from the stored entries
(a worker keeps no checkpoint of its own).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

from .pipeline import Results, search_group
from .protocol import Step
from .tasks import Task, WorkContext
from .training import DeadlineReached

__all__ = ["Cluster", "parse_scheduler"]


def parse_scheduler(text: str) -> str | int | None:
    """``"none"`` -> None (this process only), ``"local:N"`` -> N workers of a
    LocalCluster, anything else -> the address of a running scheduler (ValueError for an
    empty one or a bad N)."""
    text = str(text).strip()
    if text in ("", "none"):
        return None
    if text.startswith("local:"):
        n = text.partition(":")[2]
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"local:N needs a number of workers N >= 1; got {text!r}")
        return int(n)
    if "://" not in text and ":" not in text:
        raise ValueError(f"a scheduler is 'none', 'local:N' or an address such as "
                         f"tcp://host:8786; got {text!r}")
    return text


class _Stopped(NamedTuple):
    """What a worker returns where the deadline stopped its work: the values that
    finished before it (the runs of a search group; none for a single task) and why.
    Returned rather than raised, so that a budget's end is no failure in Dask's logs."""
    finished: list
    reason: str


def _run_task(task: Task, context: WorkContext, *values):
    """On a worker: the value of ``task`` (the worker is named in its provenance)."""
    from dask.distributed import get_worker

    if _too_late(context):
        return _Stopped([], f"the deadline passed before {task.label} started")
    try:
        return task.compute(_here(context, get_worker().address), *values)
    except DeadlineReached as exc:
        return _Stopped([], str(exc))


def _run_search_group(specs, indices, study, table, val, context: WorkContext, grouping):
    """On a worker: the runs ``indices`` of a search, trained side by side and scored."""
    from dask.distributed import get_worker

    if _too_late(context):
        return _Stopped([], f"the deadline passed before the runs {indices} started")
    done: list = []
    try:
        return search_group(specs, indices, study, table, val,
                            _here(context, get_worker().address), grouping=grouping,
                            on_run=lambda i, run: done.append(run))
    except DeadlineReached as exc:
        return _Stopped(done, str(exc))


def _too_late(context: WorkContext) -> bool:
    """Whether the deadline passed before a worker started the work (queued too long)."""
    deadline = context.monotonic_deadline()
    return deadline is not None and time.monotonic() > deadline


def _here(context: WorkContext, worker: str) -> WorkContext:
    """``context`` on a worker: named, without a checkpoint file or progress bars, and
    with the threads of the process that owns the results (so that a value's last bits
    are the ones it would compute)."""
    import dataclasses

    import torch

    if context.threads:
        torch.set_num_threads(context.threads)
    return dataclasses.replace(context, worker=worker, checkpoint=None, progress=False)


class Cluster:
    """A Dask client for :func:`rc.protocol.run` (see the module doc).

    Parameters
    ----------
    scheduler : int or str
        N: start a LocalCluster of N single-threaded worker processes; a string: the
        address of a running scheduler.
    gpu : bool
        Whether tasks ask for a worker resource ``GPU`` (training on CUDA).
    """

    def __init__(self, scheduler: int | str, gpu: bool = False):
        from dask.distributed import Client, LocalCluster

        self.gpu = bool(gpu)
        self._local = None
        if isinstance(scheduler, int):
            self._local = LocalCluster(n_workers=scheduler, threads_per_worker=1,
                                       processes=True, dashboard_address=None,
                                       resources={"GPU": 1} if self.gpu else None)
            self.client = Client(self._local)
        else:
            self.client = Client(scheduler)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()
        if self._local is not None:
            self._local.close()

    def describe(self) -> dict:
        """The scheduler and its workers, for the record of a session."""
        info = self.client.scheduler_info()
        return {"scheduler": info.get("address", ""), "workers": len(info.get("workers", {}))}

    def _resources(self, task_gpu: bool = True) -> dict | None:
        return {"GPU": 1} if self.gpu and task_gpu else None

    # ------------------------------------------------------------------ one step
    def compute(self, results: Results, step: Step) -> None:
        """Compute on the workers, and store here, the missing tasks of ``step`` that
        have work of their own; raises :class:`DeadlineReached` where the budget ended
        it (what finished is stored)."""
        missing = step.missing(results)
        if not missing:
            return
        if step.runs is not None:
            self._search(results, step, missing)
        else:
            self._tasks(results, missing)

    def _check_deadline(self, results: Results, what: str) -> None:
        if results.deadline is not None and time.monotonic() > results.deadline:
            raise DeadlineReached(f"the deadline passed before computing {what}")

    def _search(self, results: Results, step: Step, missing: list[Task]) -> None:
        dataset, table, study = step.runs
        specs = results.run_specs(dataset, table, study)
        tasks = step.tasks
        wanted = {t.key for t in missing}
        val = results.val_spec(dataset) if study == "search" else None
        context = results.context()
        futures = {}
        for group in results.run_groups(dataset, table, study):
            if not wanted.intersection(tasks[i].key for i in group):
                continue
            self._check_deadline(results, f"the {study} for Table {table} on {dataset}")
            future = self.client.submit(_run_search_group, specs, group, study, table, val,
                                        context, results.grouping, pure=False,
                                        resources=self._resources())
            futures[future] = group

        def store(group, runs) -> None:
            for run in runs:
                if tasks[run.run].key in wanted:
                    results.store(tasks[run.run], run)
        self._gather(futures, store)

    def _tasks(self, results: Results, missing: list[Task]) -> None:
        futures, submitted, loaded = {}, {}, {}

        def argument(dep: Task):
            """A dependency's value, or the future that computes it; None: not here."""
            if dep.key in submitted:
                return submitted[dep.key]
            if dep.key not in loaded:
                value = results.cache.load(dep.name, dep.inputs, dep.value_type)
                if value is not None:
                    loaded[dep.key] = self.client.scatter(value)
            return loaded.get(dep.key)

        def submit(task: Task):
            if task.key in submitted:
                return submitted[task.key]
            if task.work is None:
                return None
            values = []
            for dep in task.deps:
                value = argument(dep)
                if value is None:
                    value = submit(dep)  # computed on a worker too, stored here
                if value is None:
                    return None  # needs what only its element computes: left to it
                values.append(value)
            self._check_deadline(results, task.label)
            future = self.client.submit(_run_task, task, results.context(), *values,
                                        key=f"{task.name}-{task.key[:16]}", pure=False,
                                        resources=self._resources(task.gpu))
            submitted[task.key] = future
            futures[future] = task
            return future

        for task in missing:
            submit(task)
        self._gather(futures, results.store)

    @staticmethod
    def _gather(futures: dict, store: Callable[[object, object], None]) -> None:
        """Wait for ``futures`` ({future: what it computes}), calling ``store(what,
        value)`` as each arrives (for a search group the deadline stopped, with the runs
        it finished; work still queued at the deadline returns at once, undone).
        The first error (:class:`DeadlineReached` for the deadline, or a failure) is
        raised after every finished value is stored."""
        from dask.distributed import as_completed

        error = None
        for future in as_completed(list(futures)):
            try:
                value = future.result()
            except Exception as exc:  # noqa: BLE001 - raised below, after storing the rest
                value = exc
            if isinstance(value, _Stopped):
                if value.finished:  # only a search group's runs
                    store(futures[future], value.finished)
                value = DeadlineReached(value.reason)
            if isinstance(value, Exception):
                error = error or value
                continue
            store(futures[future], value)
        if error is not None:
            raise error
