"""Binder: the reader's environment (binder/), what repo2docker makes of it, and the link.

The fast tests read binder/environment.yml and binder/postBuild: the pins are the lock's
(constraints.txt), none replaces a package of repo2docker's base environment (the Jupyter
server Binder runs; scripts/lock.py lists it), nothing of the book's build or tests is
installed, and the library, myst-nb's glue and jupytext work with what is installed.

The repo2docker tests run ``repo2docker --no-build --debug --no-run`` on a copy of the
repository (what a clone holds) and read the Dockerfile it prints; they need
jupyter-repo2docker, best in an environment of its own: ``RC_REPO2DOCKER`` names its
``repo2docker`` executable (else it is looked up on PATH), and they are skipped without.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from helpers import load_book_run, load_script

REPO = Path(__file__).resolve().parent.parent
BINDER = REPO / "binder"


_load = load_script


lock = _load("lock")
binder_link = _load("binder_link")

#: Never in a reader's session: the book's build, the tests and the linter.
BUILD_AND_TEST_TOOLS = {"pytest", "hypothesis", "selenium", "ruff", "sphinx", "jupyter-book",
                        "myst-parser", "jupyter-cache", "sphinx-book-theme", "papermill",
                        "sphinxcontrib-bibtex"}
#: The Jupyter server stack that Binder brings and a pin would replace (a sample of
#: lock.BINDER_BASE, to catch a list that lost them).
SERVER_STACK = {"tornado", "jupyter-client", "jupyter-core", "traitlets", "pyzmq", "jupyterlab",
                "jupyter-server", "notebook", "sqlalchemy", "python-dateutil", "ipykernel",
                "ipython", "nbformat", "pip", "setuptools"}


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[lock.canonical(name)] = version
    return pins


def _locked_python() -> str:
    return re.search(r"for Python (\d+\.\d+)", (REPO / "constraints.txt").read_text()).group(1)


def _environment() -> dict:
    return yaml.safe_load((BINDER / "environment.yml").read_text())


def _pip_section() -> list[str]:
    return next(d["pip"] for d in _environment()["dependencies"] if isinstance(d, dict))


def _binder_pins() -> dict[str, str]:
    pins = {}
    for line in _pip_section():
        if not line.startswith("-"):
            name, version = line.split("==")
            pins[lock.canonical(name)] = version
    return pins


# ----------------------------------------------------------------------------------------
# The environment file (fast)
# ----------------------------------------------------------------------------------------
def test_binder_pins_are_the_locked_versions():
    locked, pins = _constraints(), _binder_pins()
    assert len(pins) > 10
    differ = {n: (v, locked.get(n)) for n, v in pins.items() if locked.get(n) != v}
    assert not differ, f"binder/environment.yml differs from constraints.txt: {differ}"
    conda = [d for d in _environment()["dependencies"] if isinstance(d, str)]
    assert conda == [f"python={_locked_python()}", "pip"]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in _pip_section()
    assert pins["torch"].endswith("+cpu")


def test_binder_pins_none_of_repo2dockers_base_environment():
    assert SERVER_STACK <= set(lock.BINDER_BASE)
    overridden = sorted(set(_binder_pins()) & set(lock.BINDER_BASE))
    assert not overridden, f"binder/environment.yml would replace Binder's own {overridden}"


def test_binder_environment_is_what_make_lock_writes():
    """The file is scripts/lock.py's output for the lock (this environment is the lock:
    tests/test_environment.py): rc's dependencies and lock.READER with everything they
    depend on, less Binder's base environment."""
    locked = [line for line in (REPO / "constraints.txt").read_text().splitlines()
              if line and not line.startswith("#")]
    pins = lock.reader_pins(locked, lock.dependency_closure(lock.reader_roots()))
    expected = lock.binder_environment(pins, _locked_python())
    assert (BINDER / "environment.yml").read_text() == expected, \
        "binder/environment.yml is out of date: run `make lock` (scripts/lock.py)"


def test_reader_environment_holds_no_build_or_test_tool():
    names = set(_binder_pins())
    assert not names & BUILD_AND_TEST_TOOLS
    # nor does anything pinned pull one in
    closure = set(lock.dependency_closure(sorted(names)))
    assert not closure & BUILD_AND_TEST_TOOLS, closure & BUILD_AND_TEST_TOOLS
    # postBuild adds rc and myst-nb only, both without dependencies
    installs = [line for line in _post_build_commands() if "pip install" in line]
    assert len(installs) == 2 and all("--no-deps" in line for line in installs), installs


def test_pip_leaves_the_base_environment_alone():
    """Every requirement of a pinned package on a package of Binder's base environment is
    met by the base's version, so pip upgrades none of the server's packages."""
    from packaging.requirements import Requirement

    unmet = []
    for name in _binder_pins():
        for line in metadata.requires(name) or []:
            req = Requirement(line)
            base = lock.BINDER_BASE.get(lock.canonical(req.name))
            if base is None or not (req.marker is None or req.marker.evaluate({"extra": ""})):
                continue
            if not req.specifier.contains(base, prereleases=True):
                unmet.append(f"{name} needs {req}; Binder has {base}")
    assert not unmet, unmet


def test_library_glue_and_jupytext_need_nothing_else():
    """In a process that cannot import any other installed distribution (as in Binder),
    every module of rc imports, myst-nb's glue glues and jupytext turns a chapter into a
    notebook."""
    allowed = set(_binder_pins()) | set(lock.BINDER_BASE) | {"rc"}
    allowed |= {lock.canonical(n) for n in lock.READER_NO_DEPS}
    code = r"""
import importlib, importlib.abc, json, pkgutil, sys
from importlib import metadata
allowed = set(json.loads(sys.argv[1]))
canon = lambda n: __import__("re").sub(r"[-_.]+", "-", n).lower()
blocked = {m for m, ds in metadata.packages_distributions().items()
           if not any(canon(d) in allowed for d in ds)}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not on Binder)", name=name)

sys.meta_path.insert(0, Block())
import rc
for module in pkgutil.walk_packages(rc.__path__, "rc."):
    importlib.import_module(module.name)
import scipy.stats, sklearn.metrics  # what rc imports inside functions
from rc.report import glue_all
glue_all({"x": 1.5})
import jupytext
notebook = jupytext.read(sys.argv[2])
assert notebook.cells and notebook.metadata["kernelspec"]["name"] == "python3"
print("ok")
"""
    chapter = sorted((REPO / "notebooks").glob("*.md"))[0]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code, json.dumps(sorted(allowed)), str(chapter)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stdout + out.stderr


# ----------------------------------------------------------------------------------------
# postBuild and the files repo2docker reads (fast)
# ----------------------------------------------------------------------------------------
def _post_build_commands() -> list[str]:
    lines = (BINDER / "postBuild").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_post_build_installs_rc_and_writes_the_notebooks():
    path = BINDER / "postBuild"
    assert os.access(path, os.X_OK), "binder/postBuild must be executable"
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    commands = _post_build_commands()
    assert "python -m pip install --no-cache-dir --no-deps -e ." in commands
    myst = next(c for c in commands if "myst-nb" in c)
    assert "--no-deps" in myst and "-c constraints.txt" in myst
    assert "myst-nb" in _constraints()
    assert any(c.startswith("jupytext --to ipynb --output \"book/executed/") for c in commands)
    assert any(c.startswith("for source in notebooks/*.md") for c in commands)


def test_binder_folder_is_the_only_binder_configuration():
    """repo2docker reads binder/ alone when it exists; nothing at the root pretends to be
    Binder's configuration (the root environment.yml is the whole book's, for conda)."""
    files = {p.name for p in BINDER.iterdir()}
    assert {"environment.yml", "postBuild"} <= files <= {"environment.yml", "postBuild", "start"}
    assert not (REPO / "postBuild").exists()
    assert "Binder does not use this file" in (REPO / "environment.yml").read_text()


# ----------------------------------------------------------------------------------------
# The link (fast)
# ----------------------------------------------------------------------------------------
def test_binder_badge_is_made_from_the_repository_url():
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    url = config["repository"]["url"]
    owner_repo = re.fullmatch(r"https://github\.com/([^/]+/[^/]+)", url).group(1)
    branch = config["repository"]["branch"]
    link = f"https://mybinder.org/v2/gh/{owner_repo}/{branch}"
    assert binder_link.binder_url(config) == link
    assert binder_link.badge(config) == f"[![Binder](https://mybinder.org/badge_logo.svg)]({link})"
    assert binder_link.binder_url(config, "book/executed/04_results.ipynb") == \
        f"{link}?urlpath=lab/tree/book/executed/04_results.ipynb"
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "binder_link.py")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == binder_link.badge(config)


def test_repository_url_is_written_in_one_place():
    """_config.yml's repository.url is the only copy; a Binder badge elsewhere (README.md)
    is the one scripts/binder_link.py prints."""
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    url = config["repository"]["url"]
    owner_repo = url.removeprefix("https://github.com/")
    badge = binder_link.badge(config)
    for path in _carried_files():
        if path.suffix not in (".md", ".yml", ".yaml", ".toml", ".cff", ".py", ".txt", ".cfg") \
                or path.name == "_config.yml" or path == Path("tests/test_binder.py"):
            continue
        text = (REPO / path).read_text(errors="replace")
        assert url not in text, f"{path} repeats the repository URL; read _config.yml"
        if path.suffix != ".md":
            continue
        for match in re.findall(r"\[!\[Binder\]\([^)]*\)\]\([^)]*\)", text):
            assert match == badge, f"{path}: Binder badge {match}, expected {badge}"
        for link in re.findall(r"mybinder\.org/v2/gh/[^/)\s]+/[^/)\s]+", text):
            assert link.endswith(owner_repo), f"{path} links to Binder for {link}"


def _carried_files() -> list[Path]:
    """The files a clone of the working tree holds (tracked or new, not ignored), relative
    to the repository root."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=REPO, capture_output=True, text=True, check=True, timeout=60).stdout
    return [Path(p) for p in out.split("\0") if p and (REPO / p).is_file()]


# ----------------------------------------------------------------------------------------
# repo2docker (when installed)
# ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def repo2docker() -> str:
    exe = os.environ.get("RC_REPO2DOCKER") or shutil.which("repo2docker")
    if not exe:
        pytest.skip("repo2docker is not installed: pip install jupyter-repo2docker into an "
                    "environment of its own and set RC_REPO2DOCKER to its repo2docker")
    if not os.access(exe, os.X_OK):
        pytest.fail(f"RC_REPO2DOCKER={exe} is not an executable file")
    return exe


@pytest.fixture(scope="module")
def dockerfile(repo2docker, tmp_path_factory) -> tuple[str, str]:
    """(Dockerfile, log) of repo2docker for a copy of what a clone holds (results/ left
    out: --no-build reads no file but binder/'s), built for Binder's user (uid 1000)."""
    root = tmp_path_factory.mktemp("r2d")
    clone = root / "clone"
    for path in _carried_files():
        if path.parts[0] != "results":
            (clone / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / path, clone / path)
    out = subprocess.run([repo2docker, "--no-build", "--debug", "--no-run", "--user-id", "1000",
                          "--user-name", "jovyan", str(clone)],
                         cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout, out.stderr


def test_repo2docker_installs_the_binder_environment_and_runs_post_build(dockerfile):
    text, log = dockerfile
    assert "Building conda environment for python=" + _locked_python() in log, log
    # the environment file is installed into the environment of the Jupyter server ...
    assert "COPY --chown=1000:1000 src/binder/environment.yml " \
           "${REPO_DIR}/binder/environment.yml" in text
    assert re.search(r'env update -p \$\{NB_PYTHON_PREFIX\} --file "binder/environment\.yml"',
                     text)
    assert "ENV KERNEL_PYTHON_PREFIX=${NB_PYTHON_PREFIX}" in text
    # ... then the repository is copied and postBuild runs
    assert text.index("binder/environment.yml") < text.index("RUN ./binder/postBuild")
    assert "RUN ./binder/postBuild" in text
    # and nothing at the repository's root is read as Binder's configuration
    assert '--file "environment.yml"' not in text and "requirements.txt" not in text
    assert ("binder/start" in text) == (BINDER / "start").exists()
    # ... and every session starts through binder/start (the launch's variables)
    assert 'ENV R2D_ENTRYPOINT="${REPO_DIR}/binder/start"' in text
    assert text.index("RUN ./binder/postBuild") < text.index("R2D_ENTRYPOINT")
    assert 'ENTRYPOINT ["/usr/local/bin/repo2docker-entrypoint"]' in text
    for tool in BUILD_AND_TEST_TOOLS:
        assert not re.search(rf"\b{re.escape(tool)}\b", text), tool


def _package_folder(repo2docker: str) -> Path:
    """repo2docker's installed package, through the interpreter of its executable."""
    first = Path(repo2docker).read_text(errors="replace").splitlines()[0]
    python = first.removeprefix("#!").strip().split()[0] if first.startswith("#!") else None
    if not python or not Path(python).exists():
        python = str(Path(repo2docker).with_name("python"))
    out = subprocess.run([python, "-c", "import repo2docker; print(repo2docker.__file__)"],
                         capture_output=True, text=True, check=True, timeout=60)
    return Path(out.stdout.strip()).parent


def test_base_environment_list_is_repo2dockers(repo2docker):
    """lock.BINDER_BASE is the base environment of the installed repo2docker (if it changed,
    update the list in scripts/lock.py and run `make lock`)."""
    folder = _package_folder(repo2docker) / "buildpacks" / "conda"
    path = folder / f"environment.py-{_locked_python()}-linux-64.lock"
    assert path.exists(), f"repo2docker has no base environment for Python {_locked_python()}"
    assert lock.conda_lock_packages(path.read_text()) == lock.BINDER_BASE


# ----------------------------------------------------------------------------------------
# binder/start and a session's chapters
# ----------------------------------------------------------------------------------------
def _start_variables() -> dict[str, str]:
    """The variables that binder/start exports."""
    return dict(re.findall(r"^export (\w+)=(\S+)", (BINDER / "start").read_text(), re.M))


def test_start_sets_the_launch_and_hands_over():
    path = BINDER / "start"
    assert os.access(path, os.X_OK), "binder/start must be executable"
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert text.rstrip().splitlines()[-1] == 'exec "$@"'
    assert _start_variables() == {"RC_PROFILE": "full", "RC_COMPUTE": "0"}
    out = subprocess.run([str(path), "sh", "-c", 'echo "$RC_PROFILE $RC_COMPUTE"'],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "full 0"


def test_every_chapter_takes_the_launch_in_its_parameters_cell():
    """The parameters cell ends with rc.config.launch (so that papermill's parameters,
    injected after it, still win) and the setup shows the profile line."""
    for path in sorted((REPO / "notebooks").glob("*.md")):
        text = path.read_text()
        cell = re.search(r":tags: \[parameters\]\n(.*?)```", text, re.S).group(1)
        assert cell.rstrip().splitlines()[-1].startswith(
            "profile, may_compute = launch(profile, may_compute)"), path.name
        assert "rc.live.show_profile(results)" in text, path.name


@pytest.mark.slow
def test_make_book_wins_over_a_launch_in_the_shell(tmp_path):
    """A shell with binder/start's variables does not change what run_book.py runs: it
    injects profile and may_compute after the parameters cell."""
    env = {**os.environ, **_start_variables(), "RC_RESULTS": str(tmp_path / "results")}
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "run_book.py"), "--profile",
                          "ci", "--only", "05_appendix_derivation", "--out",
                          str(tmp_path / "book"), "--jobs", "1"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    nb = json.loads((tmp_path / "book" / "book" / "executed" /
                     "05_appendix_derivation.ipynb").read_text())
    injected = next(c for c in nb["cells"]
                    if "injected-parameters" in c["metadata"].get("tags", []))
    assert 'profile = "ci"' in "".join(injected["source"])
    assert "\nmay_compute = True" in "".join(injected["source"])
    line = _profile_line(nb)
    assert line.startswith("**Profile `ci`**") and "make book PROFILE=ci" in line, line


def _profile_line(nb: dict) -> str:
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            text = "".join(output.get("data", {}).get("text/markdown", ""))
            if text.startswith("**Profile `"):
                return text
    return ""


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


#: The chapters run as a Binder session runs them: the first, and the one with the
#: try-it-live section. Every chapter is rendered from the committed results, under
#: Binder's memory limit and with nothing trained, by
#: tests/test_memory.py::test_binder_launch_fits_in_2_gb (papermill, profile full, no
#: computing: what this launch chooses, as test_every_chapter_takes_the_launch_... and
#: rc.config.launch's tests check).
SESSION_CHAPTERS = ("01_binding_problem", "02_reconstruction_clustering")


@pytest.mark.slow
def test_a_binder_session_renders_chapters_from_the_committed_results(tmp_path, monkeypatch):
    """Chapters as a reader runs them in a Binder session: the notebook that postBuild
    writes (jupytext), binder/start's variables, all cells in order, no papermill. Each
    says at its top that it uses the committed full profile; a chapter either runs to its
    end or stops at a cell whose result is not committed, saying so without a traceback;
    nothing is trained (no new file in a copy of results/)."""
    import jupytext
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    execution = load_book_run("execution")
    results = tmp_path / "results"
    shutil.copytree(REPO / "results" / "full", results / "full")
    before = _files(results)
    run_dir = execution._run_dir()  # a python3 kernel of this interpreter, this checkout
    for key, value in {**_start_variables(), "RC_RESULTS": str(results),
                       "JUPYTER_PATH": str(run_dir),
                       "MPLBACKEND": "module://matplotlib_inline.backend_inline"}.items():
        monkeypatch.setenv(key, value)
    report, problems = [], []
    for name in SESSION_CHAPTERS:
        nb = jupytext.read(REPO / "notebooks" / f"{name}.md")
        nb.metadata["kernelspec"] = dict(execution.KERNELSPEC)
        start = time.perf_counter()
        stopped = None
        try:
            NotebookClient(nb, kernel_name="python3", timeout=900,
                           resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
        except CellExecutionError as exc:
            stopped = str(exc).strip().splitlines()[-1][:300]
        seconds = time.perf_counter() - start
        nb = json.loads(json.dumps(nb))
        line = _profile_line(nb)
        if not (line.startswith("**Profile `full`**") and "RC_PROFILE" in line):
            problems.append(f"{name}: no profile line naming the launch's full profile")
        outputs = [o for c in nb["cells"] for o in c.get("outputs", [])]
        shown = [o for o in outputs if o.get("output_type") == "error" and o.get("traceback")]
        said = any("**Not stored:" in "".join(o.get("data", {}).get("text/markdown", ""))
                   for o in outputs)
        if shown or (stopped and not said):
            problems.append(f"{name}: a traceback ({stopped})")
        report.append(f"{name}: {seconds:.0f} s, "
                      + ("ran to the end" if not stopped else "stopped: not committed"))
    print("\n".join(report))
    assert _files(results) == before, f"new files: {sorted(_files(results) - before)[:10]}"
    assert not problems, "\n".join(problems + report)


def test_each_chapter_offers_its_executed_notebook_for_download(tmp_path):
    """scripts/check_site.py's check of the download menu, on a made-up site: a chapter
    links to its notebook in _sources, which holds outputs."""
    check_site = load_script("check_site")
    site = tmp_path / "html"
    (site / "book" / "executed").mkdir(parents=True)
    (site / "_sources" / "book" / "executed").mkdir(parents=True)
    executed = {"cells": [{"cell_type": "code", "outputs": [{"output_type": "stream"}]}]}
    unexecuted = {"cells": [{"cell_type": "code", "outputs": []}]}
    for name, link, notebook in (("01_binding_problem", True, executed),
                                 ("02_reconstruction_clustering", False, executed),
                                 ("03_experiments", True, unexecuted)):
        href = f'<a href="../../_sources/book/executed/{name}.ipynb">.ipynb</a>' if link else ""
        (site / "book" / "executed" / f"{name}.html").write_text(f"<html>{href}</html>")
        (site / "_sources" / "book" / "executed" / f"{name}.ipynb").write_text(
            json.dumps(notebook))
    problems = check_site.download_problems(site)
    assert len(problems) == 2, problems
    assert problems[0].startswith("book/executed/02_reconstruction_clustering.html: no "
                                  "download link")
    assert problems[1].startswith("book/executed/03_experiments.html") and \
        "no outputs" in problems[1]
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["sphinx"]["config"]["html_theme_options"]["use_download_button"] is True
    assert config["sphinx"]["config"]["html_copy_source"] is True
