"""Files on disk: the project's one atomic write, its two formats and provenance.

Everything ``rc`` writes (cached results, generated data sets, saved DAEs, the scorecard)
goes through :func:`atomic_write`: the bytes go to a temporary file in the target's folder,
which then replaces the target in one ``os.replace``. A reader therefore sees the old file
or the new one, never a half-written one, and an interrupted write leaves nothing behind.

Two formats, both readable without ``rc`` and by later versions of it:

* JSON (:func:`write_json` / :func:`read_json`), for records of numbers and strings;
* ``.npz`` (:func:`write_npz` / :func:`read_npz`): named numpy arrays plus one JSON
  document stored as the string entry ``__json__`` (no pickles).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

import numpy as np

__all__ = ["REPO", "atomic_write", "git_commit", "provenance", "read_json", "read_npz",
           "to_jsonable", "write_json", "write_npz"]

REPO = Path(__file__).resolve().parents[1]

_JSON_ENTRY = "__json__"


def atomic_write(path: Path | str, write: Callable[[BinaryIO], None]) -> Path:
    """Write ``path`` through ``write(handle)`` so that it appears complete or not at all.

    ``write`` receives a binary file handle on a temporary file beside ``path``; when it
    returns, the file is flushed to disk and moved over ``path``. If ``write`` (or anything
    else) fails, the temporary file is removed and the exception propagates; ``path`` is
    left as it was. The file is made readable by everyone (mode 0644).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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


def to_jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars/arrays, tuples, paths and dataclasses made JSON types."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
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


def git_commit() -> str:
    """The repository's HEAD commit (suffixed '-dirty' with uncommitted changes), or 'unknown'."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
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


def provenance(device: str | None = None, **extra) -> dict:
    """Who made a result and with what: device, package versions, git commit, time.

    ``extra`` (e.g. the profile, the seconds a computation took) is added as given.
    """
    import torch

    device = "cpu" if device is None else str(device)
    info = {
        "device": device,
        "device_name": (torch.cuda.get_device_name() if device.startswith("cuda")
                        else platform.processor() or platform.machine()),
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
