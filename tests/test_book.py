"""The book: consistency of its sources (fast) and an end-to-end build (e2e).

The e2e test executes every notebook with the ``ci`` profile through
``scripts/run_book.py`` and builds the book with ``jupyter-book build -W -n --keep-going``
in a temporary folder (the repository's ``book/executed`` and ``_build`` are left alone).
"""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


def _load_run_book():
    spec = importlib.util.spec_from_file_location("run_book", REPO / "scripts" / "run_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_book = _load_run_book()
NOTEBOOKS = run_book.NOTEBOOKS


def _front_matter(text: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert match, "no YAML front matter"
    return yaml.safe_load(match.group(1))


def _toc_files(entries) -> list[str]:
    files = []
    for entry in entries:
        if "file" in entry:
            files.append(entry["file"])
        for key in ("parts", "chapters", "sections"):
            files.extend(_toc_files(entry.get(key, [])))
    return files


# ----------------------------------------------------------------------------------------
# Fast checks of the sources
# ----------------------------------------------------------------------------------------
def test_toc_lists_the_notebooks_in_run_order():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    assert toc["format"] == "jb-book"
    assert toc["root"] == "book/intro"
    files = _toc_files(toc.get("parts", []) + toc.get("chapters", []))
    executed = [f for f in files if f.startswith("book/executed/")]
    assert executed == [f"book/executed/{name}" for name in NOTEBOOKS]
    assert "book/library" in files
    for page in [toc["root"]] + [f for f in files if f not in executed]:
        assert (REPO / f"{page}.md").exists(), page


def test_config_builds_from_executed_notebooks_only():
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["sphinx"]["config"]["nb_execution_mode"] == "off"
    assert config["only_build_toc_files"] is True
    for folder in ("notebooks", "rc", "tests", "scripts", "_build", ".venv", "README.md"):
        assert folder in config["exclude_patterns"], folder
    assert config["bibtex_bibfiles"] == ["book/references.bib"]
    assert config["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert config["repository"]["url"].startswith("https://")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_sources(name):
    """Every listed notebook is a jupytext MyST file with a python3 kernel and parameters."""
    path = REPO / "notebooks" / f"{name}.md"
    assert path.exists(), f"{path} is listed in scripts/run_book.py but missing"
    text = path.read_text()
    meta = _front_matter(text)
    assert meta["jupytext"]["text_representation"]["format_name"] == "myst"
    assert meta["kernelspec"]["name"] == "python3"
    params = re.search(r"```\{code-cell\}[^\n]*\n:tags: \[[^\]]*\bparameters\b[^\]]*\]\n(.*?)```",
                       text, re.S)
    assert params, f"{name}: no code cell tagged 'parameters'"
    assert re.search(r"^profile\s*=\s*\"default\"", params.group(1), re.M), \
        f"{name}: the parameters cell must set profile = \"default\""
    assert re.search(r"^recompute\s*=\s*False", params.group(1), re.M), \
        f"{name}: the parameters cell must set recompute = False"
    assert re.search(r"^# ", text[text.index("\n---\n") + 5:], re.M), f"{name}: no title"


def test_every_notebook_source_is_listed():
    sources = sorted(p.stem for p in (REPO / "notebooks").glob("*.md"))
    assert set(sources) <= set(NOTEBOOKS), \
        f"notebooks not in scripts/run_book.py NOTEBOOKS: {set(sources) - set(NOTEBOOKS)}"


def test_citations_resolve_and_one_bibliography():
    bib = (REPO / "book" / "references.bib").read_text()
    keys = set(re.findall(r"^@\w+\{([^,\s]+),", bib, re.M))
    assert {"greff2015binding", "vinh2010information", "vincent2008extracting"} <= keys
    pages = [*(REPO / "book").glob("*.md"), *(REPO / "notebooks").glob("*.md")]
    n_bibliographies = 0
    for page in pages:
        text = page.read_text()
        n_bibliographies += len(re.findall(r"^```\{bibliography\}", text, re.M))
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
            for key in group.split(","):
                assert key.strip() in keys, f"{page.name}: unknown citation key {key!r}"
    assert n_bibliographies == 1
    intro = (REPO / "book" / "intro.md").read_text()
    assert "{bibliography}" in intro
    assert len(set(re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", intro))) >= 3


def test_library_page_mentions_the_public_api():
    import rc

    page = (REPO / "book" / "library.md").read_text()
    missing = [name for name in rc.__all__ if name not in page]
    assert not missing, f"book/library.md does not describe: {missing}"


def test_run_book_cli_rejects_unknown_notebooks():
    with pytest.raises(SystemExit):
        run_book.main(["--only", "no_such_notebook"])
    assert run_book._normalise_name("notebooks/04_results.md") == "04_results"
    assert run_book._normalise_name("04") == "04_results"
    with pytest.raises(SystemExit):
        run_book._normalise_name("0")  # ambiguous prefix
    assert run_book._parse_value("true") is True
    assert run_book._parse_value("3") == 3
    assert run_book._parse_value("ci") == "ci"


# ----------------------------------------------------------------------------------------
# End to end: every notebook with the ci profile, then the book with warnings as errors
# ----------------------------------------------------------------------------------------
@pytest.mark.e2e
@pytest.mark.slow
def test_book_builds_end_to_end(tmp_path):
    out = tmp_path / "book"
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "run_book.py"), "--profile", "ci",
         "--out", str(out), "--build"],
        cwd=REPO, capture_output=True, text=True,
    )
    seconds = time.perf_counter() - start
    log = result.stdout[-6000:] + "\n" + result.stderr[-6000:]
    assert result.returncode == 0, f"run_book.py failed ({seconds:.0f} s):\n{log}"

    html = out / "_build" / "html"
    assert (html / "index.html").exists()
    assert (html / "book" / "intro.html").exists()
    assert (html / "book" / "library.html").exists()
    for name in NOTEBOOKS:
        executed = out / "book" / "executed" / f"{name}.ipynb"
        assert executed.exists(), name
        nb = json.loads(executed.read_text())
        outputs = [o for cell in nb["cells"] for o in cell.get("outputs", [])]
        errors = [o for o in outputs if o.get("output_type") == "error"]
        assert not errors, f"{name}: error outputs {[e.get('ename') for e in errors]}"
        injected = [c for c in nb["cells"]
                    if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
        assert injected and "profile = \"ci\"" in "".join(injected[0]["source"]), name
        page = html / "book" / "executed" / f"{name}.html"
        assert page.exists(), f"no HTML page for {name}"
        has_figure = any("image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {})
                         for o in outputs)
        if has_figure:
            assert "<img" in page.read_text(), f"{name}: a figure was made but none is shown"
    intro = (html / "book" / "intro.html").read_text()
    assert "greff2015binding" in intro or "Greff" in intro
