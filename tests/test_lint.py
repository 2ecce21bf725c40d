"""Code style: ruff on the library, tests and scripts (settings in pyproject.toml), and on
the notebooks' code cells, whose lines must fit the book's code cells (88 characters)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.md"))
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)
#: Widest line of a notebook's code that the book shows without scrolling.
BOOK_CODE_WIDTH = 88


def _ruff(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=REPO, input=stdin,
                          capture_output=True, text=True, timeout=300)


pytestmark = pytest.mark.skipif(shutil.which("ruff") is None and _ruff("--version").returncode,
                                reason="ruff is not installed")


def test_ruff_is_clean_on_the_library_tests_and_scripts():
    out = _ruff("check", "rc", "tests", "scripts", "benchmarks")
    assert out.returncode == 0, out.stdout + out.stderr


def _code(path: Path) -> str:
    """The notebook's code cells as one Python source (cell options dropped)."""
    cells = [re.sub(r"^:[a-z_]+:.*\n", "", c, flags=re.M) for c in CELL.findall(path.read_text())]
    return "\n\n".join(cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_code_is_clean_and_fits_the_page(path):
    out = _ruff("check", "--select", "F,E501", "--ignore", "F811",
                f"--line-length={BOOK_CODE_WIDTH}", "--stdin-filename", f"{path.stem}.py", "-",
                stdin=_code(path))
    assert out.returncode == 0, out.stdout + out.stderr


#: The longest function the library may have (lines from ``def`` to its end).
MAX_FUNCTION_LINES = 80


def test_no_function_of_the_library_is_longer_than_80_lines():
    import ast

    long = []
    for path in sorted((REPO / "rc").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({lines})")
    assert not long, long
