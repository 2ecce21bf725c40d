"""The book: consistency of its sources (fast) and an end-to-end build (e2e).

The e2e tests read one ci world a session (tests/conftest.py): ``scripts/paper.py`` on an
empty folder, then every notebook with the ``ci`` profile from its stored results through
``scripts/run_book.py``, and the book built with ``jupyter-book build -W -n --keep-going``
in a temporary folder (the repository's ``book/executed`` and ``_build`` are left alone);
the notebooks compute on empty caches in the tests that compare against it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from helpers import background_fixture, copy_world_less_one_dataset, load_book_run, load_script
from helpers import run_book as _run_book

REPO = Path(__file__).resolve().parent.parent


run_book = load_script("run_book")
arguments, execution, jobs = (load_book_run(m) for m in ("arguments", "execution", "jobs"))
NOTEBOOKS = run_book.NOTEBOOKS


# shared_ci_book (the ci protocol run once a session on an empty folder, then the book
# from its stored results) is in conftest.py


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
    assert re.search(r"^recompute_before\s*=\s*None", params.group(1), re.M), \
        f"{name}: the parameters cell must set recompute_before = None"
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


def test_library_page_maps_every_paper_element_to_its_home():
    from rc.paper import ELEMENTS, WITH_CLAIMS, home

    page = (REPO / "book" / "library.md").read_text()
    for element, module in ELEMENTS.items():
        row = re.search(rf"^\| {element} \|.*$", page, re.M)
        assert row, f"book/library.md has no row for {element}"
        assert f"rc.paper.{module}" in row.group(0), element
        if element in WITH_CLAIMS:
            for claim_id in home(element).CLAIM_IDS:
                assert claim_id in row.group(0), f"{element}: claim {claim_id} not listed"


def _code_lines(text: str) -> tuple[int, int]:
    """(code lines, hidden code lines) of a MyST notebook; hidden = removed from the page
    (a ``remove-*`` tag, or the ``parameters`` cell, which run_book.py removes)."""
    total = hidden = 0
    for match in re.finditer(r"```\{code-cell\}[^\n]*\n(.*?)```", text, re.S):
        body = match.group(1)
        tags = re.match(r":tags: \[(.*?)\]\n", body)
        tagset = {t.strip() for t in tags.group(1).split(",")} if tags else set()
        n = sum(1 for line in body[tags.end() if tags else 0:].split("\n") if line.strip())
        total += n
        if "parameters" in tagset or any(t.startswith("remove-") for t in tagset):
            hidden += n
    return total, hidden


def test_at_most_15_percent_of_the_notebook_code_is_hidden():
    counts = [_code_lines((REPO / "notebooks" / f"{n}.md").read_text()) for n in NOTEBOOKS]
    total, hidden = map(sum, zip(*counts))
    assert hidden <= 0.15 * total, f"{hidden} of {total} code lines are hidden"


def test_no_notebook_decides_a_verdict_or_tolerance():
    """Verdicts, thresholds and tolerances come from rc.paper / rc.claims, not notebooks."""
    for name in NOTEBOOKS:
        text = (REPO / "notebooks" / f"{name}.md").read_text()
        code = "\n".join(re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, re.S))
        for pattern in (r"agrees with the paper", r"tolerance\s*=\s*[0-9]",
                        r"margin\s*=\s*[0-9]", r"\b0\.0[35]\b", r"[<>]=?\s*0\.[58]\b"):
            assert not re.search(pattern, code), f"{name}: {pattern!r} in a code cell"


def test_run_book_cli_rejects_unknown_notebooks():
    with pytest.raises(SystemExit):
        run_book.main(["--only", "no_such_notebook"])
    assert arguments._normalise_name("notebooks/04_results.md") == "04_results"
    assert arguments._normalise_name("04") == "04_results"
    with pytest.raises(SystemExit):
        arguments._normalise_name("0")  # ambiguous prefix
    assert arguments._parse_value("true") is True
    assert arguments._parse_value("3") == 3
    assert arguments._parse_value("ci") == "ci"


# ----------------------------------------------------------------------------------------
# End to end: every notebook with the ci profile, then the book with warnings as errors
# ----------------------------------------------------------------------------------------


def _is_profile_line(output: dict) -> bool:
    """The line at a chapter's top that says how the page was made (rc.live.show_profile:
    its profile, and whether it computed or only read stored results)."""
    text = "".join(output.get("data", {}).get("text/markdown", ""))
    return text.startswith("**Profile `")


def _outputs(path: Path) -> list:
    """What a reader sees of an executed notebook's results: every cell's outputs, without
    metadata and without the profile line (it says whether the page computed or read
    stored results, which differs between runs that give the same results)."""
    nb = json.loads(path.read_text())
    cells = []
    for cell in nb["cells"]:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        cells.append([{k: o[k] for k in ("output_type", "name", "text", "data") if k in o}
                      for o in cell.get("outputs", []) if not _is_profile_line(o)])
    return cells


@pytest.mark.e2e
@pytest.mark.slow
def test_book_builds_end_to_end(shared_ci_book):
    out, result, seconds = shared_ci_book[:3]
    assert shared_ci_book.protocol.returncode == 0, shared_ci_book.protocol.stderr[-3000:]
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


def _computed_ci_book(folder: Path, built) -> tuple[Path, subprocess.CompletedProcess, list]:
    """Every chapter with the ci profile computing, two notebooks at a time, on a copy of
    the shared ci world's results less one data set's entries (``folder``/results;
    :data:`helpers.REDO_DATASET`): the book in ``folder``/again, the run, and the entries
    it had to compute (as paths)."""
    results = folder / "results"
    removed, _ = copy_world_less_one_dataset(built("shared_ci_book"), results)
    return (folder / "again", _run_book(folder / "again", results, "--jobs", "2"),
            [results / "ci" / r for r in removed])


#: Built in the background lane (conftest.py) while the other tests run.
BACKGROUND = {"computed_ci_book": _computed_ci_book}


computed_ci_book = background_fixture("computed_ci_book")


@pytest.mark.e2e
@pytest.mark.slow
def test_the_protocol_and_the_notebooks_computing_two_at_a_time_give_identical_outputs(
        shared_ci_book, computed_ci_book):
    """The shared ci book's results were computed one at a time, step after step, by the
    protocol (scripts/paper.py) on an empty folder; the notebooks computing one data set's
    entries again (every kind of entry, in every chapter that shows that data set), two
    notebooks at a time, on a copy of those results less them show the same outputs.
    (Before issue 29 the first of the two was a run of the notebooks one at a time; the
    protocol's single run now serves this test, the dry run of make paper and the book's
    build. Until issue 29's second round the notebooks computed everything, on an empty
    cache: about 90 s more of the background lane.)"""
    first, result, _ = shared_ci_book[:3]
    assert result.returncode == 0
    # two notebooks at a time, computing: the order of the computations and the
    # notebooks computing side by side (under the cache's entry locks) change nothing
    second, rerun, recomputed = computed_ci_book
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert len(recomputed) > 10 and all(p.exists() for p in recomputed)
    for name in NOTEBOOKS:
        a = _outputs(first / "book" / "executed" / f"{name}.ipynb")
        b = _outputs(second / "book" / "executed" / f"{name}.ipynb")
        assert a == b, f"{name}: the notebooks computing show other outputs"


@pytest.mark.e2e
@pytest.mark.slow
def test_two_runs_at_once_both_finish_and_record_their_time(tmp_path):
    """Two runs of a short notebook at the same time, in one checkout, into the same
    output folder and into another, both finish; each leaves its run in the time record."""
    env = {**os.environ, "RC_RESULTS": str(tmp_path / "results")}

    def start(out: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, str(REPO / "scripts" / "run_book.py"), "--profile", "ci",
             "--only", "05", "--out", str(out)], cwd=REPO, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    runs = [start(tmp_path / "a"), start(tmp_path / "a"), start(tmp_path / "b")]
    for run in runs:
        out, err = run.communicate(timeout=1800)
        assert run.returncode == 0, out[-2000:] + err[-3000:]
        assert "slowest cells" in out
    assert not list((REPO / "notebooks").glob("kernel-ipc-*"))
    record_file = tmp_path / "a" / "book" / "executed" / "time_record.json"
    record = json.loads(record_file.read_text())
    assert len(record["runs"]) == 2 and all(r["status"] == "ok" for r in record["runs"])
    run = record["runs"][-1]
    assert run["profile"] == "ci" and run["machine"]["cores"] >= 1
    assert set(run["caches"]) == {"data", "results"}
    (notebook,) = run["notebooks"]
    assert notebook["name"] == "05_appendix_derivation" and notebook["seconds"] > 0
    assert notebook["cells"] and all(c["seconds"] >= 0 for c in notebook["cells"])
    report = subprocess.run([sys.executable, str(REPO / "scripts" / "run_book.py"),
                             "--report", "--out", str(tmp_path / "b")],
                            capture_output=True, text=True)
    assert report.returncode == 0 and "profile ci" in report.stdout


def test_run_book_rejects_bad_arguments_in_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for args in (["--out", str(blocker)], ["--out", str(blocker / "below")],
                 ["--compute"], ["-p", "no name", "1"], ["-p", "profile", "ci"]):
        result = subprocess.run([sys.executable, str(REPO / "scripts" / "run_book.py"),
                                 "--profile", "ci", "--only", "05", *args],
                                cwd=REPO, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("run_book: ERROR:"), (args, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    missing = subprocess.run([sys.executable, str(REPO / "scripts" / "run_book.py"),
                              "--report", "--out", str(tmp_path / "none")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "no readable time record" in missing.stderr


def test_time_record_report_names_the_slowest():
    cells = [{"index": i, "seconds": float(i), "source": f"cell {i}"} for i in range(14)]
    comps = [{"name": f"rc/x{i}", "self_seconds": float(i), "self_cpu_seconds": 1.0}
             for i in range(3)]
    run = {"date": "d", "profile": "ci", "status": "ok", "wall_seconds": 100.0,
           "caches": {"data": {"cold": True, "entries": 0}},
           "notebooks": [{"name": "01_x", "seconds": 90.0, "cells": cells,
                          "computations": comps}]}
    text = run_book.report(run)
    assert "the 10 slowest cells" in text and "cell 13" in text and "cell 3:" not in text
    assert text.index("rc/x2") < text.index("rc/x1") and "data cache cold" in text


#: The chapter that test_a_changed_setting_gives_what_an_empty_cache_gives runs again.
CHANGED_CHAPTER = "02_reconstruction_clustering"


@pytest.mark.e2e
@pytest.mark.slow
def test_a_changed_setting_gives_what_an_empty_cache_gives(tmp_path, shared_ci_book):
    """A chapter ran on the shared ci book's cache; on a copy of that cache, with one
    setting changed, it gives the outputs of a run on an empty cache (nothing stale is
    served). The run "before" is the shared book's own chapter, and the runs on the copy
    and on the empty cache go side by side (issue 29). The chapter is the one on RC
    itself: a table DAE loaded from the copy, RC runs, examples and an animation that
    the changed number of iterations changes, in a tenth of the results chapter's time
    (which this test ran until issue 29)."""
    first, before, _ = shared_ci_book[:3]
    assert before.returncode == 0, before.stderr[-3000:]
    cache = tmp_path / "results"
    shutil.copytree(shared_ci_book.results, cache)
    changed = ("-p", "settings", "{n_iters: 3}")
    # the two runs are independent (two folders): side by side, on two cores (issue 29)
    with ThreadPoolExecutor(2) as pool:
        after, fresh = pool.map(lambda out, results: _run_book(out, results, "--only",
                                                               CHANGED_CHAPTER, *changed),
                                (tmp_path / "after", tmp_path / "fresh"),
                                (cache, tmp_path / "empty"))
    assert after.returncode == 0, after.stderr[-3000:]
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    page = f"book/executed/{CHANGED_CHAPTER}.ipynb"
    assert _outputs(tmp_path / "after" / page) == _outputs(tmp_path / "fresh" / page)
    assert _outputs(tmp_path / "after" / page) != _outputs(first / page)


@pytest.mark.e2e
@pytest.mark.slow
def test_the_built_site_in_a_browser_without_network(shared_ci_book):
    """Every page in headless Chromium, offline: math typeset, images loaded, no errors,
    the paper's figure numbers in the captions; screenshots of every page."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run "
                    "installs them)")
    out, result, _ = shared_ci_book[:3]
    assert result.returncode == 0
    shots = out / "screenshots"
    check = subprocess.run([sys.executable, str(REPO / "scripts" / "check_site.py"),
                            str(out / "_build" / "html"), "--screenshots", str(shots),
                            "--report", str(out / "site-report.json")],
                           cwd=REPO, capture_output=True, text=True, timeout=900)
    assert check.returncode == 0, check.stdout[-4000:] + check.stderr[-2000:]
    report = json.loads((out / "site-report.json").read_text())
    assert len(report) == len(_toc_files(yaml.safe_load((REPO / "_toc.yml").read_text())
                                         ["parts"])) + 1  # every page, the root too
    captions = " ".join(c for page in report.values() for c in page["captions"])
    for number in ("1c", "2b", "3", "4a", "4b", "5", "6a", "6b", "7", "8", "9", "10", "11"):
        assert f"Figure {number}" in captions, number
    # MathJax is served by the site on every page with math (the raw-TeX check is above)
    assert sum(r["mathjax"] for r in report.values()) >= 6
    assert len(list(shots.glob("*.png"))) == len(report)


def test_jobs_two_at_a_time_only_when_the_last_run_finished_with_the_same_code(
        monkeypatch):
    monkeypatch.setattr(jobs, "usable_cores", lambda: 2)
    warm = {"results": {"cold": False}}
    last = {"status": "ok", "date": "d", "code": "abc"}
    assert jobs.choose_jobs("3", None, "abc", warm)[0] == 3
    assert jobs.choose_jobs("auto", None, "abc", warm)[0] == 1
    assert jobs.choose_jobs("auto", last, "abd", warm)[0] == 1
    assert jobs.choose_jobs("auto", {**last, "status": "failed in 01"}, "abc", warm)[0] == 1
    assert jobs.choose_jobs("auto", last, "abc", {"results": {"cold": True}})[0] == 1
    assert jobs.choose_jobs("auto", last, "abc", warm)[0] == 2
    monkeypatch.setattr(jobs, "usable_cores", lambda: 1)
    assert jobs.choose_jobs("auto", last, "abc", warm)[0] == 1


def test_code_digest_follows_the_library_and_the_notebooks(tmp_path, monkeypatch):
    for folder in ("rc", "notebooks"):
        (tmp_path / folder).mkdir()
    (tmp_path / "rc" / "a.py").write_text("x = 1")
    (tmp_path / "notebooks" / "01.md").write_text("# one")
    monkeypatch.setattr(jobs, "REPO", tmp_path)
    monkeypatch.setattr(jobs, "NOTEBOOK_DIR", tmp_path / "notebooks")
    first = jobs.code_digest()
    assert jobs.code_digest() == first
    (tmp_path / "notebooks" / "01.md").write_text("# one, changed")
    assert jobs.code_digest() != first
    (tmp_path / "notebooks" / "01.md").write_text("# one")
    (tmp_path / "rc" / "b.py").write_text("")
    assert jobs.code_digest() != first


def test_last_run_matches_notebooks_parameters_and_cache_folders(tmp_path):
    record = tmp_path / "time_record.json"
    caches = {"data": {"folder": "/d"}, "results": {"folder": "/r"}}
    runs = [{"parameters": {"profile": "ci"}, "caches": caches,
             "notebooks": [{"name": n} for n in ("01", "02")], "id": i} for i in range(2)]
    runs[1]["notebooks"] = [{"name": "01"}]
    record.write_text(json.dumps({"runs": runs}))
    assert jobs._last_run(record, ["01", "02"], {"profile": "ci"}, caches)["id"] == 0
    assert jobs._last_run(record, ["01"], {"profile": "ci"}, caches)["id"] == 1
    assert jobs._last_run(record, ["01"], {"profile": "default"}, caches) is None
    other = {**caches, "results": {"folder": "/other"}}
    assert jobs._last_run(record, ["01"], {"profile": "ci"}, other) is None
    assert jobs._last_run(tmp_path / "none.json", ["01"], {}, caches) is None
    assert jobs._longest_first(["a", "b", "c"], {"notebooks": [
        {"name": "a", "seconds": 1.0}, {"name": "b", "seconds": 5.0}]}) == ["c", "b", "a"]


def test_published_notebooks_are_stable_and_unchanged_ones_are_not_rewritten(tmp_path):
    """Two executions that differ only in times and random ids publish the same bytes,
    and publishing them again leaves the file (and its modification time) alone."""
    import nbformat

    def executed(seed: int) -> Path:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
        nb.cells[0].id = f"random{seed}"
        nb.cells[0].metadata["execution"] = {"iopub.status.idle": f"2026-12-0{seed}"}
        nb.cells[0].metadata["papermill"] = {"duration": seed, "status": "completed"}
        nb.metadata["papermill"] = {"start_time": str(seed), "input_path": {"x": seed},
                                    "parameters": {"profile": "ci"}}
        path = tmp_path / f"work{seed}.ipynb"
        nbformat.write(nb, path)
        return path

    out = tmp_path / "out" / "nb.ipynb"
    execution._publish(executed(1), out)
    published = nbformat.read(out, as_version=4)
    assert published.cells[0].id == "cell-0"
    assert published.cells[0].metadata["papermill"] == {"status": "completed"}
    assert "execution" not in published.cells[0].metadata
    assert published.metadata["papermill"] == {"parameters": {"profile": "ci"}}
    os.utime(out, (1_000_000, 1_000_000))
    execution._publish(executed(2), out)
    assert out.stat().st_mtime == 1_000_000
