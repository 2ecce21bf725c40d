"""The summary of a recorded run of the book: its totals, its kernels' peak memory, and the
slowest cells and cached computations (``--report`` prints the last run's)."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _fmt_mib(mib: float | None) -> str:
    if mib is None:
        return "-"
    return f"{mib:.0f} MiB" if mib < 1024 else f"{mib / 1024:.2f} GiB"


def report(run: dict, top: int = 10) -> str:
    """A summary of one run of the record: its totals and the ``top`` slowest cells and
    cached computations (the latter by their own time, without what is nested in them)."""
    caches = run.get("caches", {})
    cold = ", ".join(f"{k} cache {'cold' if v.get('cold') else 'warm'} "
                     f"({v.get('entries')} entries"
                     f"{'' if v.get('used', True) else '; not used by this profile'})"
                     for k, v in caches.items())
    machine = run.get("machine", {})
    lines = [f"run of {run.get('date')}: profile {run.get('profile')}, "
             f"{len(run.get('notebooks', []))} notebook(s), status {run.get('status')}",
             f"  machine: {machine.get('cpu')}, {machine.get('usable_cores')} of "
             f"{machine.get('cores')} cores, load {machine.get('load_average')}",
             f"  {cold}",
             f"  total {_fmt(run.get('wall_seconds'))}: notebooks "
             f"{_fmt(run.get('notebooks_seconds'))} ({run.get('jobs', 1)} at a time), "
             f"build {_fmt(run.get('build_seconds'))}"]
    notebooks = run.get("notebooks", [])
    lines.append("  notebooks: " + ", ".join(f"{nb['name'][:2]} {_fmt(nb['seconds'])}"
                                             for nb in notebooks))
    peaks = [(nb["name"][:2], nb.get("peak_rss_mib")) for nb in notebooks]
    if any(peak is not None for _, peak in peaks):
        lines.append("  peak memory of the kernels (RSS): " + ", ".join(
            f"{name} {_fmt_mib(peak)}" for name, peak in peaks))
    cells = sorted(((c["seconds"], nb["name"], c) for nb in notebooks for c in nb["cells"]),
                   key=lambda row: -row[0])[:top]
    if cells:
        lines.append(f"  the {len(cells)} slowest cells:")
        lines += [f"    {seconds:8.1f} s  {name} cell {c['index']}: {c['source'][:60]}"
                  for seconds, name, c in cells]
    comps = sorted(((c.get("self_seconds", 0.0), nb["name"], c) for nb in notebooks
                    for c in nb["computations"]), key=lambda row: -row[0])[:top]
    if comps:
        lines.append(f"  the {len(comps)} slowest cached computations (own time):")
        lines += [f"    {seconds:8.1f} s  {name}: {c['name'][:70]}"
                  + (f" (CPU {c['self_cpu_seconds']:.0f} s)"
                     if "self_cpu_seconds" in c else "")
                  for seconds, name, c in comps]
    return "\n".join(lines)


def print_report(path: Path) -> int:
    """Print :func:`report` of the last run recorded in ``path`` (``--report``)."""
    try:
        runs = json.loads(path.read_text())["runs"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"run_book: ERROR: no readable time record at {path} ({type(exc).__name__}); "
              "run the book first", file=sys.stderr)
        return 2
    if not runs:
        print(f"run_book: ERROR: the time record {path} holds no run", file=sys.stderr)
        return 2
    print(report(runs[-1]))
    return 0
