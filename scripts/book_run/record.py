"""The book's time record (``book/executed/time_record.json``): for each run the machine,
the caches and the parameters, and for each notebook its wall time, its cells, its cached
computations and its kernel's peak memory."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

#: The book's time record, beside the executed notebooks, and how many runs it keeps.
RECORD_NAME = "time_record.json"
KEPT_RUNS = 10


def usable_cores() -> int:
    return (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1)


def _machine() -> dict:
    """The CPU model, its cores and memory, the load when the run starts, the platform."""
    model = platform.processor() or platform.machine()
    memory = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "usable_cores": usable_cores(),
            "memory_gib": memory, "load_average": (list(os.getloadavg())
                                                   if hasattr(os, "getloadavg") else None),
            "platform": platform.platform(), "python": platform.python_version()}


def cache_state(profile: str) -> dict:
    """How many entries the data cache and the profile's results cache hold (cold: none)."""
    from rc.config import get_profile
    from rc.mnist import data_dir
    from rc.pipeline import results_dir

    def entries(folder: Path, pattern: str, skip=()) -> int:
        if not folder.is_dir():
            return 0
        return sum(1 for f in folder.rglob(pattern)
                   if f.is_file() and not f.name.startswith(".") and f.name not in skip)

    data = data_dir() / "generated"
    results = results_dir() / profile
    n_data = entries(data, "*.npz")
    n_results = entries(results, "*.*", ("scorecard.json", "provenance.json"))
    return {"data": {"folder": str(data), "entries": n_data, "cold": n_data == 0,
                     "used": get_profile(profile).cache_data},
            "results": {"folder": str(results), "entries": n_results, "cold": n_results == 0}}


def new_run(profile: str, parameters: dict, code: str, caches: dict, jobs: int) -> dict:
    """The record of a run whose notebooks start now, as it stands until they finish."""
    from rc.storage import git_commit

    return {"id": f"{time.time():.6f}-{os.getpid()}",
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": _machine(), "profile": profile, "parameters": parameters,
            "commit": git_commit(), "code": code, "caches": caches, "jobs": jobs,
            "status": "interrupted", "notebooks": [], "notebooks_seconds": None,
            "build_seconds": None, "wall_seconds": None}


def _cell_times(path: Path) -> list[dict]:
    """Every code cell's wall time (papermill's metadata), index and first source line."""
    import nbformat

    if not path.is_file():
        return []
    cells = []
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        timing = cell.metadata.get("papermill", {})
        if cell.cell_type != "code" or timing.get("duration") is None:
            continue
        cells.append({"index": index, "execution_count": cell.get("execution_count"),
                      "seconds": round(float(timing["duration"]), 3),
                      "source": _cell_label(cell.source), "status": timing.get("status")})
    return cells


def _cell_label(source: str) -> str:
    """What names a cell in the record: its first comment, else its first line that is not
    an import, else its first line (at most 100 characters)."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    comment = next((line.lstrip("# ") for line in lines if line.startswith("#")), "")
    code = next((line for line in lines if not line.startswith(("#", "import ", "from "))),
                lines[0] if lines else "")
    return (comment or code)[:100]


def _computations(path: Path) -> list[dict]:
    """The cached computations that the kernels appended to ``path`` (rc.cache.timed)."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a killed kernel
    return rows


def _memory(path: Path) -> dict:
    """What the kernel's memory monitor (:class:`~book_run.kernel_memory.KernelMemory`)
    wrote to ``path`` (empty if nothing)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _notebook_record(name: str, seconds: float | None, run_dir: Path) -> dict:
    """A notebook's wall time, cells and cached computations, and its kernel's peak
    resident memory (:class:`~book_run.kernel_memory.KernelMemory`): ``peak_rss_mib`` and,
    in ``memory``, how it was measured; each cell gains ``peak_rss_mib``, the kernel's peak
    up to its end."""
    memory = _memory(run_dir / f"{name}.memory.json")
    by_cell = memory.pop("cells", {})
    cells = _cell_times(run_dir / f"{name}.ipynb")
    for cell in cells:
        if str(cell["index"]) in by_cell:
            cell["peak_rss_mib"] = by_cell[str(cell["index"])]
    return {"name": name, "seconds": None if seconds is None else round(seconds, 2),
            "peak_rss_mib": memory.get("peak_rss_mib"), "memory": memory, "cells": cells,
            "computations": _computations(run_dir / f"{name}.timings.jsonl")}


def record_notebooks(run: dict, names: list[str], seconds: dict[str, float],
                     failed: tuple[str, Exception] | None, run_dir: Path,
                     started: float) -> None:
    """Put into ``run`` the record of each of the notebooks ``names`` that finished (in
    ``seconds``) or ``failed``, and the seconds since ``started`` (``time.perf_counter()``)."""
    run["notebooks"] = [_notebook_record(name, seconds.get(name), run_dir) for name in names
                        if name in seconds or (failed and name == failed[0])]
    elapsed = round(time.perf_counter() - started, 2)
    run["notebooks_seconds"] = run["wall_seconds"] = elapsed


def save_run(path: Path, run: dict) -> None:
    """Add (or update, by its ``id``) this run in the record at ``path``; keep the last
    :data:`KEPT_RUNS` runs. Written atomically, under a lock against concurrent runs."""
    from rc.storage import locked, write_json

    with locked(path):
        try:
            runs = json.loads(path.read_text())["runs"]
        except (OSError, ValueError, KeyError, TypeError):
            runs = []
        runs = [r for r in runs if r.get("id") != run["id"]] + [run]
        write_json(path, {"description": "wall times of the book's runs (scripts/run_book.py)",
                          "runs": runs[-KEPT_RUNS:]})
