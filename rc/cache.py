"""The project's one cache: a result is reused only when everything that determines it is equal.

A cached computation is a pure function of explicit inputs. :class:`Cache` stores its
result under a *key*, the SHA-256 of the canonical JSON of ``{"name": name, "inputs":
inputs}``, where ``inputs`` must hold every input that determines the result: the
configuration, the data specification (with the data generator's version), seeds, sizes,
and a version number of the computation that is bumped whenever its meaning changes.
Changing any of them gives another key, hence a recomputation; equal inputs give the
same key and the stored result is loaded without computing anything.

Every entry records its name, key and inputs beside the value, and a SHA-256 digest of
the value (:func:`value_digest`). On loading, the record must match the request exactly,
the value its digest, and a dataclass value the types and shapes its class declares
(:func:`rc._checks.check_fields`: field types, array dimensions consistent across fields,
finite values where :func:`rc._checks.checked_field` asks for them). An entry that does not (a
file copied or edited by hand, a flipped bit, a string where a number belongs, an array
of the wrong shape) is never used: it is reported with a :class:`CacheWarning` naming the
file and recomputed, or, where the cache may not compute, :class:`MissingResultError`
names the file, what is wrong with it and how to recompute it. Every damaged entry a
:class:`Cache` meets is also noted in its :attr:`Cache.damaged` (file, what is wrong) until it
reads back whole, so that a damaged file is named, never taken for a missing one (the
protocol's status lists them, :mod:`rc.protocol`). Writes are atomic
(:func:`rc.storage.atomic_write`), so no reader ever sees half of an entry, and an
entry is computed under a lock (a hidden ``.<entry>.lock`` beside it while it is computed, see
:func:`rc.storage.locked`): processes that need the same missing entry at once (notebooks
run side by side, a protocol run beside the book) compute it once; the others wait and
load it.

Values are JSON documents (``value_type=dict``), dataclasses stored as JSON (``value_type`` a
dataclass without ``from_record``, e.g. :class:`rc.pipeline.SearchRun`), or objects of a
class with the ``to_record()`` / ``from_record(arrays, fields)`` pair of :class:`Record`,
stored as ``.npz`` (arrays) with a JSON part (everything else).

When the environment variable ``RC_TIME_RECORD`` names a file, every computation made
through :meth:`Cache.get_or_compute` (or timed with :func:`timed`) appends one JSON line to it: the
entry's name, value type, key, cache folder and its wall and CPU seconds, both in all and
without the computations nested in it (``scripts/run_book.py`` collects these lines from
the notebooks' kernels into the book's time record). Nothing of this enters a key.

Why not ``joblib.Memory``: it pickles results (not a format to commit to git and load with
later versions), keys on a function's source text (a comment recomputes, a change in a
called function does not) and does not check an entry's inputs when loading it.

The device a result was computed on is *not* part of the key, so that results computed on
a GPU can be reused on a CPU; it is recorded in the result's provenance instead. (RC's
random starts are drawn on the CPU, so RC results agree across devices up to float
rounding; a DAE's training draws its noise from the device's generator, so a DAE
trained on a GPU is another draw of the same training procedure.)
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ._checks import check_fields
from .storage import canonical_json, locked, read_json, read_npz, to_jsonable, write_json, write_npz

__all__ = ["Cache", "CacheWarning", "MissingResultError", "Record", "TIME_RECORD",
           "cache_key", "timed", "value_digest"]

T = TypeVar("T")


class CacheWarning(RuntimeWarning):
    """A cache entry could not be used (unreadable, or recorded for other inputs)."""


class MissingResultError(RuntimeError):
    """A result is not in the cache and this cache may not compute it."""


_canonical = canonical_json


def cache_key(name: str, inputs: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of the name and every input."""
    return hashlib.sha256(_canonical({"name": name, "inputs": inputs}).encode()).hexdigest()


def value_digest(value: Any = None, arrays: dict[str, np.ndarray] | None = None) -> str:
    """SHA-256 (hex) of a stored value: the canonical JSON of ``value`` and, for ``.npz``
    entries, every array's name, dtype, shape and bytes (in name order)."""
    h = hashlib.sha256(_canonical(value).encode())
    for name in sorted(arrays or {}):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


#: Environment variable naming the file that computations append their timings to.
TIME_RECORD = "RC_TIME_RECORD"
#: Seconds (wall, CPU) of the computations nested in each computation being timed.
_nested: list[list[float]] = []


@contextlib.contextmanager
def timed(name: str, value_type: str = "", key: str = "", root: Path | str = ""):
    """Time the computation in the ``with`` block for the run's time record.

    Only when the environment variable :data:`TIME_RECORD` names a file (and only when
    the block finishes without an exception) one JSON line is appended to it: ``name``,
    ``value_type``, ``key``, ``root``, the process, the wall and CPU seconds (``seconds``,
    ``cpu_seconds``) and the same without the timed computations nested in the block
    (``self_seconds``, ``self_cpu_seconds``). Appends of single lines are atomic, so
    several processes may share the file.
    """
    path = os.environ.get(TIME_RECORD)
    if not path:
        yield
        return
    wall, cpu = time.perf_counter(), time.process_time()
    _nested.append([0.0, 0.0])
    try:
        yield
    finally:
        inner_wall, inner_cpu = _nested.pop()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if _nested:
        _nested[-1][0] += wall
        _nested[-1][1] += cpu
    line = json.dumps({"name": name, "value_type": value_type, "key": key, "root": str(root),
                       "pid": os.getpid(), "end": round(time.time(), 3),
                       "seconds": round(wall, 3), "cpu_seconds": round(cpu, 3),
                       "self_seconds": round(wall - inner_wall, 3),
                       "self_cpu_seconds": round(cpu - inner_cpu, 3)}) + "\n"
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line)
    except OSError as exc:
        warnings.warn(f"could not append to the time record {path} ({exc})", CacheWarning,
                      stacklevel=3)


@contextlib.contextmanager
def _entry_lock(path: Path):
    """Hold the lock of the entry at ``path`` while it is computed; in a folder where no
    lock file can be made (a read-only shared data folder) compute without one."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(locked(path, remove=True))
        except OSError:
            pass
        yield


class _CorruptEntry(ValueError):
    """A stored value that does not match its digest."""


def _is_npz(value_type: type) -> bool:
    """Whether values of ``value_type`` are stored as ``.npz`` (else as JSON)."""
    return value_type is not dict and hasattr(value_type, "from_record")


class Record:
    """Mix-in for dataclass results stored as ``.npz``: array fields become arrays, the
    other fields (numbers, strings, lists, dicts with string keys) the JSON part."""

    def to_record(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays, fields = {}, {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            (arrays if isinstance(value, np.ndarray) else fields)[f.name] = value
        return arrays, fields

    @classmethod
    def from_record(cls, arrays: dict[str, np.ndarray], fields: dict):
        names = {f.name for f in dataclasses.fields(cls)}
        missing = names - set(arrays) - set(fields)
        if missing:
            raise ValueError(f"the stored {cls.__name__} lacks {sorted(missing)}")
        return cls(**{**fields, **arrays})


def _recompute_cutoff(recompute: bool, recompute_before: float | None) -> float | None:
    """The UNIX time before which stored entries are recomputed: ``recompute_before`` if
    given, else now if ``recompute``, else None (clear errors for other values)."""
    if not isinstance(recompute, (bool, np.bool_)):
        raise TypeError(f"recompute must be True or False; got {recompute!r} (a time before "
                        f"which to recompute goes to recompute_before)")
    if recompute_before is not None:
        if isinstance(recompute_before, bool) or not (
                isinstance(recompute_before, (int, float)) and recompute_before >= 0):
            raise ValueError(f"recompute_before must be a UNIX time or None; got "
                             f"{recompute_before!r}")
        return float(recompute_before)
    return time.time() if recompute else None


class Cache:
    """Compute-or-load of results under one folder, keyed by all their inputs.

    Parameters
    ----------
    root : path
        Folder of the entries (created on the first write).
    recompute : bool
        Recompute the entries written before this Cache was made (False: use every valid
        entry).
    recompute_before : float, optional
        A UNIX time (e.g. the start of a multi-notebook run): recompute the entries
        written before it, so that each is recomputed once per run (it replaces the
        moment ``recompute`` uses; an entry written after it is used).
    may_compute : bool
        If False, a missing entry raises :class:`MissingResultError` instead of being
        computed (for rendering from committed results only).
    best_effort : bool
        If True, a failed write only warns (for a shared data folder that may be
        read-only); otherwise it raises.
    hint : str
        Added to the message of :class:`MissingResultError` (how to compute what is missing).
    """

    def __init__(self, root: Path | str, recompute: bool = False,
                 recompute_before: float | None = None, may_compute: bool = True,
                 best_effort: bool = False, hint: str = ""):
        self.root = Path(root)
        #: entries written before this UNIX time are recomputed (None: none are)
        self.recompute_before = _recompute_cutoff(recompute, recompute_before)
        self.may_compute = bool(may_compute)
        self.best_effort = bool(best_effort)
        self.hint = hint
        #: names of the entries computed (``computed``) and loaded (``loaded``) so far
        self.computed: list[str] = []
        self.loaded: list[str] = []
        #: the stored entries found damaged by the reads so far: {file: what is wrong with
        #: it, phrased to follow its name}; an entry leaves it when it reads back whole
        self.damaged: dict[Path, str] = {}

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    # ------------------------------------------------------------------ paths
    def path(self, name: str, inputs: dict, value_type: type = dict) -> Path:
        """Where the entry for ``name`` and ``inputs`` lives (whether or not it exists)."""
        suffix = ".npz" if _is_npz(value_type) else ".json"
        return self.root / f"{name}.{cache_key(name, inputs)[:16]}{suffix}"

    # ------------------------------------------------------------------ load / store
    def load(self, name: str, inputs: dict, value_type: type[T] = dict,
             dims: dict | None = None) -> T | None:
        """The stored value for ``name`` and ``inputs``, or None if there is no usable one.

        An entry that cannot be read, was recorded for other inputs, does not match its
        digest or (for a dataclass ``value_type``) fails :func:`rc._checks.check_fields`, with
        ``dims`` fixing named dimensions, gives a :class:`CacheWarning` naming the file
        (and None); so does nothing else.
        """
        value, problem = self._read(name, inputs, value_type, dims)
        if problem is not None:
            warnings.warn(f"cache entry {self.path(name, inputs, value_type)} {problem}; "
                          "recomputing it", CacheWarning, stacklevel=2)
        return value

    def lookup(self, name: str, inputs: dict, value_type: type[T] = dict,
               dims: dict | None = None) -> T | None:
        """The stored value for ``name`` and ``inputs``, or None if there is no usable one,
        without a warning: a damaged entry is only noted in :attr:`damaged` (and is reported
        when :meth:`get_or_compute` recomputes it)."""
        return self._read(name, inputs, value_type, dims)[0]

    def _read(self, name: str, inputs: dict, value_type: type, dims: dict | None
              ) -> tuple[Any, str | None]:
        """(value, None), (None, None) for no entry, or (None, what is wrong with it); a
        damaged entry is noted in :attr:`damaged`."""
        path = self.path(name, inputs, value_type)
        value, problem = self._examine(path, name, inputs, value_type, dims)
        if problem is None:
            self.damaged.pop(path, None)
        else:
            self.damaged[path] = problem
        return value, problem

    def _examine(self, path: Path, name: str, inputs: dict, value_type: type, dims: dict | None
                 ) -> tuple[Any, str | None]:
        """:meth:`_read` of the entry at ``path``, without the note of damage."""
        if not path.is_file():
            return None, None
        if (self.recompute_before is not None
                and path.stat().st_mtime < self.recompute_before):
            return None, None
        key = cache_key(name, inputs)
        try:
            if _is_npz(value_type):
                arrays, doc = read_npz(path)
                record = doc["record"]
                digest = value_digest(doc["fields"], arrays)
            else:
                doc = read_json(path)
                record, value = doc["record"], doc["value"]
                digest = value_digest(value)
            if (record.get("key") != key or record.get("name") != name
                    or _canonical(record.get("inputs")) != _canonical(inputs)):
                return None, "was recorded for other inputs; it is not used"
            if "digest" not in doc:
                raise _CorruptEntry("it has no digest of its value (written by an older "
                                    "version of rc)")
            if doc["digest"] != digest:
                raise _CorruptEntry("its value does not match the digest stored with it")
            if _is_npz(value_type):
                value = value_type.from_record(arrays, doc["fields"])
            elif value_type is not dict:
                if not isinstance(value, dict):
                    raise _CorruptEntry(f"it holds a {type(value).__name__}, not a "
                                        f"{value_type.__name__}")
                value = value_type(**value)
            if dataclasses.is_dataclass(value):
                check_fields(value, dims=dims)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is recomputed
            return None, f"is unreadable ({type(exc).__name__}: {exc})"
        self.loaded.append(name)
        return value, None

    def store(self, name: str, inputs: dict, value: T, value_type: type[T] = dict) -> Path | None:
        """Write ``value`` as the entry for ``name`` and ``inputs``; returns its path.

        With ``best_effort``, a failed write warns and returns None.
        """
        path = self.path(name, inputs, value_type)
        record = {"name": name, "key": cache_key(name, inputs), "inputs": inputs}
        try:
            if _is_npz(value_type):
                arrays, fields = value.to_record()
                arrays = {k: np.asarray(v) for k, v in arrays.items()}
                fields = to_jsonable(fields)
                write_npz(path, arrays, {"record": record, "fields": fields,
                                         "digest": value_digest(fields, arrays)})
            else:
                value = to_jsonable(value)
                write_json(path, {"record": record, "value": value,
                                  "digest": value_digest(value)})
        except OSError as exc:
            if not self.best_effort:
                raise
            warnings.warn(f"could not write the cache entry {path} ({exc}); continuing "
                          "without it", CacheWarning, stacklevel=3)
            return None
        self.damaged.pop(path, None)
        return path

    def get_or_compute(self, name: str, inputs: dict, compute: Callable[[], T],
                       value_type: type[T] = dict, describe: str | None = None,
                       dims: dict | None = None,
                       before: Callable[[], None] | None = None) -> T:
        """Load the entry for ``name`` and ``inputs``, or compute, store and return it.

        ``describe`` names the result in the error raised when computing is not allowed;
        ``dims`` as in :meth:`load`; ``before()``, if given, is called just before
        ``compute()`` (under the entry's lock, once the entry is known to be missing).
        """
        value, problem = self._read(name, inputs, value_type, dims)
        if value is not None:
            return value
        path = self.path(name, inputs, value_type)
        if not self.may_compute:
            where = (f"is not in {self.root} (entry {path.name})" if problem is None else
                     f"cannot be used: its entry {path} {problem}")
            raise MissingResultError(
                f"{describe or name} {where}; it has to be computed "
                f"{'first' if problem is None else 'again'}"
                + (f": {self.hint}" if self.hint else ""))
        with _entry_lock(path):
            value, problem = self._read(name, inputs, value_type, dims)  # stored meanwhile?
            if value is not None:
                return value
            if problem is not None:
                warnings.warn(f"cache entry {path} {problem}; recomputing it", CacheWarning,
                              stacklevel=2)
            if before is not None:
                before()
            with timed(name, value_type.__name__, cache_key(name, inputs), self.root):
                value = compute()
                self.store(name, inputs, value, value_type)
        self.computed.append(name)
        return value

    def has(self, name: str, inputs: dict, value_type: type = dict, dims: dict | None = None
            ) -> bool:
        """Whether a usable entry exists (reads and checks it, so that a corrupt one counts
        as absent)."""
        value, _ = self._read(name, inputs, value_type, dims)
        if value is not None:
            self.loaded.pop()
        return value is not None
