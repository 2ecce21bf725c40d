#!/usr/bin/env python
"""Execute the book's notebooks with papermill (and optionally build the book).

The notebooks live in ``notebooks/`` as jupytext MyST-markdown files. For every notebook
of :data:`book_run.book.NOTEBOOKS` that exists, in that (dependency) order, this script

1. converts the ``.md`` file to an in-memory ``.ipynb`` with jupytext (kernel ``python3``),
2. executes it with papermill, injecting ``profile`` (and any ``-p key value``) after the
   cell tagged ``parameters``, with the notebooks folder as working directory and this
   checkout first on the kernel's import path (:func:`book_run.execution.kernel_env`),
3. writes the executed notebook to ``book/executed/<name>.ipynb``.

The book itself is built from those executed notebooks with execution turned off
(``_config.yml``), by ``jupyter-book build . -W -n --keep-going`` or ``--build`` here.

Examples::

    python scripts/run_book.py --profile ci --build
    python scripts/run_book.py --profile default --only 04_results -p recompute True
    python scripts/run_book.py --profile ci --out /tmp/book --build   # leaves the repo's
                                                                       # book/ and _build/ alone

A ``-p`` name must be one that the notebooks' ``parameters`` cells assign
(:func:`book_run.arguments.notebook_parameters`: ``recompute_before``, ``settings``,
``may_compute``; ``recompute`` true or a UNIX time sets ``recompute_before``, and
``compute`` true or false, the old name of ``may_compute``, sets ``may_compute``), and its
value must be one that the notebooks take (:func:`book_run.arguments.check_parameters`);
anything else is refused in one line (exit status 2) before any kernel starts. A profile
setting such as ``n_iters`` goes inside ``settings``: ``-p settings '{n_iters: 20}'``.

A failing cell stops the run with exit status 1 and a message naming the notebook and the
cell's error; the partially executed notebook is kept in the output folder for inspection.

Every run adds a record of its time to ``book/executed/time_record.json`` (the last
:data:`book_run.record.KEPT_RUNS` runs): the date, the machine, the profile, whether the
data and results caches were cold, the wall time of every notebook and cell (papermill's
cell timings), of the book's build, and of every cached computation (training, RC, data
generation), which the kernels append through ``rc.cache.timed``, and every notebook
kernel's peak resident memory (:class:`book_run.kernel_memory.KernelMemory`: the kernel
process's own high-water mark, which Linux keeps, read after every cell, plus what its
child processes held). The run ends by printing the notebooks' peaks and the ten slowest
cells and computations; ``--report`` prints that summary for the last recorded run.

Several runs may execute at once (in one checkout or several): each talks to its kernels
through sockets in a private temporary folder, and writes a notebook into the output
folder only once it is executed.

``--jobs`` runs that many notebooks at a time (each in a worker process with its own
kernel). The default, ``auto``, runs two at a time on a machine with at least two cores
when the last recorded run of the same notebooks, profile and parameters, into the same
folder and with the same caches, finished with the same code
(:func:`book_run.jobs.code_digest`), so that everything it computed is stored, and one at
a time otherwise: a cached re-run spends its time starting kernels, importing and drawing,
which two kernels share well between two cores, while training in two kernels at once
would only compete for them. The numbers do not depend on it: a cache entry is computed
under a lock (see :mod:`rc.cache`), so notebooks that need the same missing result compute
it once, in whichever order they run.

The work is done by the package ``book_run`` beside this script (its modules: the book's
layout, the checks of the arguments, the execution of a notebook, the kernel's memory, the
scheduling of the jobs, the time record and its report); this script parses the command
line and calls them.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:  # the book_run package beside this script
    sys.path.insert(0, HERE)

from book_run.arguments import (  # noqa: E402
    check_arguments,
    check_parameters,
    injected_parameters,
    selected_notebooks,
)
from book_run.book import NOTEBOOKS, REPO, build_command, writable_out  # noqa: E402
from book_run.execution import prepare_kernels  # noqa: E402
from book_run.jobs import Progress, run_jobs, schedule  # noqa: E402
from book_run.record import RECORD_NAME, new_run, record_notebooks, save_run  # noqa: E402
from book_run.report import print_report, report  # noqa: E402

PROFILES: tuple[str, ...] = ("ci", "default", "full", "paper")


def _parser() -> argparse.ArgumentParser:
    """The command line of this script."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--profile", default="default", choices=PROFILES,
                        help="experiment profile passed to every notebook (default: default)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only this notebook (repeatable; e.g. 04_results)")
    parser.add_argument("-p", "--parameter", action="append", nargs=2, default=[],
                        metavar=("KEY", "VALUE"),
                        help="extra papermill parameter, value parsed as YAML (repeatable); "
                             "the notebooks take recompute_before, settings, may_compute "
                             "(-p recompute true|TIME sets recompute_before, and -p compute "
                             "true|false, may_compute's old name, sets may_compute)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write executed notebooks to OUT/book/executed and build in "
                             "OUT/_build (sources copied there); default: the repository")
    parser.add_argument("--build", action="store_true",
                        help="then build the book: jupyter-book build -W -n --keep-going")
    parser.add_argument("--compute", action="store_true",
                        help="with --profile paper or full: compute what results/<profile>/ "
                             "lacks instead of stopping (injects may_compute true; hours on "
                             "a CPU; `make paper` and `make full` are the resumable ways)")
    parser.add_argument("--jobs", default="auto", metavar="N",
                        help="notebooks executed at a time: a number, or auto (the default: "
                             "2 on two or more cores when the last run of these notebooks "
                             "finished with the same code, else 1)")
    parser.add_argument("--list", action="store_true", help="print the notebook order and exit")
    parser.add_argument("--report", action="store_true",
                        help=f"print the last run of the time record (book/executed/"
                             f"{RECORD_NAME}, or OUT's) and exit")
    return parser


def _report_stored(profile: str) -> None:
    """Say how much of the profile's protocol is stored before rendering from it."""
    sys.path.insert(0, str(REPO))
    import rc
    from rc import protocol

    rows = protocol.status(rc.Results(profile, may_compute=False, progress=False))
    done, total = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"run_book: rendering from stored results only: {done}/{total} results of the "
          f"{profile} protocol are stored", flush=True)
    for name, d, units, _ in rows:
        if d < units:
            print(f"  missing: {name} ({d}/{units})", flush=True)


def _execute_notebooks(args: argparse.Namespace, names: list[str], parameters: dict,
                       out_dir: Path) -> tuple[dict, int, float]:
    """Execute the notebooks ``names`` into ``out_dir`` and add the run to the time record:
    returns the run's record, the exit status, and when the notebooks started
    (``time.perf_counter()``)."""
    run_dir = prepare_kernels()
    plan = schedule(names, parameters, args.jobs, args.profile, out_dir / RECORD_NAME)
    print(f"run_book: profile={args.profile} parameters={parameters} -> {out_dir}\n"
          f"run_book: {plan.jobs} notebook(s) at a time ({plan.why})", flush=True)
    started = time.perf_counter()
    run = new_run(args.profile, parameters, plan.code, plan.caches, plan.jobs)
    status, progress = 0, Progress()
    try:
        run_jobs(plan, out_dir, parameters, run_dir, progress)
        run["status"] = "ok" if progress.failed is None else f"failed in {progress.failed[0]}"
        if progress.failed is not None:
            print(f"run_book: ERROR: {progress.failed[1]}", file=sys.stderr)
            status = 1
    finally:
        record_notebooks(run, names, progress.seconds, progress.failed, run_dir, started)
        save_run(out_dir / RECORD_NAME, run)
        shutil.rmtree(run_dir, ignore_errors=True)
    print(f"run_book: executed {len(run['notebooks'])} notebook(s) in "
          f"{run['notebooks_seconds']:.1f} s", flush=True)
    return run, status, started


def _build(root: Path, run: dict, started: float, record_path: Path) -> int:
    """Build the book whose sources are in ``root``, adding the build's time to ``run`` in
    the time record; returns jupyter-book's exit status."""
    start = time.perf_counter()
    print(f"run_book: building the book in {root / '_build' / 'html'}", flush=True)
    result = subprocess.run(build_command(root), cwd=root)
    run["build_seconds"] = round(time.perf_counter() - start, 2)
    run["wall_seconds"] = round(time.perf_counter() - started, 2)
    if result.returncode != 0:
        print(f"run_book: ERROR: jupyter-book build failed (exit {result.returncode})",
              file=sys.stderr)
        run["status"] = f"build failed (exit {result.returncode})"
    else:
        print(f"run_book: book built in {run['build_seconds']:.1f} s", flush=True)
    save_run(record_path, run)
    return result.returncode


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        print("\n".join(NOTEBOOKS))
        return 0
    root = REPO if args.out is None else args.out.resolve()
    if args.report:
        return print_report(root / "book" / "executed" / RECORD_NAME)
    check_arguments(args)
    names = selected_notebooks(args.only)
    sys.path.insert(0, str(REPO))
    given = check_parameters(args.parameter, names, args.profile)
    parameters = injected_parameters(args.profile, args.compute, given)
    out_dir = writable_out(root, copy_sources=args.out is not None)
    if parameters.get("may_compute") is False:
        _report_stored(parameters["profile"])
    run, status, started = _execute_notebooks(args, names, parameters, out_dir)
    record_path = out_dir / RECORD_NAME
    if args.build and status == 0:
        status = _build(root, run, started, record_path)
    print(f"run_book: time record {record_path}\n{report(run)}", flush=True)
    return status


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. `| head`)
        sys.stderr.close()
        sys.exit(0)
