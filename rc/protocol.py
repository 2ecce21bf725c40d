"""The whole protocol of a profile as a resumable plan, run within a time budget.

``make paper`` (``scripts/paper.py``) runs :func:`run` for the ``paper`` profile: the
random searches with single-object training (Table 1, Figure 8), with multi-object
training (Table 2, Figure 9) and the loss-vs-score study (Figure 6a), then the DAEs of
both tables, then every element of the paper (their RC evaluations and example runs),
the recorded runs of the RC animations, the analyses beyond the paper and the
scorecard. Each :class:`Step` declares the tasks it stores (:class:`rc.tasks.Task`:
each element's module says what it stores in ``tasks(results)``), so what is done, what is
left and what it costs follow from :meth:`rc.Results.has` and each task's cost; a step
computes what is missing through the cache, so everything finished is stored at once and
a later run resumes where this one stopped. With a Dask cluster (``cluster``,
:mod:`rc.cluster`) the workers compute a step's tasks first and this process stores them.

The budget is enforced with the deadline of :class:`rc.Results`: no computation starts after it, and
a training in progress stops at the end of the epoch in which it passes (a search keeps
its finished runs). Progress shows runs and results done out of the total, and the time
left projected from the cost model (:mod:`rc.cost`: the multiply-adds of every training,
with the epoch counts that early stopping gave in a measurement,
``rc/epoch_counts.json``, written by ``benchmarks/epoch_counts.py``) divided by the FLOP
rate measured so far. A task counts in the cost of the first step that stores it.

The record of all sessions, ``provenance.json`` in the profile's results folder, holds
the device, versions, commit, the wall time of every step, their sum
(``protocol_wall_seconds``) and whether the protocol is ``complete`` (every step done).
It is written as the run goes: when a session starts and after every step, so a killed
run leaves the steps it finished (its session stays ``"finished": false``). It carries a
digest (:func:`rc.storage.write_checked_json`); a record that cannot be read, does not
match its digest or lacks its parts is never reset in place: it is renamed
``provenance.json.corrupt-<time>`` with a :class:`~rc.cache.CacheWarning`, and the new
record names it (``set_aside``). The scorecard step counts as done only if
``scorecard.json`` reads back with its digest and holds the profile and claims that the
stored results give (:func:`rc.scorecard.changes`, rebuilt in memory: file times say
nothing, a git checkout sets them in any order); a corrupt one, or one that differs, is
rebuilt. Temporary files left by killed writes are removed when a run starts and when it
ends (:func:`rc.storage.remove_stale_temporaries`).

A stored file that cannot be used (a flipped byte, a changed digit) is named, with what is
wrong with it, never taken for a missing one: :meth:`Step.check` returns them beside the
units done, ``scripts/paper.py --status`` lists them under their step, :func:`status`
warns of them and :func:`run` logs them before it computes anything.
"""
from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from tqdm import tqdm

from . import cost, published
from ._checks import check_number
from .cache import CacheWarning
from .pipeline import TABLES, Results, TrainedDAE
from .storage import (
    CorruptFileError,
    locked,
    read_checked_json,
    read_json,
    remove_stale_temporaries,
    write_checked_json,
)
from .tasks import Task
from .training import DeadlineReached, checkpoint_progress

__all__ = ["Step", "StepState", "beyond_flop", "estimated_epochs", "plan", "project", "run",
           "status", "tables_declared", "train_flop"]

#: FLOP rates assumed before any training has been timed (FLOP/s).
DEFAULT_RATE = {"cpu": 5e10, "cuda": 5e13}
#: Seconds kept back at the end of a budget for writing the record.
MARGIN = 5.0


@dataclass
class Step:
    """One step of the plan: the tasks it stores and how it computes them.

    ``tasks`` are the entries the step stores (its dependencies belong to the steps
    before it); None where they cannot be declared yet: a table DAE or element of a
    profile whose tables come from its searches, before every search run is stored (the
    plan is declared again when they are). ``compute()`` computes whatever of them is
    missing, in this process, under ``results.deadline`` (an element computes its own
    entries there too; on a Dask cluster the tasks with work of their own are computed
    first by the workers, :mod:`rc.cluster`). ``runs``: the step is a search or
    loss-vs-score study ``(dataset, table, study)``, whose every run counts as a unit
    (one unit for the other steps). ``estimate``: its FLOPs while ``tasks`` is None.
    ``current``: for a step that stores no task (the scorecard), whether it is done;
    it notes in ``results.cache.damaged`` why a stored file cannot be used.
    """

    name: str
    tasks: list[Task] | None
    compute: Callable[[], object]
    runs: tuple[str, int, str] | None = None
    estimate: float = 0.0
    current: Callable[[], bool] | None = None
    #: keys of its tasks and their dependencies that no step before it stores or needs
    #: (only they count in its FLOPs)
    owned: frozenset[str] | None = None

    @property
    def units(self) -> int:
        """Its results: a search's runs, else one."""
        return len(self.tasks) if self.runs is not None and self.tasks is not None else 1

    def missing(self, results: Results) -> list[Task] | None:
        """Its tasks not stored in ``results`` (None while they are not declared)."""
        if self.tasks is None:
            return None
        return [t for t in self.tasks if not results.has(t)]

    def check(self, results: Results) -> StepState:
        """What is stored of it, what is left and what that costs, and the stored files met
        that cannot be used, each named with what is wrong with it (a damaged file counts
        as not stored)."""
        results.cache.damaged.clear()
        if self.current is not None:
            done, missing, flop = int(self.current()), [], 0.0
        else:
            missing = self.missing(results)
            if missing is None:
                done, flop = 0, self.estimate
            else:
                done = (self.units - len(missing) if self.runs is not None
                        else int(not missing))
                flop = sum(t.flop for t in _with_missing_deps(results, missing)
                           if self.owned is None or t.key in self.owned)
        damaged = [f"{path} {problem}" for path, problem in results.cache.damaged.items()]
        return StepState(done, flop if done < self.units else 0.0, missing or [], damaged)


def _closure(tasks: list[Task]) -> list[Task]:
    """``tasks`` and all they depend on, each once."""
    found: dict[str, Task] = {}

    def visit(task: Task) -> None:
        if task.key not in found:
            found[task.key] = task
            for dep in task.deps:
                visit(dep)
    for task in tasks:
        visit(task)
    return list(found.values())


def _with_missing_deps(results: Results, missing: list[Task]) -> list[Task]:
    """The ``missing`` tasks and the dependencies they need computed first (those not
    stored, at any depth), each once: what computing them costs."""
    found: dict[str, Task] = {}

    def visit(task: Task) -> None:
        if task.key not in found:
            found[task.key] = task
            for dep in task.deps:
                if dep.key not in found and not results.has(dep):
                    visit(dep)
    for task in missing:
        visit(task)
    return list(found.values())


class StepState(NamedTuple):
    """A step's state: units stored, FLOPs left, the tasks missing, the damaged files."""

    n_done: int
    flop: float
    missing: list[Task]
    damaged: list[str]


# ------------------------------------------------------------------------------ cost model
#: The cost model lives in rc.cost; these names are kept here for the scripts and tests.
train_flop = cost.train_flop
estimated_epochs = cost.estimated_epochs
DEFAULT_EPOCHS = cost.DEFAULT_EPOCHS


def project(results: Results, tflops: float, step_overhead: float,
            grouping: str = "architecture") -> dict[str, float]:
    """Projected seconds of the training still to do, per search step of the plan
    (:func:`rc.cost.population_seconds`: every population epoch by epoch, each run
    training for the epochs of a run of the measurement, a group's step at least
    ``step_overhead`` seconds). RC, data and validation overheads are not modelled."""
    from .training import population_groups

    out = {}
    for step in plan(results):
        if step.runs is None:
            continue
        dataset, table, study = step.runs
        specs = [e.training for e in results.run_specs(dataset, table, study)]
        groups = population_groups([s.member() for s in specs], grouping=grouping)
        out[step.name] = cost.population_seconds(
            specs, groups, cost.measured_epochs(dataset, table, study), tflops, step_overhead)
    return out


# ------------------------------------------------------------------------------ the plan
def tables_declared(results: Results) -> bool:
    """Whether the table DAEs' specifications are known: always, except in a profile
    whose tables come from its searches, until every run of them is stored."""
    if not results.profile.tables_from_search:
        return True
    return all(results.search_complete(d, table) for table in TABLES
               for d in results.profile.datasets if published.in_table(d, table))


def _runs_step(results: Results, dataset: str, table: int, study: str) -> Step:
    name = (f"search, Table {table}, {dataset}" if study == "search"
            else f"loss-vs-score study, {dataset}")
    return Step(name, results.run_tasks(dataset, table, study),
                lambda: results.runs(dataset, table, study), runs=(dataset, table, study))


def _paper_configs(results: Results) -> Results:
    """A pipeline on the same results with the paper's configurations for the tables, for
    estimates that must not wait for (or start) a search."""
    return Results(results.profile.replace(tables_from_search=False), may_compute=False,
                   progress=False, root=results.cache.root.parent)


def _table_step(results: Results, dataset: str, table: int, declared: bool) -> Step:
    def dae():
        return results.table_dae(dataset, table)
    name = f"DAE of Table {table}, {dataset}"
    if declared:
        return Step(name, [results.training_task(results.table_spec(dataset, table))], dae)
    est = _paper_configs(results)  # the search is not done: estimate from the paper's
    return Step(name, None, dae,
                estimate=est.training_task(est.table_spec(dataset, table)).flop)


def _element_step(results: Results, name: str, module, declared: bool,
                  estimate: float = cost.RC_FLOP) -> Step:
    """The step of an element (a module with ``tasks(results)`` and ``compute(results)``)."""
    return Step(name, module.tasks(results) if declared else None,
                lambda: module.compute(results), estimate=estimate)


class _Animations:
    """The recorded runs of the book's animations (:mod:`rc.animation`), every data set,
    and their GIFs (drawn once, so that a book rendered from stored results loads them)."""

    @staticmethod
    def tasks(results: Results) -> list[Task]:
        from . import animation
        return animation.tasks(results)

    @staticmethod
    def compute(results: Results) -> list:
        from . import animation
        movies = [animation.compute(results, d) for d in results.profile.datasets]
        return [animation.stored_gif(results, m) for m in movies]


#: The analyses beyond the paper: their steps' names, by module of rc.beyond.
BEYOND_STEPS = {"choose_k": "choosing K", "robustness": "robustness: spreads and selection",
                "grey": "grey levels", "conv": "convolutional DAE",
                "rc_training": "RC inside DAE training",
                "mnist_shape": "MNIST+Shape on the authors' images"}


def _trainings(tasks: list[Task]) -> list[Task]:
    """The trainings among ``tasks`` (values that are trained networks)."""
    return [t for t in tasks if issubclass(t.value_type, TrainedDAE)]


def beyond_flop(results: Results) -> dict[str, float]:
    """Estimated training FLOPs still to do of each step beyond the paper
    (:mod:`rc.beyond`), with the epochs of the measurement for the matching table DAE and
    the paper's configurations (an estimate must not wait for a search): its own
    networks, not the table DAEs (their steps') nor RC."""
    import importlib

    est = _paper_configs(results)
    tables = {est.training_task(est.table_spec(d, table)).key  # their own steps' cost
              for table in TABLES for d in est.profile.datasets
              if published.in_table(d, table)}
    out = {}
    for module_name, name in BEYOND_STEPS.items():
        module = importlib.import_module(f".beyond.{module_name}", __package__)
        missing = [t for t in module.tasks(est) if not est.has(t)]
        out[name] = sum(t.flop for t in _trainings(_with_missing_deps(est, missing))
                        if t.key not in tables)
    return out


def plan(results: Results) -> list[Step]:
    """Every step of the protocol of the profile of ``results``, in the order they run."""
    import importlib

    from . import paper, scorecard

    datasets = list(results.profile.datasets)
    steps = []
    planned = set()  # (table, study) of the searches and studies with runs
    for table, study in ((1, "search"), (2, "search"), (1, "loss")):
        for d in datasets:
            if published.in_table(d, table) and results.run_names(d, table, study):
                steps.append(_runs_step(results, d, table, study))
                planned.add((table, study))
    declared = tables_declared(results)
    steps += [_table_step(results, d, table, declared) for table in TABLES for d in datasets
              if published.in_table(d, table)]
    for element in paper.ELEMENTS:
        if element in paper.NEEDS_SEARCH and paper.NEEDS_SEARCH[element] not in planned:
            continue
        steps.append(_element_step(results, element, paper.home(element), declared))
    steps.append(_element_step(results, "RC animations", _Animations, declared))
    training = beyond_flop(results) if not declared else {}
    for module_name, name in BEYOND_STEPS.items():
        if module_name not in results.profile.beyond:
            continue
        module = importlib.import_module(f".beyond.{module_name}", __package__)
        steps.append(_element_step(results, name, module, declared,
                                   cost.RC_FLOP + training.get(name, 0.0)))
    steps.append(Step("scorecard", [], lambda: scorecard.build(results),
                      current=lambda: _scorecard_current(results)))
    seen: set[str] = set()
    for step in steps:  # a task counts in the cost of the first step that needs it
        keys = {t.key for t in _closure(step.tasks or [])}
        step.owned = frozenset(keys - seen)
        seen |= keys
    return steps


def _scorecard_current(results: Results) -> bool:
    """Whether ``scorecard.json`` reads back (its digest matches) and holds the profile
    and claims that the stored results give now (:func:`rc.scorecard.collect_if_stored`,
    with a :class:`~rc.Results` on the same folder that never computes: None where an element with
    claims is not stored yet, and the steps before tell what is missing). One that is
    stored but not current is noted, with why, in ``results.cache.damaged``."""
    from . import scorecard

    card = results.cache.root / "scorecard.json"
    if not card.exists():
        return False
    try:
        stored = read_checked_json(card)
    except (OSError, ValueError) as exc:
        results.cache.damaged[card] = f"cannot be used ({exc})"
        return False
    reader = Results(results.profile, may_compute=False, device=results.device, progress=False,
                     root=results.cache.root.parent)
    fresh = scorecard.collect_if_stored(reader)
    results.cache.damaged.update(reader.cache.damaged)  # the files it met that are damaged
    if fresh is None:
        return False
    changed = scorecard.changes(stored, fresh)
    if changed:
        results.cache.damaged[card] = (f"differs from what the stored results give "
                                    f"({'; '.join(changed[:3])}"
                                    f"{'; ...' if len(changed) > 3 else ''})")
    return not changed


def status(results: Results) -> list[tuple[str, int, int, float]]:
    """(step, units done, units, estimated FLOPs left) for every step of the plan; each
    stored file that cannot be used is named in a :class:`~rc.cache.CacheWarning`."""
    rows, named = [], set()
    for step in plan(results):
        state = step.check(results)
        for note in _unnamed(state.damaged, named):
            warnings.warn(f"damaged ({step.name}): {note}; the protocol computes it again",
                          CacheWarning, stacklevel=2)
        rows.append((step.name, state.n_done, step.units, state.flop))
    return rows


def _unnamed(notes: list[str], named: set[str]) -> list[str]:
    """The ``notes`` not in ``named`` (a file met by several steps is named once), which
    are added to it."""
    fresh = [n for n in notes if n not in named]
    named.update(fresh)
    return fresh


def unfinished_trainings(results: Results) -> list[tuple[str, dict | None]]:
    """The trainings that a stopped run left a checkpoint of (the next run resumes them):
    (entry, :func:`rc.training.checkpoint_progress` or None if the file is unreadable)."""
    found = []
    for path in sorted(results.cache.root.rglob(".*.checkpoint")):
        name = path.name.removeprefix(".").removesuffix(".checkpoint")
        entry = str(path.relative_to(results.cache.root).with_name(name))
        try:
            found.append((entry, checkpoint_progress(path)))
        except CorruptFileError:
            found.append((entry, None))
    return found


# ------------------------------------------------------------------------------ running
#: The parts of a record written before records had digests (with rc.storage.provenance's).
_LEGACY_KEYS = {"sessions", "profile", "protocol_wall_seconds", "units_done", "units_total",
                "complete", "device", "device_name", "python", "torch", "numpy", "scipy",
                "sklearn", "git_commit", "host", "created", "tf32", "seed"}


def _read_record(path: Path) -> dict:
    """The record in ``path`` ({"sessions": []} if there is none); a corrupt one is renamed
    aside with a warning and a fresh record naming it is returned."""
    if not path.exists():
        return {"sessions": []}
    try:
        record = read_checked_json(path, require_digest=False)  # older records: no digest
        if "digest" not in read_json(path) and set(record) - _LEGACY_KEYS:
            raise ValueError(f"it has no digest and unknown parts "
                             f"{sorted(set(record) - _LEGACY_KEYS)}")
        sessions = record["sessions"]
        if not isinstance(sessions, list) or not all(
                isinstance(s, dict) and isinstance(s.get("chunks"), list)
                and all(isinstance(c, dict) and isinstance(c.get("seconds"), (int, float))
                        for c in s["chunks"]) for s in sessions):
            raise ValueError("its sessions are not a list of sessions with timed chunks")
        return record
    except (OSError, ValueError, KeyError, TypeError) as exc:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = path.with_name(f"{path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        os.replace(path, aside)
        warnings.warn(f"the protocol's record {path} could not be used ({exc}); it was "
                      f"kept as {aside.name} and a new record is started", CacheWarning,
                      stacklevel=3)
        return {"sessions": [], "set_aside": [aside.name]}


def _record(results: Results, session: dict, info: dict, done: list[int],
            steps: list[Step]) -> dict:
    """Write this session's state into ``provenance.json`` of the profile (replacing its
    earlier state there, keeping every other session) and return the whole record."""
    path = results.cache.root / "provenance.json"
    with locked(path):  # concurrent runs on one folder take turns
        record = _read_record(path)
        record["sessions"] = [s for s in record["sessions"]
                              if s.get("id", s.get("started")) != session["id"]] + [session]
        record.update(info)
        record["profile"] = results.profile.to_dict()
        record["protocol_wall_seconds"] = round(sum(c["seconds"] for s in record["sessions"]
                                                    for c in s["chunks"]), 2)
        record["units_done"], record["units_total"] = sum(done), sum(s.units for s in steps)
        record["steps_done"] = sum(d == s.units for d, s in zip(done, steps))
        record["steps_total"] = len(steps)
        record["complete"] = record["steps_done"] == len(steps)
        write_checked_json(path, record)
    return record


def _checked_budget(budget_seconds: float | None) -> float | None:
    """None, or a finite number of seconds over :data:`MARGIN` (ValueError otherwise)."""
    if budget_seconds is None:
        return None
    budget_seconds = check_number(budget_seconds, "budget_seconds", positive=True)
    if budget_seconds <= MARGIN:
        raise ValueError(f"budget_seconds must be more than the {MARGIN:g} s kept back "
                         f"for writing the record; got {budget_seconds:g}")
    return budget_seconds


def _new_session(results: Results, budget_seconds: float | None) -> dict:
    """The record of a session of :func:`run` as it starts (a unique id, no steps yet)."""
    return {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "id": f"{time.time():.6f}-{os.getpid()}-{uuid.uuid4().hex[:8]}",
            "device": str(results.device), "budget_seconds": budget_seconds,
            "finished": False, "chunks": []}


class _Progress:
    """The run's progress bar: steps done of all, the projected time left (FLOPs left at
    the measured rate) and how many entries were computed."""

    def __init__(self, results: Results, steps: list[Step], done: list[int],
                 remaining: list[float], progress: bool):
        self.remaining, self.computed, self.ceiling = remaining, 0, sum(done)
        self.rate = DEFAULT_RATE.get(results.device.type, DEFAULT_RATE["cpu"])
        self.bar = tqdm(total=sum(s.units for s in steps), initial=sum(done), unit="result",
                        disable=not progress, desc=f"protocol ({results.profile.name})")
        self.bar.set_postfix_str(self.projection())

    def projection(self) -> str:
        return (f"{sum(self.remaining) / self.rate / 60:.1f} min left (projected); "
                f"{self.computed} entries computed")

    def entry_computed(self, name: str) -> None:
        """A step's results advance the bar (a search's runs); the entries a step
        computes beyond its units (an element's many evaluations) only the count."""
        self.computed += 1
        if self.bar.n < self.ceiling:
            self.bar.update(1)
        self.bar.set_postfix_str(self.projection())

    def step_started(self, done: list[int], i: int, units: int) -> None:
        self.ceiling = sum(done) + units - done[i]

    def step_ended(self, done: list[int], worked: float, seconds: float) -> None:
        """The bar at the steps done; the rate updated by the FLOPs a step did."""
        self.bar.n = sum(done)
        self.bar.refresh()
        if worked > 0 and seconds > 1:
            self.rate = 0.5 * self.rate + 0.5 * worked / seconds
        self.bar.set_postfix_str(self.projection())


def _first_check(results: Results, steps: list[Step], log: Callable[[str], None]
                 ) -> tuple[list[int], list[float]]:
    """(units done, FLOPs left) of every step, each damaged file logged (once) before
    anything is computed."""
    states, named = [], set()
    for step in steps:
        states.append(step.check(results))
        for note in _unnamed(states[-1].damaged, named):
            log(f"damaged ({step.name}): {note}; it is computed again")
    return [s.n_done for s in states], [s.flop for s in states]


def _compute(results: Results, step: Step, cluster) -> str | None:
    """Compute what is missing of ``step`` (its tasks with work on the ``cluster``'s
    workers first, where there is one); returns why it stopped early (the budget), or
    None."""
    try:
        if cluster is not None:
            cluster.compute(results, step)
        step.compute()
    except DeadlineReached as exc:
        return f"budget reached during '{step.name}' ({exc})"
    return None


def run(results: Results, budget_seconds: float | None = None, progress: bool = True,
        log: Callable[[str], None] = print, cluster=None) -> dict:
    """Run what is missing of the protocol, in order, within ``budget_seconds`` (None:
    no limit; else a finite number of seconds over :data:`MARGIN`, ValueError otherwise).

    ``cluster`` (a :class:`rc.cluster.Cluster`, or None to compute everything in this
    process): the workers compute each step's missing tasks that have work of their own,
    this process stores them, then computes the rest of the step (an element's own
    entries) from what is stored.

    Returns the updated record of ``provenance.json`` (see the module doc), which is also
    written when the session starts and after every step.
    """
    budget_seconds = _checked_budget(budget_seconds)
    start = time.monotonic()
    results.deadline = None if budget_seconds is None else start + budget_seconds - MARGIN
    for stray in remove_stale_temporaries(results.cache.root):
        log(f"removed {stray}, left by an interrupted write")
    steps = plan(results)
    done, remaining = _first_check(results, steps, log)
    session = _new_session(results, budget_seconds)
    info = results.provenance()
    if cluster is not None:
        info["cluster"] = cluster.describe()
    _record(results, session, info, done, steps)
    bar = _Progress(results, steps, done, remaining, progress)
    results.on_computed = bar.entry_computed
    stopped, ran = None, False
    try:
        for i in range(len(steps)):
            if ran:  # what ran may have declared or made due a later step
                if steps[i].tasks is None and tables_declared(results):
                    steps[i:] = plan(results)[i:]
                done[i] = steps[i].check(results).n_done
            step = steps[i]
            if done[i] == step.units:
                continue
            ran = True
            t0, flop0 = time.monotonic(), remaining[i]
            bar.step_started(done, i, step.units)
            chunk = {"step": step.name, "seconds": 0.0, "units_done": done[i],
                     "units": step.units, "estimated_flop": flop0}
            try:
                stopped = _compute(results, step, cluster)
            except BaseException as exc:  # interrupted or failed: record what was done
                chunk["interrupted"] = f"{type(exc).__name__}: {exc}"[:500]
                raise
            finally:
                seconds = time.monotonic() - t0
                chunk["seconds"] = round(seconds, 2)
                session["chunks"].append(chunk)
            if step.tasks is None and tables_declared(results):
                steps[i:] = plan(results)[i:]
                step = steps[i]
            state = step.check(results)
            done[i], remaining[i] = state.n_done, state.flop
            chunk["units_done"] = done[i]
            _record(results, session, info, done, steps)
            bar.step_ended(done, flop0 - remaining[i], seconds)
            log(f"{step.name}: {done[i]}/{step.units} in {seconds:.1f} s; "
                f"{sum(done)}/{bar.bar.total} results, {bar.projection()}")
            if stopped:
                break
        session["finished"] = True
        session["stopped"] = stopped
        for stray in remove_stale_temporaries(results.cache.root):  # older than the run
            log(f"removed {stray}, left by an interrupted write")
    finally:
        bar.bar.close()
        results.deadline = None
        results.on_computed = None
        record = _record(results, session, info, done, steps)
    log(stopped or ("protocol complete" if record["complete"] else "protocol incomplete"))
    return record
