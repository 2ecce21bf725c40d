#!/usr/bin/env python
"""Execute the book's notebooks with papermill (and optionally build the book).

The notebooks live in ``notebooks/`` as jupytext MyST-markdown files. For every notebook
of :data:`NOTEBOOKS` that exists, in that (dependency) order, this script

1. converts the ``.md`` file to an in-memory ``.ipynb`` with jupytext (kernel ``python3``),
2. executes it with papermill, injecting ``profile`` (and any ``-p key value``) after the
   cell tagged ``parameters``, with the notebooks folder as working directory,
3. writes the executed notebook to ``book/executed/<name>.ipynb``.

The book itself is built from those executed notebooks with execution turned off
(``_config.yml``), by ``jupyter-book build . -W -n --keep-going`` or ``--build`` here.

Examples::

    python scripts/run_book.py --profile ci --build
    python scripts/run_book.py --profile default --only 04_results -p recompute True
    python scripts/run_book.py --profile ci --out /tmp/book --build   # leaves the repo's
                                                                       # book/ and _build/ alone

A failing cell stops the run with exit status 1 and a message naming the notebook and the
cell's error; the partially executed notebook is kept in the output folder for inspection.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = REPO / "notebooks"

#: The book's notebooks in execution (dependency) order; ``_toc.yml`` lists them in this
#: order as ``book/executed/<name>``. Later notebooks may load results cached by earlier ones.
NOTEBOOKS: tuple[str, ...] = (
    "01_binding_problem",
    "02_reconstruction_clustering",
    "03_experiments",
    "04_results",
    "05_appendix_derivation",
    "06_appendix_figures",
    "07_robustness",
    "08_future_work",
    "90_scorecard",
)

PROFILES: tuple[str, ...] = ("ci", "default", "full", "paper")

#: Files and folders (relative to the repository) that make up the book's sources besides
#: the executed notebooks; copied when building outside the repository (``--out``).
BOOK_SOURCES: tuple[str, ...] = ("_config.yml", "_toc.yml", "book")

KERNEL_NAME = "python3"
KERNELSPEC = {"name": KERNEL_NAME, "display_name": "Python 3 (ipykernel)", "language": "python"}


class NotebookFailed(RuntimeError):
    """A notebook raised while being executed."""


def _parse_value(text: str):
    """A ``-p`` value as YAML (like papermill's CLI): 1 -> int, true -> bool, x -> str."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _normalise_name(name: str) -> str:
    stem = Path(name).name
    for suffix in (".md", ".ipynb"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    if stem not in NOTEBOOKS:  # a unique prefix such as "04" is enough
        matches = [n for n in NOTEBOOKS if n.startswith(stem)]
        if len(matches) == 1:
            return matches[0]
        raise SystemExit(f"run_book: unknown notebook {name!r}; known: {', '.join(NOTEBOOKS)}")
    return stem


def _kernel_dir() -> Path:
    """A temporary Jupyter data folder whose ``python3`` kernel runs *this* interpreter.

    Prepended to JUPYTER_PATH so that a ``python3`` kernelspec elsewhere (a user folder, a
    system install) cannot make papermill run the notebooks in another environment.
    """
    root = Path(tempfile.mkdtemp(prefix="rc-kernel-"))
    spec_dir = root / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNELSPEC["display_name"],
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return root


def _engine_options() -> dict:
    """nbclient options: on POSIX talk to the kernel over local IPC sockets, not TCP."""
    if os.name != "posix":
        return {}
    from traitlets.config import Config

    return {"config": Config({"KernelManager": {"transport": "ipc"}})}


def _cell_error(exc: Exception) -> str:
    """One-line description of a papermill execution error (cell index, error and value)."""
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    index = getattr(exc, "cell_index", None)
    count = getattr(exc, "exec_count", None)
    where = f"cell {index}" if index is not None else "a cell"
    if count is not None:
        where += f" (In [{count}])"
    return f"{where} raised {ename}: {evalue}"


def execute(name: str, out_dir: Path, parameters: dict) -> float:
    """Execute notebook ``name`` into ``out_dir/<name>.ipynb``; return its wall time (s)."""
    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = NOTEBOOK_DIR / f"{name}.md"
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.setdefault("language_info", {"name": "python"})
    output = out_dir / f"{name}.ipynb"
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            nb,
            str(output),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            language="python",
            cwd=str(NOTEBOOK_DIR),
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=True,
            **_engine_options(),
        )
    except PapermillExecutionError as exc:
        raise NotebookFailed(
            f"notebook {name} ({source.relative_to(REPO)}) failed: {_cell_error(exc)}\n"
            f"  the partially executed notebook is {output}"
        ) from exc
    _tidy_parameter_cells(output)
    return time.perf_counter() - start


def _tidy_parameter_cells(path: Path) -> None:
    """Keep the parameter cells out of the reader's way in the rendered book.

    The defaults cell (tag ``parameters``) is removed from the page and papermill's
    ``injected-parameters`` cell (the values actually used) is collapsed, unless the
    notebook already gives either cell a ``remove-*`` or ``hide-*`` tag of its own.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if any(t.startswith(("remove-", "hide-")) for t in tags):
            continue
        if "parameters" in tags:
            tags.append("remove-cell")
        elif "injected-parameters" in tags:
            tags.append("hide-input")
    nbformat.write(nb, path)


def _report_stored(profile: str) -> None:
    """Say how much of the profile's protocol is stored before rendering from it."""
    sys.path.insert(0, str(REPO))
    import rc
    from rc import protocol

    rows = protocol.status(rc.Pipeline(profile, compute=False, progress=False))
    done, total = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"run_book: rendering from stored results only: {done}/{total} results of the "
          f"{profile} protocol are stored", flush=True)
    for name, d, units, _ in rows:
        if d < units:
            print(f"  missing: {name} ({d}/{units})", flush=True)


def _record_timings(path: Path, profile: str, parameters: dict, timings: dict) -> None:
    """Merge this run's wall times into ``path`` (a JSON file beside the executed notebooks)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        record = {}
    runs = record.get("notebooks", {})
    for name, seconds in timings.items():
        runs[name] = {"seconds": round(seconds, 2), "profile": profile,
                      "parameters": parameters}
    path.write_text(json.dumps({"notebooks": runs}, indent=1, default=str) + "\n")


def build_command(root: Path) -> list[str]:
    """The jupyter-book (1.x) build command for the book whose sources are in ``root``."""
    return [
        sys.executable, "-c",
        "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
        "build", str(root), "-W", "-n", "--keep-going",
    ]


def prepare_out(out: Path) -> None:
    """Copy the book's non-notebook sources into ``out`` (for a build outside the repo)."""
    out.mkdir(parents=True, exist_ok=True)
    for rel in BOOK_SOURCES:
        src, dst = REPO / rel, out / rel
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("executed", "__pycache__"))
        else:
            shutil.copy2(src, dst)


def main(argv: list[str] | None = None) -> int:
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
                        help="extra papermill parameter, value parsed as YAML (repeatable)")
    parser.add_argument("--out", type=Path, default=None,
                        help="write executed notebooks to OUT/book/executed and build in "
                             "OUT/_build (sources copied there); default: the repository")
    parser.add_argument("--build", action="store_true",
                        help="then build the book: jupyter-book build -W -n --keep-going")
    parser.add_argument("--compute", action="store_true",
                        help="with --profile paper or full: compute what results/<profile>/ "
                             "lacks instead of stopping (hours on a CPU; `make paper` and "
                             "`make full` are the resumable ways)")
    parser.add_argument("--list", action="store_true", help="print the notebook order and exit")
    args = parser.parse_args(argv)

    if args.list:
        print("\n".join(NOTEBOOKS))
        return 0

    selected = [_normalise_name(n) for n in args.only] or list(NOTEBOOKS)
    names = [n for n in NOTEBOOKS if n in selected]
    missing = [n for n in names if not (NOTEBOOK_DIR / f"{n}.md").exists()]
    for n in missing:
        print(f"run_book: note: notebooks/{n}.md does not exist yet; skipped", file=sys.stderr)
    names = [n for n in names if n not in missing]

    parameters = {"profile": args.profile}
    if args.profile in ("paper", "full") and not args.compute:
        # the paper and full profiles render from stored results (results/<profile>/,
        # made by `make paper` on a GPU or `make full` over hours on a CPU); a missing
        # result stops the run with a message naming it
        parameters["compute"] = False
    for key, value in args.parameter:
        parameters[key] = _parse_value(value)
    if parameters.get("recompute") is True:
        # one point in time for all notebooks: each cached result is recomputed once per
        # run, not once per notebook that uses it (see rc.cache.Cache)
        parameters["recompute"] = time.time()

    if parameters.get("compute") is False:
        _report_stored(parameters["profile"])

    root = REPO if args.out is None else args.out.resolve()
    if args.out is not None:
        prepare_out(root)
    out_dir = root / "book" / "executed"
    out_dir.mkdir(parents=True, exist_ok=True)

    # The kernel inherits this environment: the inline backend makes figures displayable
    # and gluable whatever MPLBACKEND the caller has set.
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    kernel_dir = _kernel_dir()
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(kernel_dir), os.environ.get("JUPYTER_PATH", "")) if p
    )

    from tqdm.auto import tqdm

    print(f"run_book: profile={args.profile} parameters={parameters} -> {out_dir}", flush=True)
    timings: dict[str, float] = {}
    total = time.perf_counter()
    try:
        bar = tqdm(names, desc="notebooks", unit="nb", file=sys.stdout)
        for name in bar:
            bar.set_postfix_str(name)
            timings[name] = execute(name, out_dir, parameters)
            tqdm.write(f"  {name}: {timings[name]:.1f} s", file=sys.stdout)
        bar.close()
    except NotebookFailed as exc:
        print(f"run_book: ERROR: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(kernel_dir, ignore_errors=True)
    print(f"run_book: executed {len(names)} notebook(s) in "
          f"{time.perf_counter() - total:.1f} s", flush=True)
    _record_timings(out_dir / "timings.json", args.profile, parameters, timings)

    if args.build:
        start = time.perf_counter()
        print(f"run_book: building the book in {root / '_build' / 'html'}", flush=True)
        result = subprocess.run(build_command(root), cwd=root)
        if result.returncode != 0:
            print(f"run_book: ERROR: jupyter-book build failed (exit {result.returncode})",
                  file=sys.stderr)
            return result.returncode
        print(f"run_book: book built in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
