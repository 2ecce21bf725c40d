"""A task: one cached computation of the protocol, declared before anything runs.

A :class:`Task` names a cache entry (``name``), everything that determines its value
(``inputs``: the key, :func:`rc.cache.cache_key`, the one way a key is built), the type
of its value (``value_type``), what it costs (``flop``, from the one cost model
:mod:`rc.cost`), the tasks whose values it needs (``deps``) and how to compute it
(``work``). Trainings, RC evaluations, final scores and the runs of the searches and the
loss-vs-score study are tasks with ``work`` (:mod:`rc.pipeline` declares them); the
entries that an element of the book computes for itself (an animation's recorded run,
the convolutional DAEs, ...) are declared by their modules, and without ``work`` they are
computed by the element, in the process that owns the results, once their ``deps`` are
stored.

``work(context, *dep_values)`` is a plain function of its arguments (a module-level
function, or a :func:`functools.partial` of one), so that a Dask worker can run it
without the results folder: :class:`WorkContext` carries what it needs besides the
values of its dependencies (device, deadline, the provenance fields of the profile).

An executor answers :meth:`has` and :meth:`get` for a task (:class:`rc.Results` does,
for one profile's results folder).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache import cache_key
from .storage import provenance

__all__ = ["Task", "WorkContext"]


@dataclass(frozen=True, eq=False)
class Task:
    """One cached computation (see the module doc). Two tasks are equal when their
    entries are (same name and key)."""

    name: str
    inputs: dict
    value_type: type = dict
    flop: float = 0.0
    deps: tuple[Task, ...] = ()
    work: Callable[..., Any] | None = field(default=None, repr=False)
    describe: str = ""
    gpu: bool = True   # heavy work: on a Dask cluster, given to workers with a GPU resource

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a task's name must be a non-empty string; got {self.name!r}")
        if not isinstance(self.inputs, dict):
            raise ValueError(f"the inputs of task {self.name!r} must be a dict; got "
                             f"{type(self.inputs).__name__}")
        if not isinstance(self.value_type, type):
            raise ValueError(f"the value type of task {self.name!r} must be a type; got "
                             f"{self.value_type!r}")
        if not all(isinstance(d, Task) for d in self.deps):
            raise ValueError(f"the dependencies of task {self.name!r} must be tasks")
        object.__setattr__(self, "deps", tuple(self.deps))
        object.__setattr__(self, "flop", float(self.flop))

    @property
    def key(self) -> str:
        """The key of its cache entry: SHA-256 of its name and inputs."""
        return cache_key(self.name, self.inputs)

    @property
    def label(self) -> str:
        """How messages name it."""
        return self.describe or self.name

    def __eq__(self, other) -> bool:
        return isinstance(other, Task) and (self.name, self.key) == (other.name, other.key)

    def __hash__(self) -> int:
        return hash((self.name, self.key))

    def compute(self, context: WorkContext, *values) -> Any:
        """Its value, from the values of its ``deps`` (in order)."""
        if self.work is None:
            raise ValueError(f"task {self.name!r} has no work of its own: the element that "
                             f"declares it computes it")
        return self.work(context, *values)


@dataclass(frozen=True)
class WorkContext:
    """What a task's work needs besides the values of its dependencies.

    ``deadline`` is a wall-clock time (``time.time()``), so that it means the same in
    another process or on another machine; ``worker`` names the Dask worker that computes
    (None in the process that owns the results) and is recorded in provenance;
    ``threads`` is the number of threads of PyTorch's CPU kernels there (a reduction's
    last bits depend on it), which a worker takes on before it computes.
    """

    device: str = "cpu"
    profile: str = ""
    seed: int = 0
    cache_data: bool = True
    progress: bool = False
    deadline: float | None = None
    checkpoint: Path | None = None
    worker: str | None = None
    threads: int | None = None

    def monotonic_deadline(self) -> float | None:
        """The deadline as a ``time.monotonic()`` value of this process."""
        if self.deadline is None:
            return None
        return time.monotonic() + (self.deadline - time.time())

    def provenance(self, **extra) -> dict:
        """Provenance of a value computed here: device, profile, seed, versions, commit,
        and the worker where one computed it."""
        if self.worker is not None:
            extra["worker"] = self.worker
        return provenance(self.device, profile=self.profile, seed=self.seed, **extra)
