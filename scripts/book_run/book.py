"""The book's layout: the repository, its notebooks in execution order, the sources of a
build outside the repository, the folder the executed notebooks go to, and the command
that builds the book."""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
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

#: Files and folders (relative to the repository) that make up the book's sources besides
#: the executed notebooks; copied when building outside the repository (``--out``).
BOOK_SOURCES: tuple[str, ...] = ("_config.yml", "_toc.yml", "book")


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


def writable_out(root: Path, copy_sources: bool) -> Path:
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
