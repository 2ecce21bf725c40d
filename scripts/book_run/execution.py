"""Executing one notebook with papermill: a private Jupyter folder whose ``python3`` kernel
runs this interpreter on this checkout, the execution, and the executed notebook published
without what changes on every run."""
from __future__ import annotations

import json
import os
import socket
import stat
import sys
import tempfile
import time
from pathlib import Path

from .book import NOTEBOOK_DIR, REPO
from .kernel_memory import KernelMemory

KERNEL_NAME = "python3"
KERNELSPEC = {"name": KERNEL_NAME, "display_name": "Python 3 (ipykernel)", "language": "python"}


class NotebookFailed(RuntimeError):
    """A notebook raised while being executed."""


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


def prepare_kernels() -> Path:
    """Set this process's environment for the kernels it starts and return this run's
    private folder (:func:`_run_dir`); remove the sockets that killed runs left."""
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
    return run_dir


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


def execute_job(name: str, out_dir: Path, parameters: dict, run_dir: Path) -> float:
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
