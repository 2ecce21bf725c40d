"""Files on disk: the project's one atomic write, its two formats and provenance.

Everything ``rc`` writes (cached results, generated data sets, saved DAEs, the scorecard)
goes through :func:`atomic_write`: the bytes go to a temporary file in the target's folder,
which then replaces the target in one ``os.replace``. A reader therefore sees the old file
or the new one, never a half-written one, and an interrupted write leaves nothing behind.

A write killed before its ``os.replace`` (``kill -9``, a power cut) leaves its temporary
file, ``.<name>.<random>.tmp`` beside the target (:func:`is_temporary`). Nothing reads such
files, and they are removed by :func:`remove_stale_temporaries`: for one target before
every write of it, for a whole folder when the protocol starts (:func:`rc.protocol.run`).
A temporary file is stale when no process holds the lock its writer takes on it (a killed
process holds none) and it was last modified over :data:`STALE_SECONDS` ago, so a write in
progress in another process is never disturbed.

Two formats, both readable without ``rc`` and by later versions of it:

* JSON (:func:`write_json` / :func:`read_json`), for records of numbers and strings;
  :func:`write_checked_json` / :func:`read_checked_json` add a SHA-256 digest of the
  document and verify it (records kept beside the cache: ``scorecard.json``,
  ``provenance.json``);
* ``.npz`` (:func:`write_npz` / :func:`read_npz`): named numpy arrays plus one JSON
  document stored as the string entry ``__json__`` (no pickles).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import glob
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

try:  # POSIX: a writer locks its temporary file, so that a live write is never removed
    import fcntl
except ImportError:  # pragma: no cover - Windows: the age of a file decides alone
    fcntl = None

__all__ = ["REPO", "CorruptFileError", "atomic_write", "canonical_json", "git_commit",
           "is_temporary", "json_digest", "locked", "provenance", "read_checked_json",
           "read_json", "read_npz", "read_npz_doc", "remove_stale_temporaries", "to_jsonable",
           "write_checked_json", "write_json", "write_npz"]

REPO = Path(__file__).resolve().parents[1]

_JSON_ENTRY = "__json__"
#: A temporary file of :func:`atomic_write` not modified for this many seconds, and not
#: locked by a live writer, is left over from a killed write.
STALE_SECONDS = 60.0
_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]{6,}\.tmp$")


class CorruptFileError(ValueError):
    """A file that cannot be read as what it should be, or whose digest does not match."""


def is_temporary(path: Path | str) -> bool:
    """Whether ``path`` is named like a temporary file of :func:`atomic_write`
    (``.<name>.<random>.tmp``), a lock file of :func:`locked` (``.<name>.lock``) or an
    unfinished training's checkpoint (``.<name>.checkpoint``): never a result, never to
    be read or packed."""
    name = Path(path).name
    return bool(_TEMPORARY.match(name)) or (name.startswith(".")
                                            and name.endswith((".lock", ".checkpoint")))


def _is_stale(path: Path) -> bool:
    """Whether a temporary file was left by a write that is no longer running."""
    try:
        if time.time() - path.stat().st_mtime < STALE_SECONDS:
            return False
        if fcntl is None:
            return True
        with open(path, "rb") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return False  # a live writer holds it
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return True
    except OSError:  # gone already
        return False


def remove_stale_temporaries(folder: Path | str, name: str | None = None,
                             recursive: bool = True) -> list[Path]:
    """Remove the temporary files that killed writes left in ``folder`` (and below it if
    ``recursive``), only those of the target ``name`` if given; returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = f".{glob.escape(name)}.*.tmp" if name else ".*.tmp"
    found = folder.rglob(pattern) if recursive else folder.glob(pattern)
    removed = []
    for path in found:
        if is_temporary(path) and path.is_file() and _is_stale(path):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def locked(path: Path | str, remove: bool = False) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of ``path`` (a hidden lock file
    ``.<name>.lock`` beside it), so that processes updating the same file take turns.

    With ``remove``, the lock file is removed before the lock is released: for a file
    written once (a cache entry), whose waiting processes only need to find it written,
    so that no lock file stays behind. Without POSIX locks (Windows) this does nothing."""
    path = Path(path)
    if fcntl is None:  # pragma: no cover
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.parent / f".{path.name}.lock"
    with open(lock, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if remove:
                lock.unlink(missing_ok=True)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def atomic_write(path: Path | str, write: Callable[[BinaryIO], None]) -> Path:
    """Write ``path`` through ``write(handle)`` so that it appears complete or not at all.

    ``write`` receives a binary file handle on a temporary file beside ``path``; when it
    returns, the file is flushed to disk and moved over ``path``. If ``write`` (or anything
    else) fails, the temporary file is removed and the exception propagates; ``path`` is
    left as it was. The file is made readable by everyone (mode 0644). Temporary files
    of earlier writes of ``path`` that were killed are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, path.name, recursive=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if fcntl is not None:  # released when the file is closed or the process dies
            fcntl.flock(fd, fcntl.LOCK_EX)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


#: The types that JSON stores as they are (exactly these: a subclass takes the long way).
_PLAIN = {float, int, str, bool, type(None)}


def to_jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays, tuples, paths and dataclasses made JSON types."""
    if type(obj) in _PLAIN:
        return obj
    if isinstance(obj, dict):
        return {str(k): v if type(v) in _PLAIN else to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        if set(map(type, obj)) <= _PLAIN:  # a long list of plain numbers, at C speed
            return list(obj)
        return [v if type(v) in _PLAIN else to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in JSON")


def canonical_json(obj: Any) -> str:
    """The canonical JSON text of ``obj`` (sorted keys, no spaces): what keys and digests
    are computed from."""
    return json.dumps(to_jsonable(obj), sort_keys=True, separators=(",", ":"),
                      allow_nan=True)


def json_digest(doc: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``doc``."""
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()


def write_checked_json(path: Path | str, doc: dict) -> Path:
    """Write the dict ``doc`` as JSON with a ``"digest"`` entry, the :func:`json_digest`
    of the rest (atomically); :func:`read_checked_json` verifies it."""
    if "digest" in doc:
        raise ValueError("'digest' is reserved for the document's digest")
    doc = to_jsonable(doc)
    return write_json(path, {**doc, "digest": json_digest(doc)})


def read_checked_json(path: Path | str, require_digest: bool = True) -> dict:
    """The dict written by :func:`write_checked_json`, without its digest.

    Raises :class:`CorruptFileError` naming the file if it is not a JSON object, lacks a
    digest (unless ``require_digest`` is False: files written before digests) or does not
    match it; ``OSError`` if it cannot be read.
    """
    try:
        doc = read_json(path)
    except ValueError as exc:
        raise CorruptFileError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise CorruptFileError(f"{path} does not hold a JSON object")
    digest = doc.pop("digest", None)
    if digest is None:
        if require_digest:
            raise CorruptFileError(f"{path} has no digest of its content")
    elif digest != json_digest(doc):
        raise CorruptFileError(f"the content of {path} does not match its digest")
    return doc


def write_json(path: Path | str, doc: Any) -> Path:
    """Write ``doc`` as indented JSON (atomically)."""
    text = json.dumps(to_jsonable(doc), indent=1) + "\n"
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def read_json(path: Path | str) -> Any:
    """Read a JSON file (ValueError if it is not valid JSON)."""
    return json.loads(Path(path).read_text())


def write_npz(path: Path | str, arrays: dict[str, np.ndarray], doc: Any = None) -> Path:
    """Write numpy ``arrays`` and a JSON document ``doc`` into one compressed ``.npz``."""
    if _JSON_ENTRY in arrays:
        raise ValueError(f"{_JSON_ENTRY!r} is reserved for the JSON document")
    payload = {name: np.asarray(a) for name, a in arrays.items()}
    for name, a in payload.items():
        if a.dtype == object:
            raise ValueError(f"array {name!r} has dtype object, which .npz cannot hold safely")
    payload[_JSON_ENTRY] = np.array(json.dumps(to_jsonable(doc)))
    return atomic_write(path, lambda fh: np.savez_compressed(fh, **payload))


def read_npz(path: Path | str) -> tuple[dict[str, np.ndarray], Any]:
    """Read an ``.npz`` written by :func:`write_npz`: (arrays, JSON document)."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files if name != _JSON_ENTRY}
        doc = json.loads(str(archive[_JSON_ENTRY])) if _JSON_ENTRY in archive.files else None
    return arrays, doc


def read_npz_doc(path: Path | str) -> Any:
    """Only the JSON document of an ``.npz`` written by :func:`write_npz` (the arrays are
    not read)."""
    with np.load(path, allow_pickle=False) as archive:
        return json.loads(str(archive[_JSON_ENTRY])) if _JSON_ENTRY in archive.files else None


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The repository's HEAD commit (suffixed '-dirty' with uncommitted changes outside
    ``results/``: a run's own records there say nothing about its code), or 'unknown', as
    it was when this process first asked: the code a process runs is what was checked out
    when it started, whatever is committed while it runs (hours, for a full-scale run)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":(exclude)results"],
                               cwd=REPO, capture_output=True, text=True, timeout=10).stdout
        return (head + ("-dirty" if dirty.strip() else "")) if head else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _version(distribution: str) -> str:
    """An installed package's version, read without importing it (scikit-learn and scipy
    take seconds to import)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


def _cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> str:
    """The BLAS torch was built with, and its version where torch says it."""
    import torch

    config = torch.__config__.show()
    name = next((part.split("=", 1)[1] for part in config.replace(",", " ").split()
                 if part.startswith("BLAS_INFO=")), "unknown")
    if "Math Kernel Library Version" in config:
        name += " " + config.split("Math Kernel Library Version", 1)[1].split()[0].split("-")[0]
    return name


def machine() -> dict:
    """What decides a CPU computation's last bits: the CPU model, the instruction set
    torch dispatches to, its BLAS, its version and thread count."""
    import torch

    return {"cpu": _cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "blas": _blas(), "torch": str(torch.__version__),
            "threads": torch.get_num_threads()}


#: The fields of :func:`machine` that must agree for two CPUs to compute the same bits
#: (the thread count did not change a training's weights on the 2-core AMD machine).
KERNEL_FIELDS = ("cpu", "cpu_capability", "blas", "torch")


def machine_words(info: dict) -> str:
    """A provenance's (or :func:`machine`'s) CPU in words, e.g. ``AMD EPYC, AVX2, mkl
    2024.2, torch 2.13.0, 2 threads``; ``cpu: x86_64 (machine not recorded)`` for
    results stored before the record."""
    m = info.get("machine", info if "cpu_capability" in info else None)
    if not m:
        return (f"{info.get('device', 'cpu')}: {info.get('device_name', '?')} "
                "(machine not recorded)")
    return (f"{m['cpu']}, {m['cpu_capability']}, {m['blas']}, torch {m['torch']}, "
            f"{m['threads']} thread{'s' if m['threads'] != 1 else ''}")


def provenance(device: str | None = None, **extra) -> dict:
    """Who made a result and with what: device, package versions, git commit, time, and
    on a CPU the :func:`machine` (whose kernels decide the last bits).

    ``extra`` (e.g. the profile, the seconds a computation took) is added as given.
    """
    import torch

    device = "cpu" if device is None else str(device)
    info = {
        "device": device,
        "device_name": (torch.cuda.get_device_name() if device.startswith("cuda")
                        else platform.processor() or platform.machine()),
        "machine": machine(),
        "python": sys.version.split()[0], "torch": str(torch.__version__),
        "numpy": np.__version__, "scipy": _version("scipy"),
        "sklearn": _version("scikit-learn"),
        "git_commit": git_commit(), "host": platform.node(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if device.startswith("cuda"):
        info["tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
    info.update(to_jsonable(extra))
    return info
