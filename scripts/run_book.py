#!/usr/bin/env python
"""Execute the book's notebooks with papermill (and optionally build the book).

The notebooks live in ``notebooks/`` as jupytext MyST-markdown files. For every notebook
of :data:`NOTEBOOKS` that exists, in that (dependency) order, this script

1. converts the ``.md`` file to an in-memory ``.ipynb`` with jupytext (kernel ``python3``),
2. executes it with papermill, injecting ``profile`` (and any ``-p key value``) after the
   cell tagged ``parameters``, with the notebooks folder as working directory and this
   checkout first on the kernel's import path (:func:`kernel_env`),
3. writes the executed notebook to ``book/executed/<name>.ipynb``.

The book itself is built from those executed notebooks with execution turned off
(``_config.yml``), by ``jupyter-book build . -W -n --keep-going`` or ``--build`` here.

Examples::

    python scripts/run_book.py --profile ci --build
    python scripts/run_book.py --profile default --only 04_results -p recompute True
    python scripts/run_book.py --profile ci --out /tmp/book --build   # leaves the repo's
                                                                       # book/ and _build/ alone

A ``-p`` name must be one that the notebooks' ``parameters`` cells assign
(:func:`notebook_parameters`: ``recompute``, ``settings``, ``compute``), and its value
must be one that the notebooks take (:func:`check_parameters`); anything else is refused
in one line (exit status 2) before any kernel starts. A profile setting such as
``n_iters`` goes inside ``settings``: ``-p settings '{n_iters: 20}'``.

A failing cell stops the run with exit status 1 and a message naming the notebook and the
cell's error; the partially executed notebook is kept in the output folder for inspection.

Every run adds a record of its time to ``book/executed/time_record.json`` (the last
:data:`KEPT_RUNS` runs): the date, the machine, the profile, whether the data and results
caches were cold, the wall time of every notebook and cell (papermill's cell timings), of
the book's build, and of every cached computation (training, RC, data generation), which
the kernels append through ``rc.cache.timed``, and every notebook kernel's peak resident
memory (:class:`KernelMemory`: the kernel process's own high-water mark, which Linux keeps,
read after every cell, plus what its child processes held). The run ends by printing the
notebooks' peaks and the ten slowest cells and computations; ``--report`` prints that
summary for the last recorded run.

Several runs may execute at once (in one checkout or several): each talks to its kernels
through sockets in a private temporary folder, and writes a notebook into the output
folder only once it is executed.

``--jobs`` runs that many notebooks at a time (each in a worker process with its own
kernel). The default, ``auto``, runs two at a time on a machine with at least two cores
when the last recorded run of the same notebooks, profile and parameters, into the same
folder and with the same caches, finished with the same code (:func:`code_digest`), so
that everything it computed is stored, and one at a time otherwise: a cached
re-run spends its time starting kernels, importing and drawing, which two kernels share
well between two cores, while training in two kernels at once would only compete for
them. The numbers do not depend on it: a cache entry is computed under a lock (see
:mod:`rc.cache`), so notebooks that need the same missing result compute it once, in
whichever order they run.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
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

#: The book's time record, beside the executed notebooks, and how many runs it keeps.
RECORD_NAME = "time_record.json"
KEPT_RUNS = 10

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


def _run_dir() -> Path:
    """A private temporary folder for this run: a Jupyter data folder whose ``python3``
    kernel runs *this* interpreter (``kernels/``), the kernels' connection files
    (``runtime/``) and IPC sockets (``ipc/``), and the notebooks' timings.

    Its ``kernels`` folder is prepended to JUPYTER_PATH so that a ``python3`` kernelspec
    elsewhere (a user folder, a system install) cannot make papermill run the notebooks in
    another environment; private sockets let several runs execute at once.
    """
    root = Path(tempfile.mkdtemp(prefix="rc-book-"))
    spec_dir = root / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    (root / "runtime").mkdir()
    (root / "ipc").mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNELSPEC["display_name"],
        "language": "python",
        "metadata": {"debugger": False},
        # jupyter_client fills in $NAME from the environment: a literal $ is written $$
        "env": {key: value.replace("$", "$$") for key, value in kernel_env().items()},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return root


def kernel_env() -> dict[str, str]:
    """What the kernels' environment adds to this process's: this checkout first on
    ``PYTHONPATH``, so that a notebook imports the ``rc`` beside it. (An editable install
    points at one clone only; with a virtual environment shared by two clones, the other
    clone's notebooks would otherwise run this one's library.)"""
    inherited = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    return {"PYTHONPATH": os.pathsep.join([str(REPO)] + [p for p in inherited
                                                        if p and p != str(REPO)])}


def _engine_options(run_dir: Path, name: str) -> dict:
    """nbclient options: on POSIX talk to the kernel over IPC sockets in this run's own
    folder, named after the notebook (not TCP, and not in the notebooks' folder, where
    runs would collide; kernels started side by side would race for the same names)."""
    if os.name != "posix":
        return {}
    from traitlets.config import Config

    return {"config": Config({"KernelManager": {"transport": "ipc",
                                                "ip": str(run_dir / "ipc" / name)}})}


def _remove_stale_sockets(folder: Path) -> list[Path]:
    """Remove the ``kernel-ipc-*`` sockets that older versions of this script left in
    ``folder`` when a run was killed (only those nothing listens on any more)."""
    removed = []
    for path in folder.glob("kernel-ipc-*"):
        try:
            if not stat.S_ISSOCK(path.lstat().st_mode):
                continue
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(1.0)
                probe.connect(str(path))
        except ConnectionRefusedError:
            path.unlink(missing_ok=True)
            removed.append(path)
        except OSError:
            continue
    return removed


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


def execute(name: str, out_dir: Path, parameters: dict, run_dir: Path,
            memory: KernelMemory | None = None) -> float:
    """Execute notebook ``name`` into ``out_dir/<name>.ipynb``; return its wall time (s).

    The notebook is executed into ``run_dir`` and copied into ``out_dir`` (atomically) when
    it is done or has failed, so that runs writing the same output folder do not collide.
    With ``memory``, its kernel's peak resident memory is read after every cell.
    """
    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = NOTEBOOK_DIR / f"{name}.md"
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.setdefault("language_info", {"name": "python"})
    work = run_dir / f"{name}.ipynb"
    output = out_dir / f"{name}.ipynb"
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            nb,
            str(work),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            language="python",
            cwd=str(NOTEBOOK_DIR),
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=True,
            **_engine_options(run_dir, name),
            **({} if memory is None else {"on_cell_executed": memory.cell_executed}),
        )
    except PapermillExecutionError as exc:
        _publish(work, output)
        raise NotebookFailed(
            f"notebook {name} ({source.relative_to(REPO)}) failed: {_cell_error(exc)}\n"
            f"  the partially executed notebook is {output}"
        ) from exc
    _tidy_parameter_cells(work)
    _publish(work, output)
    return time.perf_counter() - start


#: Metadata that papermill and nbclient write into an executed notebook and that differs
#: on every run: times (the time record keeps them), the temporary output path, and the
#: input notebook, which papermill copies whole (with random cell ids) when it is given
#: one in memory. The published copy leaves them out.
_VOLATILE_NOTEBOOK = ("start_time", "end_time", "duration", "output_path", "input_path")
_VOLATILE_CELL = ("start_time", "end_time", "duration")


def _stable(text: str) -> str:
    """An executed notebook (JSON text) without its timing metadata, its cells numbered
    in order (``cell-0``, ...) instead of the random ids that jupytext and papermill give
    them on every run."""
    import nbformat

    nb = nbformat.reads(text, as_version=4)
    for key in _VOLATILE_NOTEBOOK:
        nb.metadata.get("papermill", {}).pop(key, None)
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index}"
        cell.metadata.pop("execution", None)
        for key in _VOLATILE_CELL:
            cell.metadata.get("papermill", {}).pop(key, None)
    return nbformat.writes(nb)


def _publish(work: Path, output: Path) -> None:
    """Copy an executed notebook, if there is one, into the output folder (atomically)
    as :func:`_stable` makes it. An output that holds the same notebook already is left
    as it is, so that the book's build, which rebuilds the pages whose sources are newer
    than its last build, skips a page whose notebook gave the same outputs."""
    from rc.storage import atomic_write

    if not work.is_file():
        return
    content = work.read_bytes()
    try:
        content = _stable(content.decode("utf-8")).encode("utf-8")
    except Exception:  # noqa: BLE001 - a notebook cut short is published as it is
        pass
    try:
        if output.read_bytes() == content:
            return
    except OSError:
        pass
    atomic_write(output, lambda handle: handle.write(content))


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


def _execute_job(name: str, out_dir: Path, parameters: dict, run_dir: Path) -> float:
    """:func:`execute` in a worker process, whose kernel appends the timings of its cached
    computations to ``run_dir/<name>.timings.jsonl``."""
    from rc.cache import TIME_RECORD

    os.environ[TIME_RECORD] = str(run_dir / f"{name}.timings.jsonl")
    memory = KernelMemory()
    try:
        with memory:
            return execute(name, out_dir, parameters, run_dir, memory)
    finally:
        (run_dir / f"{name}.memory.json").write_text(json.dumps(memory.record()))


def _usable_cores() -> int:
    return (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1)


def code_digest() -> str:
    """SHA-256 of the code that determines the notebooks' results and outputs: the
    library (``rc/**/*.py``) and the notebooks (``notebooks/*.md``)."""
    import hashlib

    digest = hashlib.sha256()
    files = sorted([*(REPO / "rc").rglob("*.py"), *NOTEBOOK_DIR.glob("*.md")])
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _last_run(record_path: Path, names: list[str], parameters: dict,
              caches: dict) -> dict | None:
    """The last recorded run of the same notebooks (or more) and parameters with the
    same data and results folders, if the record holds one."""
    try:
        runs = json.loads(record_path.read_text())["runs"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    folders = {k: v.get("folder") for k, v in caches.items()}
    for run in reversed(runs):
        if (run.get("parameters") == parameters
                and {k: v.get("folder") for k, v in run.get("caches", {}).items()} == folders
                and set(names) <= {nb.get("name") for nb in run.get("notebooks", [])}):
            return run
    return None


def choose_jobs(requested: str, last: dict | None, code: str, caches: dict
                ) -> tuple[int, str]:
    """How many notebooks to run at a time, and why (``--jobs``; see the module's text).

    ``auto`` runs two at a time when the last run of these notebooks (``last``) finished
    with the same code (``code``, :func:`code_digest`): everything it computed is stored
    under the same keys, so this run only loads. Otherwise one at a time.
    """
    if requested != "auto":
        return int(requested), "as asked (--jobs)"
    if _usable_cores() < 2:
        return 1, "one core"
    if caches["results"]["cold"]:
        return 1, "the results cache is empty"
    if last is None or last.get("status") != "ok":
        return 1, "no finished run of these notebooks and parameters is recorded here"
    if last.get("code") != code:
        return 1, f"the code changed since the last run ({last.get('date')})"
    return 2, (f"the last run ({last.get('date')}) finished with the same code: its "
               "results are stored")


def _longest_first(names: list[str], last: dict | None) -> list[str]:
    """``names`` with the notebooks that took longest in the ``last`` run first (those
    without a time keep their book order, first)."""
    seconds = {nb["name"]: nb.get("seconds") or 0.0 for nb in (last or {}).get("notebooks", [])}
    return sorted(names, key=lambda n: -seconds.get(n, float("inf")))


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


# ------------------------------------------------------------------------- kernel memory
MIB = 2**20


def _proc_status_bytes(pid: int, field: str) -> int | None:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmHWM``, ``VmRSS``) in bytes; None where
    there is no such file (not Linux, or the process has ended)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class KernelMemory:
    """The peak resident memory (RSS) of the kernel that executes one notebook.

    It runs in the process that runs papermill, of which the kernel is a child process
    (the one whose command line runs ``ipykernel_launcher``; one at a time per worker).
    What the time record keeps, in MiB:

    * ``kernel_peak_mib``: the kernel process's own high-water mark of resident memory,
      ``VmHWM`` in ``/proc/<pid>/status``, which the Linux kernel maintains page by page:
      an exact peak over the kernel's whole life, not a sample. It is read after every
      cell (nbclient's ``on_cell_executed`` hook, so that each cell's record gains the
      kernel's peak up to the end of that cell: where the memory went) and every
      :attr:`interval` seconds by a thread, whose last reading before the kernel stops
      covers the last cell. Where there is no ``/proc`` (not Linux) it is the largest
      sampled RSS (psutil) instead, and ``method`` says so.
    * ``children_peak_mib``: the largest sum of the RSS of the kernel's own child
      processes (a data loader's workers, a pool; the book's notebooks start none today),
      sampled every :attr:`interval` seconds, so a shorter spike there can be missed.
    * ``peak_rss_mib``: their sum, what the notebook's kernel held at most (an upper
      bound when both peaks were not at the same moment).

    Resident memory counts the pages of shared libraries (torch's, about 0.2 GB) that the
    kernel has touched, as a container's memory limit would charge them once.
    """

    interval = 0.1

    def __init__(self, parent: int | None = None):
        self.parent = os.getpid() if parent is None else parent
        self.kernel: int | None = None
        self.kernel_peak = 0
        self.children_peak = 0
        # Linux keeps each process's high-water mark; elsewhere the RSS is sampled
        self.exact = _proc_status_bytes(os.getpid(), "VmHWM") is not None
        self.method = ("VmHWM of the kernel process" if self.exact
                       else "sampled RSS of the kernel process (psutil)")
        self.cells: dict[int, int] = {}
        self._stop = None
        self._thread = None

    def _find_kernel(self):
        """The kernel process (psutil), found among this process's children once."""
        import psutil

        try:
            if self.kernel is not None:
                return psutil.Process(self.kernel)
            for child in psutil.Process(self.parent).children():
                if any("ipykernel_launcher" in part for part in child.cmdline()):
                    self.kernel = child.pid
                    return child
        except psutil.Error:
            pass
        return None

    def sample(self) -> None:
        """Read the kernel's high-water mark and its children's resident memory now."""
        import psutil

        kernel = self._find_kernel()
        if kernel is None:
            return
        peak = _proc_status_bytes(kernel.pid, "VmHWM") if self.exact else None
        if self.exact and peak is None:
            return  # the kernel has ended (a zombie has no memory left)
        children = 0
        try:
            if peak is None:
                peak = kernel.memory_info().rss
            for child in kernel.children(recursive=True):
                try:
                    children += child.memory_info().rss
                except psutil.Error:
                    continue
        except psutil.Error:
            pass
        self.kernel_peak = max(self.kernel_peak, peak or 0)
        self.children_peak = max(self.children_peak, children)

    def cell_executed(self, cell=None, cell_index: int | None = None, **_) -> None:
        """nbclient's ``on_cell_executed`` hook: the kernel's peak up to this cell's end."""
        self.sample()
        if cell_index is not None:
            self.cells[int(cell_index)] = self.kernel_peak + self.children_peak

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> KernelMemory:
        import threading

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kernel-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def record(self) -> dict:
        """What the time record keeps of this kernel (MiB; None: no kernel was seen)."""
        seen = self.kernel is not None

        def mib(value: int) -> float | None:
            return round(value / MIB, 1) if seen else None

        return {"peak_rss_mib": mib(self.kernel_peak + self.children_peak),
                "kernel_peak_mib": mib(self.kernel_peak),
                "children_peak_mib": mib(self.children_peak), "method": self.method,
                "cells": {str(i): round(v / MIB, 1) for i, v in sorted(self.cells.items())}}


def _memory(path: Path) -> dict:
    """What :class:`KernelMemory` wrote to ``path`` (empty if nothing)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# ------------------------------------------------------------------------- time record
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
    return {"cpu": model, "cores": os.cpu_count(), "usable_cores": _usable_cores(),
            "memory_gib": memory, "load_average": (list(os.getloadavg())
                                                   if hasattr(os, "getloadavg") else None),
            "platform": platform.platform(), "python": platform.python_version()}


def _cache_state(profile: str) -> dict:
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


def _notebook_record(name: str, seconds: float | None, run_dir: Path) -> dict:
    """A notebook's wall time, cells and cached computations, and its kernel's peak
    resident memory (:class:`KernelMemory`): ``peak_rss_mib`` and, in ``memory``, how it
    was measured; each cell gains ``peak_rss_mib``, the kernel's peak up to its end."""
    memory = _memory(run_dir / f"{name}.memory.json")
    by_cell = memory.pop("cells", {})
    cells = _cell_times(run_dir / f"{name}.ipynb")
    for cell in cells:
        if str(cell["index"]) in by_cell:
            cell["peak_rss_mib"] = by_cell[str(cell["index"])]
    return {"name": name, "seconds": None if seconds is None else round(seconds, 2),
            "peak_rss_mib": memory.get("peak_rss_mib"), "memory": memory, "cells": cells,
            "computations": _computations(run_dir / f"{name}.timings.jsonl")}


def _save_run(path: Path, run: dict) -> None:
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


def _refuse(message: str):
    """Stop with a one-line error and exit status 2 (arguments that cannot work)."""
    print(f"run_book: ERROR: {message}", file=sys.stderr)
    raise SystemExit(2)


def notebook_parameters(name: str) -> tuple[str, ...]:
    """The names that the cell tagged ``parameters`` of notebook ``name`` assigns: what
    papermill may set in it (``-p``)."""
    import ast

    import jupytext

    for cell in jupytext.read(NOTEBOOK_DIR / f"{name}.md").cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            targets = [t for node in ast.parse(cell.source).body
                       if isinstance(node, (ast.Assign, ast.AnnAssign))
                       for t in (node.targets if isinstance(node, ast.Assign)
                                 else [node.target])]
            return tuple(t.id for t in targets if isinstance(t, ast.Name))
    return ()


def _settings_value(text: str, profile: str) -> dict | None:
    """``-p settings TEXT``: a YAML mapping of changes to the profile's settings that
    :meth:`rc.config.Profile.replace` accepts, or a one-line error."""
    import yaml

    from rc.config import get_profile

    example = "e.g. -p settings '{n_iters: 20}'"
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "it cannot be parsed"
        mark = getattr(exc, "problem_mark", None)
        where = f" at column {mark.column + 1}" if mark is not None else ""
        _refuse(f"-p settings {text!r} is not valid YAML ({problem}{where}); give a "
                f"mapping of profile settings, {example}")
    if value is None:  # no changes, as the notebooks' default {}
        return value
    if not isinstance(value, dict):
        _refuse(f"-p settings {text!r}: give a mapping of profile settings, {example}; "
                f"got {value!r}")
    try:
        get_profile(profile).replace(**{str(k): v for k, v in value.items()})
    except (TypeError, ValueError) as exc:
        _refuse(f"-p settings {text!r}: {exc}")
    return value


def _parameter_value(key: str, text: str, profile: str):
    """The value of ``-p KEY TEXT`` as the notebooks take it, or a one-line error that
    names the parameter and the values it accepts."""
    if key == "settings":
        return _settings_value(text, profile)
    value = _parse_value(text)
    if key == "compute" and not isinstance(value, bool):
        _refuse(f"-p compute {text!r}: give true (compute what is missing) or false (only "
                f"load stored results)")
    if key == "recompute" and not (isinstance(value, bool) or (
            isinstance(value, (int, float)) and 0 <= value < float("inf"))):
        _refuse(f"-p recompute {text!r}: give true (recompute every cached result once), "
                f"false, or a UNIX time (recompute what was stored before it)")
    return value


def check_parameters(pairs, names: list[str], profile: str) -> dict:
    """The ``-p`` (key, text) ``pairs`` as the values to inject into notebooks ``names``.

    A key must be assigned by the ``parameters`` cell of one of them
    (:func:`notebook_parameters`) and its value be one they take; anything else stops the
    run with a one-line error (exit status 2) naming the parameter, before any kernel
    starts. A profile setting given as a parameter is pointed to ``settings``.
    """
    import dataclasses

    from rc.config import Profile

    names = names or [n for n in NOTEBOOKS if (NOTEBOOK_DIR / f"{n}.md").exists()]
    known = sorted({key for name in names for key in notebook_parameters(name)} - {"profile"})
    settings = {f.name for f in dataclasses.fields(Profile)}
    values = {}
    for key, text in pairs:
        if key not in known:
            hint = (f"; {key} is a profile setting: pass it inside settings, e.g. -p "
                    f"settings '{{{key}: {text}}}'" if key in settings else "")
            _refuse(f"-p {key}: not a parameter of the notebooks (they take "
                    f"{', '.join(known)}; --profile chooses the profile){hint}")
        values[key] = _parameter_value(key, text, profile)
    return values


def _check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """One-line errors (exit status 2) for arguments that cannot work."""
    fail = _refuse
    if args.compute and args.profile not in ("paper", "full"):
        fail("--compute applies to --profile paper or full only (the others compute)")
    for key, _ in args.parameter:
        if not key.isidentifier():
            fail(f"-p {key!r}: a parameter name must be a Python identifier")
        if key == "profile":
            fail("-p profile: choose the profile with --profile")
    if args.jobs != "auto" and not (args.jobs.isdigit() and int(args.jobs) >= 1):
        fail(f"--jobs {args.jobs!r}: give a whole number of at least 1, or auto")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        fail(f"--out {args.out} is a file, not a folder")


def _writable_out(root: Path, copy_sources: bool) -> Path:
    """``root/book/executed``, created (with the book's sources when ``copy_sources``) and
    checked to be writable; a one-line error (exit status 2) if it is not."""
    out_dir = root / "book" / "executed"
    try:
        if copy_sources:
            prepare_out(root)
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        print(f"run_book: ERROR: cannot write the executed notebooks to {out_dir}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return out_dir


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
    parser.add_argument("--jobs", default="auto", metavar="N",
                        help="notebooks executed at a time: a number, or auto (the default: "
                             "2 on two or more cores when the last run of these notebooks "
                             "finished with the same code, else 1)")
    parser.add_argument("--list", action="store_true", help="print the notebook order and exit")
    parser.add_argument("--report", action="store_true",
                        help=f"print the last run of the time record (book/executed/"
                             f"{RECORD_NAME}, or OUT's) and exit")
    args = parser.parse_args(argv)

    if args.list:
        print("\n".join(NOTEBOOKS))
        return 0
    root = REPO if args.out is None else args.out.resolve()
    if args.report:
        return print_report(root / "book" / "executed" / RECORD_NAME)
    _check_arguments(parser, args)

    selected = [_normalise_name(n) for n in args.only] or list(NOTEBOOKS)
    names = [n for n in NOTEBOOKS if n in selected]
    missing = [n for n in names if not (NOTEBOOK_DIR / f"{n}.md").exists()]
    for n in missing:
        print(f"run_book: note: notebooks/{n}.md does not exist yet; skipped", file=sys.stderr)
    names = [n for n in names if n not in missing]
    sys.path.insert(0, str(REPO))
    given = check_parameters(args.parameter, names, args.profile)

    # compute is always injected, so that a launch's RC_PROFILE/RC_COMPUTE in the shell
    # (rc.config.launch) cannot change what the book runs
    parameters = {"profile": args.profile, "compute": True}
    if args.profile in ("paper", "full") and not args.compute:
        # the paper and full profiles render from stored results (results/<profile>/,
        # made by `make paper` on a GPU or `make full` over hours on a CPU); a missing
        # result stops the run with a message naming it
        parameters["compute"] = False
    parameters.update(given)
    if parameters.get("recompute") is True:
        # one point in time for all notebooks: each cached result is recomputed once per
        # run, not once per notebook that uses it (see rc.cache.Cache)
        parameters["recompute"] = time.time()

    out_dir = _writable_out(root, copy_sources=args.out is not None)
    from rc.storage import git_commit

    if parameters.get("compute") is False:
        _report_stored(parameters["profile"])

    # The kernel inherits this environment: the inline backend makes figures displayable
    # and gluable whatever MPLBACKEND the caller has set.
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    run_dir = _run_dir()
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(run_dir), os.environ.get("JUPYTER_PATH", "")) if p
    )
    os.environ["JUPYTER_RUNTIME_DIR"] = str(run_dir / "runtime")
    for path in _remove_stale_sockets(NOTEBOOK_DIR):
        print(f"run_book: removed {path.relative_to(REPO)}, a socket left by a killed run",
              flush=True)

    from tqdm.auto import tqdm

    record_path = out_dir / RECORD_NAME
    caches, code = _cache_state(args.profile), code_digest()
    last = _last_run(record_path, names, parameters, caches)
    jobs, why = choose_jobs(args.jobs, last, code, caches)
    order = names if jobs == 1 else _longest_first(names, last)
    print(f"run_book: profile={args.profile} parameters={parameters} -> {out_dir}\n"
          f"run_book: {jobs} notebook(s) at a time ({why})", flush=True)
    started = time.perf_counter()
    run = {"id": f"{time.time():.6f}-{os.getpid()}",
           "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "machine": _machine(), "profile": args.profile, "parameters": parameters,
           "commit": git_commit(), "code": code, "caches": caches, "jobs": jobs,
           "status": "interrupted", "notebooks": [], "notebooks_seconds": None,
           "build_seconds": None, "wall_seconds": None}
    status, seconds, failed = 0, {}, None
    try:
        with ProcessPoolExecutor(max_workers=jobs,
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_execute_job, name, out_dir, parameters, run_dir): name
                       for name in order}
            bar = tqdm(total=len(names), desc="notebooks", unit="nb", file=sys.stdout)
            for future in as_completed(futures):
                name = futures[future]
                try:
                    seconds[name] = future.result()
                except Exception as exc:  # noqa: BLE001 - reported below, in one line
                    if not isinstance(exc, NotebookFailed):
                        exc = NotebookFailed(f"notebook {name} could not be executed: "
                                             f"{type(exc).__name__}: {exc}")
                    failed = failed or (name, exc)
                    for other in futures:  # a failure stops the run: start no other
                        other.cancel()
                    continue
                bar.update()
                tqdm.write(f"  {name}: {seconds[name]:.1f} s", file=sys.stdout)
            bar.close()
        run["status"] = "ok" if failed is None else f"failed in {failed[0]}"
        if failed is not None:
            print(f"run_book: ERROR: {failed[1]}", file=sys.stderr)
            status = 1
    finally:
        run["notebooks"] = [_notebook_record(name, seconds.get(name), run_dir) for name in names
                            if name in seconds or (failed and name == failed[0])]
        elapsed = round(time.perf_counter() - started, 2)
        run["notebooks_seconds"] = run["wall_seconds"] = elapsed
        _save_run(record_path, run)
        shutil.rmtree(run_dir, ignore_errors=True)
    print(f"run_book: executed {len(run['notebooks'])} notebook(s) in "
          f"{run['notebooks_seconds']:.1f} s", flush=True)

    if args.build and status == 0:
        start = time.perf_counter()
        print(f"run_book: building the book in {root / '_build' / 'html'}", flush=True)
        result = subprocess.run(build_command(root), cwd=root)
        run["build_seconds"] = round(time.perf_counter() - start, 2)
        run["wall_seconds"] = round(time.perf_counter() - started, 2)
        if result.returncode != 0:
            print(f"run_book: ERROR: jupyter-book build failed (exit {result.returncode})",
                  file=sys.stderr)
            run["status"] = f"build failed (exit {result.returncode})"
            status = result.returncode
        else:
            print(f"run_book: book built in {run['build_seconds']:.1f} s", flush=True)
        _save_run(record_path, run)
    print(f"run_book: time record {record_path}\n{report(run)}", flush=True)
    return status


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. `| head`)
        sys.stderr.close()
        sys.exit(0)
