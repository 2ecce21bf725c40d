"""The whole protocol of a profile as a resumable plan, run within a time budget.

``make paper`` (``scripts/paper.py``) runs :func:`run` for the ``paper`` profile: the
random searches with single-object training (Table 1, Figure 8), with multi-object
training (Table 2, Figure 9) and the loss-vs-score study (Figure 6a), then the DAEs of
both tables, then every element of the paper (their RC evaluations and example runs),
the recorded runs of the RC animations and the scorecard. Each step is a list of cached
computations (:class:`rc.Pipeline`), so everything finished is stored at once and a later
run resumes where this one stopped.

The budget is enforced with the pipeline's deadline: no computation starts after it, and
a training in progress stops at the end of the epoch in which it passes (a search keeps
its finished runs). Progress shows runs and results done out of the total, and the time
left projected from a cost model: the multiply-adds of every training, with the epoch
counts that early stopping gave in a measurement (``rc/epoch_counts.json``, written by
``benchmarks/epoch_counts.py``), divided by the FLOP rate measured so far.

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

import numpy as np
from tqdm import tqdm

from . import published
from ._checks import check_number
from .cache import Cache, CacheWarning, MissingResultError
from .config import dae_image_flop
from .datasets import dataset_info
from .pipeline import TABLES, Pipeline, SearchRun
from .specs import TrainSpec
from .storage import (
    CorruptFileError,
    locked,
    read_checked_json,
    read_json,
    remove_stale_temporaries,
    write_checked_json,
)
from .training import DeadlineReached, checkpoint_progress, train_split

__all__ = ["Step", "beyond_flop", "estimated_epochs", "plan", "project", "run", "status",
           "train_flop"]

#: Epochs assumed per training where no measurement applies.
DEFAULT_EPOCHS = 100
#: FLOP rates assumed before any training has been timed (FLOP/s).
DEFAULT_RATE = {"cpu": 5e10, "cuda": 5e13}
#: Seconds kept back at the end of a budget for writing the record.
MARGIN = 5.0
_COUNTS = Path(__file__).with_name("epoch_counts.json")


@dataclass
class Step:
    """One step of the plan: ``units`` results (search runs, a DAE, a figure's data)."""

    name: str
    units: int
    done: Callable[[], int]       # units stored already
    flop: Callable[[], float]     # estimated FLOPs still to do
    run: Callable[[], object]     # compute what is missing (under pipe.deadline)
    cache: Cache | None = None    # where done() reads (it notes the damaged files met)

    def check(self) -> tuple[int, list[str]]:
        """(units stored, the stored files met that cannot be used, each named with what
        is wrong with it): a damaged file counts as not stored, but is named."""
        if self.cache is None:
            return self.done(), []
        self.cache.damaged.clear()
        done = self.done()
        return done, [f"{path} {problem}" for path, problem in self.cache.damaged.items()]


# ------------------------------------------------------------------------------ cost model
def _count_rows() -> list[dict]:
    """The rows of the epoch-count measurement, ``rc/epoch_counts.json`` (package data,
    installed with rc). A missing or unreadable file is an error: the cost model never
    silently falls back to :data:`DEFAULT_EPOCHS` for every training."""
    try:
        return read_json(_COUNTS)["rows"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(
            f"the cost model's epoch counts cannot be read from {_COUNTS} ({exc}); they "
            f"are package data of rc: reinstall rc, or measure them again with "
            f"`python benchmarks/epoch_counts.py --write`") from None


def estimated_epochs(dataset: str, table: int, kind: str) -> float:
    """Mean epochs early stopping gave in the measurement (largest size measured);
    :data:`DEFAULT_EPOCHS` where nothing was measured for the data set and table."""
    rows = _count_rows()
    match = [r for r in rows if (r["dataset"], r["table"], r["kind"]) == (dataset, table, kind)]
    if not match:
        return DEFAULT_EPOCHS
    largest = max(match, key=lambda r: r["n_images"])
    return float(np.mean(largest["epochs"]))


def train_flop(spec: TrainSpec, epochs: float) -> float:
    """FLOPs of a training of ``epochs`` epochs (capped by the spec's ``max_epochs``):
    per training image :func:`rc.config.dae_image_flop` (10·D·H), per validation image
    the forward pass (4·D·H)."""
    info = dataset_info(spec.data.dataset)
    image_flop = dae_image_flop(info.shape[0] * info.shape[1], spec.config.n_hidden)
    return _training_flop(image_flop, spec.data.n, min(epochs, spec.max_epochs),
                          spec.val_fraction)


def _training_flop(image_flop: float, n_images: int, epochs: float,
                   val_fraction: float = 0.1) -> float:
    """FLOPs of ``epochs`` epochs on ``n_images``: the training part at ``image_flop`` per
    image, the validation part at the forward pass's share of it (4 of 10)."""
    n_train = train_split(n_images, val_fraction)
    return epochs * image_flop * (n_train + 0.4 * (n_images - n_train))


def _measured_epochs(dataset: str, table: int, kind: str) -> list[int]:
    """Every run's epochs in the measurement (largest size), or [DEFAULT_EPOCHS]."""
    rows = _count_rows()
    match = [r for r in rows if (r["dataset"], r["table"], r["kind"]) == (dataset, table, kind)]
    return max(match, key=lambda r: r["n_images"])["epochs"] if match else [DEFAULT_EPOCHS]


def project(pipe: Pipeline, tflops: float, step_overhead: float,
            grouping: str = "architecture") -> dict[str, float]:
    """Projected seconds of the training still to do, per step of the plan.

    Simulates every population epoch by epoch: each member trains for the epochs of a run
    of the measurement (run i of a search gets the i-th measured count, cyclically), a
    group's minibatch step takes the longer of ``step_overhead`` seconds (launching its
    kernels) and its FLOPs (padding included) at ``tflops`` TFLOP/s, and members leave
    their group when they stop. RC, data and validation overheads are not modelled.
    """
    from .training import population_groups

    out = {}
    for step in plan(pipe):
        if not step.name.startswith(("search", "loss")):
            continue
        kind = "search" if step.name.startswith("search") else "loss"
        table = 2 if "Table 2" in step.name else 1
        dataset = step.name.rsplit(", ", 1)[1]
        specs = [e.training for e in pipe.run_specs(dataset, table, kind)]
        measured = _measured_epochs(dataset, table, kind)
        info = dataset_info(dataset)
        d = info.shape[0] * info.shape[1]
        n_train = train_split(specs[0].data.n, specs[0].val_fraction)
        steps_per_epoch = -(-n_train // specs[0].batch_size)
        members = [s.member() for s in specs]
        seconds = 0.0
        for group in population_groups(members, grouping=grouping):
            epochs = np.array([min(measured[i % len(measured)], specs[i].max_epochs)
                               for i in group])
            width = max(specs[i].config.n_hidden for i in group)
            for e in range(1, int(epochs.max()) + 1):
                active = int((epochs >= e).sum())
                flop = 10.0 * d * width * n_train * active
                seconds += max(steps_per_epoch * step_overhead, flop / (tflops * 1e12))
        out[step.name] = seconds
    return out


# ------------------------------------------------------------------------------ the plan
def _probe(pipe: Pipeline) -> Pipeline:
    """A pipeline on the same results that may not compute (to ask what is stored)."""
    return Pipeline(pipe.profile, compute=False, device=pipe.device, progress=False,
                    root=pipe.cache.root.parent)


def _stored(probe: Pipeline, compute: Callable[[Pipeline], object]) -> bool:
    try:
        compute(probe)
    except MissingResultError:
        return False
    return True


def _runs_step(pipe: Pipeline, probe: Pipeline, dataset: str, table: int, kind: str) -> Step:
    specs = pipe.run_specs(dataset, table, kind)
    names = pipe.run_names(dataset, table, kind)
    inputs = pipe.run_inputs(dataset, table, kind)
    epochs = estimated_epochs(dataset, table, kind)

    def missing() -> list[int]:
        return [i for i, (n, inp) in enumerate(zip(names, inputs))
                if not probe.cache.has(n, inp, SearchRun)]

    what = "search" if kind == "search" else "loss-vs-score study"
    return Step(f"{what}, Table {table}, {dataset}" if kind == "search"
                else f"{what}, {dataset}", len(specs),
                lambda: len(specs) - len(missing()),
                lambda: sum(train_flop(specs[i].training, epochs) for i in missing()),
                lambda: pipe.runs(dataset, table, kind), probe.cache)


def _table_step(pipe: Pipeline, probe: Pipeline, dataset: str, table: int) -> Step:
    def flop() -> float:
        if _stored(probe, lambda p: p.table_dae(dataset, table)):
            return 0.0
        try:
            spec = probe.table_spec(dataset, table)
        except MissingResultError:  # the search is not done: estimate from the paper's
            spec = Pipeline(pipe.profile.replace(tables_from_search=False), compute=False,
                            progress=False, root=probe.cache.root.parent).table_spec(
                dataset, table)
        return train_flop(spec, estimated_epochs(dataset, table, "search"))

    return Step(f"DAE of Table {table}, {dataset}", 1,
                lambda: int(_stored(probe, lambda p: p.table_dae(dataset, table))), flop,
                lambda: pipe.table_dae(dataset, table), probe.cache)


def beyond_flop(pipe: Pipeline) -> dict[str, float]:
    """Estimated training FLOPs of each step beyond the paper (:mod:`rc.beyond`), with the
    epochs of the measurement for the matching table DAE (RC itself, about 1 TFLOP a step,
    is not counted): the spreads' trainings not stored yet, the other steps' in all."""
    from .beyond import conv, grey, rc_training, robustness

    # the paper's configurations: an estimate must not wait for (or start) a search
    est = Pipeline(pipe.profile.replace(tables_from_search=False), compute=False,
                   progress=False, root=pipe.cache.root.parent)
    p, datasets = est.profile, list(est.profile.datasets)
    spread = sum(train_flop(s, estimated_epochs(d, table, "search"))
                 for table in p.spread_tables for d in datasets
                 if published.in_table(d, table)
                 for s in robustness.seed_specs(est, d, table)[1:] if not est.is_stored(s))
    grey_flop = sum(train_flop(grey.train_spec(est, g), estimated_epochs(b, 1, "search"))
                    for g, b in grey.PAIRS.items() if b in datasets)
    conv_total = 0.0
    for d in (d for d in conv.DATASETS if d in datasets):
        inputs = conv._inputs(est, d)
        conv_total += _training_flop(conv.conv_flop(dataset_info(d).shape), inputs["data"]["n"],
                                     min(inputs["max_epochs"], estimated_epochs(d, 1, "search")))
    unrolled = 0.0
    for d in (d for d in p.rc_training_datasets if d in datasets):
        for variant in rc_training.VARIANTS:
            inputs, data = rc_training._training(est, d, variant)
            unrolled += _training_flop(
                rc_training.image_flop(d, inputs["config"]["n_hidden"]), data.n,
                min(inputs["max_epochs"], estimated_epochs(d, 2, "search")))
    authors = (sum(train_flop(s, estimated_epochs("mnist_shape", 1, "search"))
                   for s in robustness.seed_specs(est, "mnist_shape", 1))
               if "mnist_shape" in datasets else 0.0)
    return {"robustness: spreads and selection": spread, "grey levels": grey_flop,
            "convolutional DAE": conv_total, "RC inside DAE training": unrolled,
            "MNIST+Shape on the authors' images": authors}


def _compute_step(pipe: Pipeline, probe: Pipeline, name: str,
                  compute: Callable[[Pipeline], object], flop: float = 1e12) -> Step:
    return Step(name, 1, lambda: int(_stored(probe, compute)),
                lambda: 0.0 if _stored(probe, compute) else flop, lambda: compute(pipe),
                probe.cache)


def _animations(pipe: Pipeline) -> list:
    """The recorded RC runs of the book's animations (:mod:`rc.animation`), every data set."""
    from . import animation

    return [animation.compute(pipe, d) for d in pipe.profile.datasets]


def plan(pipe: Pipeline) -> list[Step]:
    """Every step of the protocol of ``pipe``'s profile, in the order they run."""
    from . import paper, scorecard

    probe = _probe(pipe)
    datasets = list(pipe.profile.datasets)
    steps = []
    planned = set()  # (table, kind) of the searches and studies with runs
    for table, kind in ((1, "search"), (2, "search"), (1, "loss")):
        for d in datasets:
            if published.in_table(d, table) and pipe.run_names(d, table, kind):
                steps.append(_runs_step(pipe, probe, d, table, kind))
                planned.add((table, kind))
    steps += [_table_step(pipe, probe, d, table) for table in TABLES for d in datasets
              if published.in_table(d, table)]
    for element in paper.ELEMENTS:
        if element in paper.NEEDS_SEARCH and paper.NEEDS_SEARCH[element] not in planned:
            continue
        module = paper.home(element)
        steps.append(_compute_step(pipe, probe, element, module.compute))
    steps.append(_compute_step(pipe, probe, "RC animations", _animations))
    from .beyond import choose_k, conv, grey, mnist_shape, rc_training, robustness

    training = beyond_flop(pipe)
    for name, module in (("choosing K", choose_k),
                         ("robustness: spreads and selection", robustness),
                         ("grey levels", grey), ("convolutional DAE", conv),
                         ("RC inside DAE training", rc_training),
                         ("MNIST+Shape on the authors' images", mnist_shape)):
        if module.__name__.rsplit(".", 1)[1] not in pipe.profile.beyond:
            continue
        steps.append(_compute_step(pipe, probe, name, module.compute,
                                   1e12 + training.get(name, 0.0)))
    steps.append(Step("scorecard", 1, lambda: int(_scorecard_current(pipe, probe)),
                      lambda: 0.0, lambda: scorecard.build(pipe), probe.cache))
    return steps


def _scorecard_current(pipe: Pipeline, probe: Pipeline | None = None) -> bool:
    """Whether ``scorecard.json`` reads back (its digest matches) and holds the profile
    and claims that the stored results give now (collected by ``probe``, which never
    computes). One that is stored but not current is noted, with why, in the probe's
    ``cache.damaged``; where the results are not all stored it is not current, and the
    steps before it tell what is missing."""
    from . import scorecard

    probe = probe or _probe(pipe)
    card = pipe.cache.root / "scorecard.json"
    if not card.exists():
        return False
    try:
        stored = read_checked_json(card)
    except (OSError, ValueError) as exc:
        probe.cache.damaged[card] = f"cannot be used ({exc})"
        return False
    fresh = scorecard.collect_stored(probe)
    if fresh is None:
        return False
    changed = scorecard.changes(stored, fresh)
    if changed:
        probe.cache.damaged[card] = (f"differs from what the stored results give "
                                     f"({'; '.join(changed[:3])}"
                                     f"{'; ...' if len(changed) > 3 else ''})")
    return not changed


def status(pipe: Pipeline) -> list[tuple[str, int, int, float]]:
    """(step, units done, units, estimated FLOPs left) for every step of the plan; each
    stored file that cannot be used is named in a :class:`~rc.cache.CacheWarning`."""
    rows, named = [], set()
    for step in plan(pipe):
        done, damaged = step.check()
        for note in _unnamed(damaged, named):
            warnings.warn(f"damaged ({step.name}): {note}; the protocol computes it again",
                          CacheWarning, stacklevel=2)
        rows.append((step.name, done, step.units, 0.0 if done == step.units else step.flop()))
    return rows


def _unnamed(notes: list[str], named: set[str]) -> list[str]:
    """The ``notes`` not in ``named`` (a file met by several steps is named once), which
    are added to it."""
    fresh = [n for n in notes if n not in named]
    named.update(fresh)
    return fresh


def unfinished_trainings(pipe: Pipeline) -> list[tuple[str, dict | None]]:
    """The trainings that a stopped run left a checkpoint of (the next run resumes them):
    (entry, :func:`rc.training.checkpoint_progress` or None if the file is unreadable)."""
    found = []
    for path in sorted(pipe.cache.root.rglob(".*.checkpoint")):
        name = path.name.removeprefix(".").removesuffix(".checkpoint")
        entry = str(path.relative_to(pipe.cache.root).with_name(name))
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


def _record(pipe: Pipeline, session: dict, info: dict, done: list[int],
            steps: list[Step]) -> dict:
    """Write this session's state into ``provenance.json`` of the profile (replacing its
    earlier state there, keeping every other session) and return the whole record."""
    path = pipe.cache.root / "provenance.json"
    with locked(path):  # concurrent runs on one folder take turns
        record = _read_record(path)
        record["sessions"] = [s for s in record["sessions"]
                              if s.get("id", s.get("started")) != session["id"]] + [session]
        record.update(info)
        record["profile"] = pipe.profile.to_dict()
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


def _new_session(pipe: Pipeline, budget_seconds: float | None) -> dict:
    """The record of a session of :func:`run` as it starts (a unique id, no steps yet)."""
    return {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "id": f"{time.time():.6f}-{os.getpid()}-{uuid.uuid4().hex[:8]}",
            "device": str(pipe.device), "budget_seconds": budget_seconds,
            "finished": False, "chunks": []}


class _Progress:
    """The run's progress bar: steps done of all, the projected time left (FLOPs left at
    the measured rate) and how many entries were computed."""

    def __init__(self, pipe: Pipeline, steps: list[Step], done: list[int],
                 remaining: list[float], progress: bool):
        self.remaining, self.computed, self.ceiling = remaining, 0, sum(done)
        self.rate = DEFAULT_RATE.get(pipe.device.type, DEFAULT_RATE["cpu"])
        self.bar = tqdm(total=sum(s.units for s in steps), initial=sum(done), unit="result",
                        disable=not progress, desc=f"protocol ({pipe.profile.name})")
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


def run(pipe: Pipeline, budget_seconds: float | None = None, progress: bool = True,
        log: Callable[[str], None] = print) -> dict:
    """Run what is missing of the protocol, in order, within ``budget_seconds`` (None:
    no limit; else a finite number of seconds over :data:`MARGIN`, ValueError otherwise).

    Returns the updated record of ``provenance.json`` (see the module doc), which is also
    written when the session starts and after every step.
    """
    budget_seconds = _checked_budget(budget_seconds)
    start = time.monotonic()
    pipe.deadline = None if budget_seconds is None else start + budget_seconds - MARGIN
    for stray in remove_stale_temporaries(pipe.cache.root):
        log(f"removed {stray}, left by an interrupted write")
    steps = plan(pipe)
    done, named = [], set()
    for step in steps:  # damaged files are named before anything is computed
        units, damaged = step.check()
        done.append(units)
        for note in _unnamed(damaged, named):
            log(f"damaged ({step.name}): {note}; it is computed again")
    remaining = [0.0 if d == s.units else s.flop() for s, d in zip(steps, done)]
    session = _new_session(pipe, budget_seconds)
    info = pipe.provenance()
    _record(pipe, session, info, done, steps)
    bar = _Progress(pipe, steps, done, remaining, progress)
    pipe.on_computed = bar.entry_computed
    stopped, ran = None, False
    try:
        for i, step in enumerate(steps):
            if ran:  # what ran may have made a later step due (the scorecard, built last)
                done[i] = step.done()
            if done[i] == step.units:
                continue
            ran = True
            t0, flop0 = time.monotonic(), remaining[i]
            bar.step_started(done, i, step.units)
            chunk = {"step": step.name, "seconds": 0.0, "units_done": done[i],
                     "units": step.units, "estimated_flop": flop0}
            try:
                step.run()
            except DeadlineReached as exc:
                stopped = f"budget reached during '{step.name}' ({exc})"
            except BaseException as exc:  # interrupted or failed: record what was done
                chunk["interrupted"] = f"{type(exc).__name__}: {exc}"[:500]
                raise
            finally:
                seconds = time.monotonic() - t0
                chunk["seconds"] = round(seconds, 2)
                session["chunks"].append(chunk)
            done[i], remaining[i] = step.done(), step.flop()
            chunk["units_done"] = done[i]
            _record(pipe, session, info, done, steps)
            bar.step_ended(done, flop0 - remaining[i], seconds)
            log(f"{step.name}: {done[i]}/{step.units} in {seconds:.1f} s; "
                f"{sum(done)}/{bar.bar.total} results, {bar.projection()}")
            if stopped:
                break
        session["finished"] = True
        session["stopped"] = stopped
        for stray in remove_stale_temporaries(pipe.cache.root):  # older than the run
            log(f"removed {stray}, left by an interrupted write")
    finally:
        bar.bar.close()
        pipe.deadline = None
        pipe.on_computed = None
        record = _record(pipe, session, info, done, steps)
    log(stopped or ("protocol complete" if record["complete"] else "protocol incomplete"))
    return record
