"""The one cache of the project: results and trained DAEs on disk, per profile.

Every expensive result (a trained DAE, an RC evaluation, a random-search run) is stored
under ``results/<profile>/`` with its provenance (profile, seed, device, versions, git
commit, time) and reused by later notebooks and runs; ``recompute=True`` recomputes and
overwrites. The root is ``$RC_RESULTS`` if set, else ``results/`` in the repository.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def results_dir() -> Path:
    """Root folder of all profiles' results."""
    env = os.environ.get("RC_RESULTS")
    if env:
        return Path(env)
    if (REPO / "pyproject.toml").exists():
        return REPO / "results"
    return Path.cwd() / "results"


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


def provenance(profile: str, seed: int, device: str, **extra) -> dict:
    """Who made a result and with what: recorded beside every artifact."""
    import scipy
    import sklearn
    import torch

    info = {
        "profile": profile, "seed": seed, "device": device,
        "device_name": (torch.cuda.get_device_name() if device.startswith("cuda")
                        else platform.processor() or platform.machine()),
        "python": sys.version.split()[0], "torch": str(torch.__version__),
        "numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__,
        "git_commit": git_commit(), "host": platform.node(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    info.update(extra)
    return info


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class Store:
    """Compute-or-load of JSON documents, array bundles and DAEs under one folder.

    ``recompute``: False reuses every stored artifact; True recomputes those stored
    before this Store was made; a number (a UNIX time, e.g. the start of a multi-notebook
    run) recomputes those stored before that time, so each is recomputed once per run.
    """

    def __init__(self, root: Path | str, recompute: bool | float = False):
        self.root = Path(root)
        if recompute is True:
            self.since = time.time()
        elif recompute:
            self.since = float(recompute)
        else:
            self.since = None

    def path(self, name: str) -> Path:
        return self.root / name

    def exists(self, name: str) -> bool:
        """Whether ``name`` is stored and current (not due for recomputation)."""
        path = self.path(name)
        return path.exists() and (self.since is None or path.stat().st_mtime >= self.since)

    def json(self, name: str, compute: Callable[[], dict], force: bool = False) -> dict:
        """Load ``name`` (a .json file) or compute, save and return it."""
        if self.exists(name) and not force:
            return json.loads(self.path(name).read_text())
        doc = compute()
        self.write_json(name, doc)
        return doc

    def write_json(self, name: str, doc) -> Path:
        path = self.path(name)
        text = json.dumps(doc, indent=1, default=_json_default)
        _atomic_write(path, lambda p: p.write_text(text + "\n"))
        return path

    def arrays(self, name: str, compute: Callable[[], dict]) -> dict:
        """Load ``name`` (an .npz of arrays plus a JSON 'meta' entry) or compute and save it.

        ``compute`` returns a dict of numpy arrays and an optional 'meta' dict.
        """
        path = self.path(name)
        if self.exists(name):
            with np.load(path, allow_pickle=False) as f:
                out = {k: f[k] for k in f.files if k != "meta"}
                out["meta"] = json.loads(str(f["meta"])) if "meta" in f.files else {}
            return out
        out = compute()
        meta = json.dumps(out.get("meta", {}), default=_json_default)
        arrays = {k: np.asarray(v) for k, v in out.items() if k != "meta"}

        def write(p: Path):
            with open(p, "wb") as fh:
                np.savez_compressed(fh, meta=np.array(meta), **arrays)
        _atomic_write(path, write)
        return out

    def dae(self, name: str, train: Callable[[], tuple], device=None):
        """Load the DAE saved as ``name`` (.pt) or train it with ``train() -> (dae, history,
        meta)`` and save it; returns ``(dae, {"history": ..., "meta": ...})``."""
        from .dae import load_dae, save_dae

        path = self.path(name)
        if self.exists(name):
            return load_dae(path, device=device)
        dae, history, meta = train()
        save_dae(path, dae, history, **meta)
        return load_dae(path, device=device)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot store {type(o).__name__} in JSON")
