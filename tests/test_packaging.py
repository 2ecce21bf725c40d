"""The package as others get it: one version, the licence and citation, and the wheel.

The wheel test builds rc's wheel from a copy of its sources (``pip wheel --no-deps
--no-build-isolation``: no download, nothing written into the repository), installs it
into a new virtual environment outside the repository that borrows this environment's
packages (a ``.pth`` line; the editable rc of this environment stays out of it), and
from a folder outside the repository runs ``python -m rc bind`` and the protocol's cost
model with the installed copy.
"""
from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tomllib
import yaml

REPO = Path(__file__).resolve().parent.parent


def _source_version() -> str:
    """rc.__version__, read from rc/__init__.py without importing rc."""
    for node in ast.parse((REPO / "rc" / "__init__.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__"
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("rc/__init__.py sets no __version__")


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _library_files() -> list[Path]:
    """The files of rc/ that a clone holds (tracked or new, not ignored)."""
    if shutil.which("git") and (REPO / ".git").exists():
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard", "--", "rc"], cwd=REPO, capture_output=True,
                             text=True, check=True, timeout=60).stdout
        files = [Path(p) for p in out.split("\0") if p]
    else:
        files = [p.relative_to(REPO) for p in (REPO / "rc").rglob("*") if p.is_file()]
    return sorted(p for p in files if (REPO / p).is_file() and "__pycache__" not in p.parts)


# ----------------------------------------------------------------------------------------
# Fast checks of the sources
# ----------------------------------------------------------------------------------------
def test_the_version_has_one_source():
    project = _pyproject()
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "rc.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", _source_version())
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert str(citation["version"]) == _source_version()


def test_licence_is_mit_in_every_place():
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the authors of this reproduction" in text
    project = _pyproject()["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert yaml.safe_load((REPO / "CITATION.cff").read_text())["license"] == "MIT"


def test_citation_names_the_reproduction_and_the_paper():
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    assert "reproduction" in citation["title"] and citation["authors"]
    (paper,) = citation["references"]
    assert paper["title"] == "Binding via Reconstruction Clustering"
    assert [a["family-names"] for a in paper["authors"]] == ["Greff", "Srivastava",
                                                              "Schmidhuber"]
    assert paper["year"] == 2015
    assert {"type": "other", "value": "arXiv:1511.06418",
            "description": "The arXiv identifier"} in paper["identifiers"]
    assert paper["url"] == "https://arxiv.org/abs/1511.06418"


def test_every_data_file_of_the_library_is_package_data():
    """Files under rc/ that are not Python are read by the library (epoch_counts.json by
    the cost model): each is listed as package data, so that the wheel holds it."""
    patterns = _pyproject()["tool"]["setuptools"]["package-data"]
    data = [p for p in _library_files() if p.suffix != ".py"]
    assert Path("rc/epoch_counts.json") in data
    for path in data:
        package = ".".join(path.parent.parts)
        assert any(fnmatch.fnmatch(path.name, pattern)
                   for pattern in patterns.get(package, []) + patterns.get("*", [])), \
            f"{path} is not package data in pyproject.toml"


def test_a_missing_epoch_count_file_is_an_error(monkeypatch, tmp_path):
    """The cost model never assumes its default epochs because its data is missing."""
    from rc import cost, protocol

    monkeypatch.setattr(cost, "_COUNTS", tmp_path / "epoch_counts.json")
    with pytest.raises(RuntimeError, match="epoch counts cannot be read"):
        protocol.estimated_epochs("shapes", 1, "search")
    (tmp_path / "epoch_counts.json").write_text("{not json")
    with pytest.raises(RuntimeError, match="reinstall rc"):
        protocol.estimated_epochs("shapes", 1, "search")


# ----------------------------------------------------------------------------------------
# The wheel, installed outside the repository
# ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """rc's wheel, built offline from a copy of what a clone holds of its sources."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    for path in [Path("pyproject.toml"), Path("README.md"), Path("LICENSE"),
                 *_library_files()]:
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, src / path)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                          "--no-build-isolation", "--no-index", "-q", "-w", str(root / "dist"),
                          str(src)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    (path,) = (root / "dist").glob("rc-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[Path, Path, dict]:
    """(python, working folder, environment) of a new virtual environment outside the
    repository with the wheel installed; its other packages are this environment's."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=300)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True, check=True,
                               timeout=60).stdout.strip())
    borrowed = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "_borrowed_packages.pth").write_text("\n".join(borrowed) + "\n")
    out = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                          "--no-deps", "--no-index", "-q", str(wheel)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    work = root / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "RC_RESULTS", "VIRTUAL_ENV")}
    env.update(RC_NO_DOWNLOAD="1", PYTHONNOUSERSITE="1", MPLBACKEND="Agg")
    return python, work, env


def _run(installed, *args, extra_env=None) -> subprocess.CompletedProcess:
    python, work, env = installed
    return subprocess.run([str(python), *args], cwd=work, env={**env, **(extra_env or {})},
                          capture_output=True, text=True, timeout=600)


def test_the_wheel_holds_the_library_its_data_and_licence(wheel):
    version = _source_version()
    assert wheel.name == f"rc-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"rc-{version}.dist-info/METADATA").decode()
    for path in _library_files():
        assert path.as_posix() in names, f"{path} is missing from the wheel"
    assert f"rc-{version}.dist-info/licenses/LICENSE" in names
    assert not [n for n in names if n.split("/")[0] in ("tests", "scripts", "results",
                                                        "notebooks", "book", "benchmarks")]
    assert f"\nVersion: {version}\n" in metadata
    assert "\nLicense-Expression: MIT\n" in metadata
    for name in ("numpy", "scipy", "torch", "scikit-learn", "matplotlib", "tqdm", "pillow"):
        assert re.search(rf"^Requires-Dist: {name}\b[^;]*$", metadata, re.M), name


@pytest.mark.slow  # with the wheel's build and install: about 25 s
def test_installed_rc_is_the_wheel_and_reads_its_epoch_counts(installed):
    """The cost model of the installed copy (used by scripts/paper.py --status) reads the
    measured epochs from its package data, not the default."""
    rows = json.loads((REPO / "rc" / "epoch_counts.json").read_text())["rows"]
    key = ("shapes", 1, "search")
    match = [r for r in rows if (r["dataset"], r["table"], r["kind"]) == key]
    measured = float(np.mean(max(match, key=lambda r: r["n_images"])["epochs"]))
    code = (
        "import json, sys, importlib.metadata as md, rc\n"
        "from rc import protocol\n"
        "print(json.dumps({'file': rc.__file__, 'version': rc.__version__,\n"
        "    'dist': md.version('rc'), 'counts': str(rc.cost._COUNTS),\n"
        "    'epochs': protocol.estimated_epochs(sys.argv[1], int(sys.argv[2]), sys.argv[3]),\n"
        "    'default': protocol.DEFAULT_EPOCHS}))\n")
    out = _run(installed, "-c", code, *map(str, key))
    assert out.returncode == 0, out.stdout + out.stderr
    info = json.loads(out.stdout.splitlines()[-1])
    python = installed[0]
    assert Path(info["file"]).is_relative_to(python.parent.parent), info["file"]
    assert info["version"] == info["dist"] == _source_version()
    assert Path(info["counts"]).parent == Path(info["file"]).parent
    assert measured != info["default"] and info["epochs"] == pytest.approx(measured)


@pytest.mark.slow  # with the wheel's build and install: about 25 s
def test_installed_bind_runs_outside_the_repository(installed):
    """``python -m rc bind`` of the installed copy on a small image: without results it
    fails with one clear line; pointed at the repository's results it binds the image."""
    python, work, env = installed
    stored = list((REPO / "results" / "full" / "dae").glob("shapes-train_single-*.npz"))
    from PIL import Image

    image = np.zeros((28, 28), dtype=np.uint8)
    image[3:10, 3:10] = 255      # 49 on pixels
    image[15:24, 14:25] = 255    # 99 on pixels
    Image.fromarray(image).save(work / "two.png")
    missing = _run(installed, "-m", "rc", "bind", "two.png", "--model", "shapes")
    assert missing.returncode == 1, missing.stdout + missing.stderr
    message = missing.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in message, message
    assert message.startswith("python -m rc bind: error:") and "RC_RESULTS" in message, message
    assert str(work.resolve() / "results") in message, message  # where it looked
    if not stored:
        pytest.skip("results/full holds no Shapes DAE of Table 1")
    done = _run(installed, "-m", "rc", "bind", "two.png", "--model", "shapes",
                extra_env={"RC_RESULTS": str(REPO / "results")})
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads((work / "two-groups.json").read_text())
    assert doc["on_pixels"] == 49 + 99 and sum(doc["group_sizes"]) == 148
    assert doc["model"]["profile"] == "full" and (work / "two-groups.png").stat().st_size > 0
