"""Peak resident memory of every chapter's kernel, for one profile (issue 28: Binder gives 2 GB).

Runs the book's notebooks with ``scripts/run_book.py`` (into a scratch folder, so the
repository's ``book/executed`` is left alone) and prints, from the run's time record, each
notebook kernel's peak resident memory (``peak_rss_mib``: the kernel process's own
high-water mark, ``VmHWM``, which Linux keeps; see ``book_run.kernel_memory.KernelMemory``
in ``scripts/``), its time, and the cells after which the kernel's peak grew most (where
the memory went).

Usage::

    python benchmarks/bench_memory.py                      # profile full, computing off:
                                                           # what a Binder launch runs
    python benchmarks/bench_memory.py --profile default    # make book (trains if results/
                                                           # default/ is empty: long)
    python benchmarks/bench_memory.py --only 04 --only 06  # some chapters
    python benchmarks/bench_memory.py --record book/executed/time_record.json
                                                           # print a recorded run only

Options after ``--`` go to ``run_book.py`` as they are (e.g. ``-- -p settings
'{n_iters: 3}'``). ``--limit-mib`` makes the exit status 1 when a kernel's peak passes it
(the issue's targets: 1536 for the Binder launch, 2048 for ``make book``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def table(run: dict, top_cells: int = 3) -> str:
    """Each notebook's peak, time and the cells that raised its kernel's peak most."""
    lines = [f"run of {run.get('date')}: profile {run.get('profile')}, status "
             f"{run.get('status')}, {run.get('machine', {}).get('cpu')} "
             f"({run.get('machine', {}).get('usable_cores')} cores, load "
             f"{run.get('machine', {}).get('load_average')})",
             f"{'notebook':32s} {'peak RSS':>10s} {'time':>9s}  cells that raised the peak most"]
    for nb in run.get("notebooks", []):
        peak = nb.get("peak_rss_mib")
        cells, before, growth = nb.get("cells", []), 0.0, []
        for cell in cells:
            if cell.get("peak_rss_mib") is None:
                continue
            growth.append((cell["peak_rss_mib"] - before, cell))
            before = cell["peak_rss_mib"]
        growth.sort(key=lambda row: -row[0])
        where = "; ".join(f"+{g:.0f} cell {c['index']} ({c['source'][:40]})"
                          for g, c in growth[:top_cells] if g >= 1)
        seconds = nb.get("seconds")
        lines.append(f"{nb['name']:32s} "
                     f"{'-' if peak is None else f'{peak:8.0f} MiB':>10s} "
                     f"{'-' if seconds is None else f'{seconds:7.1f} s':>9s}  {where}")
    peaks = [nb["peak_rss_mib"] for nb in run.get("notebooks", [])
             if nb.get("peak_rss_mib") is not None]
    if peaks:
        lines.append(f"{'largest':32s} {max(peaks):6.0f} MiB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="full", help="profile (default: full, computing "
                        "off, from the committed results: what a Binder launch runs)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="this notebook only (repeatable)")
    parser.add_argument("--out", type=Path, default=None,
                        help="run_book's --out (default: a temporary folder)")
    parser.add_argument("--jobs", default="1", help="notebooks at a time (default 1: a "
                        "kernel's peak does not depend on it, its time does)")
    parser.add_argument("--record", type=Path, default=None,
                        help="print the last run of this time record and run nothing")
    parser.add_argument("--limit-mib", type=float, default=None,
                        help="exit status 1 if a kernel's peak passes this many MiB")
    args = parser.parse_args(argv)

    if args.record is None:
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as scratch:
            out = args.out or Path(scratch)
            command = [sys.executable, str(REPO / "scripts" / "run_book.py"), "--profile",
                       args.profile, "--out", str(out), "--jobs", args.jobs,
                       *[part for name in args.only for part in ("--only", name)], *extra]
            print("$ " + " ".join(command), flush=True)
            result = subprocess.run(command, cwd=REPO, env=os.environ)
            record = out / "book" / "executed" / "time_record.json"
            run = json.loads(record.read_text())["runs"][-1]
    else:
        result = None
        run = json.loads(args.record.read_text())["runs"][-1]
    print(table(run))
    peaks = [nb.get("peak_rss_mib") or 0.0 for nb in run.get("notebooks", [])]
    if args.limit_mib is not None and any(p > args.limit_mib for p in peaks):
        print(f"bench_memory: a kernel passed {args.limit_mib:.0f} MiB", file=sys.stderr)
        return 1
    return 0 if result is None else result.returncode


if __name__ == "__main__":
    sys.exit(main())
