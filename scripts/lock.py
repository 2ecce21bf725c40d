#!/usr/bin/env python
"""Write the lock of the book's environment: constraints.txt, environment.yml and the
Binder environment binder/environment.yml.

Reads the exact versions of every package installed in an environment made from
pyproject.toml (``pip freeze``; the project itself and pip's own tools left out) and
writes them

* as pip constraints (``constraints.txt``, which ``make book`` and ``make test`` install
  with);
* as the pip section of a conda environment of the whole book and its tests
  (``environment.yml``, for contributors who work with conda);
* as the environment of a reader's Binder session (``binder/environment.yml``): only
  what running the notebooks needs (rc's dependencies from pyproject.toml and
  :data:`READER`, with everything they depend on), at the same versions, and none of the
  packages of repo2docker's base environment (:data:`BINDER_BASE`: the Jupyter server,
  JupyterLab, ipykernel, ...). repo2docker installs the file into the environment its
  Jupyter server runs in, so pinning one of those would replace the server's own.

tests/test_environment.py and tests/test_binder.py check that the files agree.

Update the lock with ``make lock`` (a fresh environment from pyproject.toml's ranges).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Left out of every lock: the project itself and pip's build tools.
LEFT_OUT = {"rc", "setuptools", "wheel"}

#: What a reader's session needs besides rc's own dependencies, and why.
READER = {
    "jupytext": "opens notebooks/*.md as notebooks; binder/postBuild converts them",
    "docutils": "imported by myst-nb's glue (rc.report), which binder/postBuild installs "
                "without its dependencies (Sphinx and the rest of the book's build)",
}
#: Installed by binder/postBuild with ``--no-deps`` at the version of constraints.txt.
READER_NO_DEPS = ("myst-nb",)

#: The version of jupyter-repo2docker whose base environment :data:`BINDER_BASE` lists.
REPO2DOCKER = "2026.4.0"
#: The Python packages of repo2docker's base environment for Python 3.11 (its
#: buildpacks/conda/environment.py-3.11-linux-64.lock), by PyPI name: Binder's Jupyter
#: server and what it runs on. binder/environment.yml pins none of them (see above);
#: tests/test_binder.py compares this list with an installed repo2docker's.
BINDER_BASE = {
    "alembic": "1.17.0", "annotated-types": "0.7.0", "anyio": "4.11.0",
    "argon2-cffi": "25.1.0", "argon2-cffi-bindings": "25.1.0", "arrow": "1.3.0",
    "asttokens": "3.0.0", "async-generator": "1.10", "async-lru": "2.0.5", "attrs": "25.4.0",
    "babel": "2.17.0", "beautifulsoup4": "4.14.2", "bleach": "6.2.0", "blinker": "1.9.0",
    "brotli": "1.1.0", "cached-property": "1.5.2", "certifi": "2025.10.5", "certipy": "0.2.2",
    "cffi": "2.0.0", "charset-normalizer": "3.4.4", "comm": "0.2.3", "cryptography": "46.0.2",
    "debugpy": "1.8.17", "decorator": "5.2.1", "defusedxml": "0.7.1",
    "exceptiongroup": "1.3.0", "executing": "2.2.1", "fastjsonschema": "2.21.2",
    "fqdn": "1.5.1", "greenlet": "3.2.4", "h11": "0.16.0", "h2": "4.3.0", "hpack": "4.1.0",
    "httpcore": "1.0.9", "httpx": "0.28.1", "hyperframe": "6.1.0", "idna": "3.11",
    "importlib-metadata": "8.7.0", "ipykernel": "7.0.1", "ipython": "9.6.0",
    "ipython-pygments-lexers": "1.1.1", "ipywidgets": "8.1.7", "isoduration": "20.11.0",
    "jedi": "0.19.2", "jinja2": "3.1.6", "json5": "0.12.1", "jsonpointer": "3.0.0",
    "jsonschema": "4.25.1", "jsonschema-specifications": "2025.9.1", "jupyter-client": "8.6.3",
    "jupyter-core": "5.8.1", "jupyter-events": "0.12.0", "jupyter-lsp": "2.3.0",
    "jupyter-offlinenotebook": "0.3.2", "jupyter-resource-usage": "1.2.0",
    "jupyter-server": "2.17.0", "jupyter-server-terminals": "0.5.3", "jupyterhub": "5.4.0",
    "jupyterlab": "4.4.9", "jupyterlab-pygments": "0.3.0", "jupyterlab-server": "2.27.3",
    "jupyterlab-widgets": "3.0.15", "lark": "1.3.0", "mako": "1.3.10", "markupsafe": "3.0.3",
    "matplotlib-inline": "0.1.7", "mistune": "3.1.4", "nbclient": "0.10.2",
    "nbconvert": "7.16.6", "nbformat": "5.10.4", "nest-asyncio": "1.6.0", "notebook": "7.4.7",
    "notebook-shim": "0.2.4", "oauthlib": "3.3.1", "overrides": "7.7.0", "packaging": "25.0",
    "pamela": "1.2.0", "pandocfilters": "1.5.0", "parso": "0.8.5", "pexpect": "4.9.0",
    "pickleshare": "0.7.5", "pip": "25.2", "platformdirs": "4.5.0",
    "prometheus-client": "0.23.1", "prompt-toolkit": "3.0.52", "psutil": "7.1.0",
    "ptyprocess": "0.7.0", "pure-eval": "0.2.3", "pycparser": "2.22", "pydantic": "2.12.2",
    "pydantic-core": "2.41.4", "pygments": "2.19.2", "pyjwt": "2.10.1", "pysocks": "1.7.1",
    "python-dateutil": "2.9.0.post0", "python-json-logger": "2.0.7", "pytz": "2025.2",
    "pyyaml": "6.0.3", "pyzmq": "27.1.0", "referencing": "0.37.0", "requests": "2.32.5",
    "rfc3339-validator": "0.1.4", "rfc3986-validator": "0.1.1", "rfc3987-syntax": "1.1.0",
    "rpds-py": "0.27.1", "send2trash": "1.8.3", "setuptools": "80.9.0", "six": "1.17.0",
    "sniffio": "1.3.1", "soupsieve": "2.8", "sqlalchemy": "2.0.44", "stack-data": "0.6.3",
    "terminado": "0.18.1", "tinycss2": "1.4.0", "tomli": "2.3.0", "tornado": "6.5.2",
    "traitlets": "5.14.3", "types-python-dateutil": "2.9.0.20251008",
    "typing-extensions": "4.15.0", "typing-inspection": "0.4.2", "typing-utils": "0.1.0",
    "uri-template": "1.3.0", "urllib3": "2.5.0", "wcwidth": "0.2.14", "webcolors": "24.11.1",
    "webencodings": "0.5.1", "websocket-client": "1.9.0", "wheel": "0.45.1",
    "widgetsnbextension": "4.0.14", "zipp": "3.23.0", "zstandard": "0.25.0",
}
#: conda-forge names of Python packages whose PyPI name differs (beyond normalisation).
_CONDA_TO_PYPI = {"python-fastjsonschema": "fastjsonschema", "nbconvert-core": "nbconvert",
                  "jupyterhub-base": "jupyterhub", "brotli-python": "brotli"}

#: The part both environment files share: Python, pip, and the pins from the CPU wheels.
_CONDA_PIP = """\
channels:
  - conda-forge
dependencies:
  - python={python}
  - pip
  - pip:
      # CPU-only wheel of the pinned torch
      - --extra-index-url https://download.pytorch.org/whl/cpu
{pins}
"""

ENVIRONMENT = """\
# Conda environment of the book and its tests, generated by scripts/lock.py from the same
# lock as constraints.txt (exact versions; `make lock` updates both); install the project
# into it with `pip install --no-deps -e .`. Binder does not use this file: it reads
# binder/environment.yml, the smaller environment of a reader's session.
name: rc-book
""" + _CONDA_PIP

BINDER_ENVIRONMENT = """\
# The environment of a reader's Binder session, generated by scripts/lock.py (`make lock`)
# from the lock (constraints.txt, the same versions): what running the notebooks needs,
# rc's dependencies, jupytext and docutils, with everything they depend on. Nothing of
# the book's build or tests (Sphinx, Jupyter Book, papermill, pytest, ruff). Not pinned
# here: the packages of repo2docker's base environment (the Jupyter server, JupyterLab,
# ipykernel, IPython, nbformat, tornado, pyzmq, ...), which repo2docker installs this
# file next to; their versions are Binder's. binder/postBuild installs rc itself and
# myst-nb (for its glue) without dependencies, and writes the notebooks.
name: rc-reader
""" + _CONDA_PIP


def canonical(name: str) -> str:
    """A distribution's normalised name (PEP 503): lower case, runs of -_. as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


def conda_lock_packages(text: str) -> dict[str, str]:
    """The Python packages of an explicit conda lock file (URLs of package files), by
    PyPI name, with their versions; libraries and metapackages (builds not starting with
    ``py``) left out."""
    packages = {}
    for file in re.findall(r"/([^/#\s]+)\.(?:conda|tar\.bz2)#", text):
        name, version, build = file.rsplit("-", 2)
        if build.startswith("py"):
            name = canonical(name)
            packages[_CONDA_TO_PYPI.get(name, name)] = version
    return packages


def frozen(python: str) -> list[str]:
    out = subprocess.run([python, "-m", "pip", "freeze", "--exclude-editable", "--all"],
                         capture_output=True, text=True, check=True).stdout
    pins = []
    for line in out.splitlines():
        if "==" not in line or line.startswith("#"):
            continue
        name = line.split("==")[0]
        if canonical(name) in LEFT_OUT:
            continue
        pins.append(line.strip())
    return sorted(pins, key=str.lower)


def reader_roots() -> list[str]:
    """The requirements a reader's session starts from: rc's dependencies
    (pyproject.toml) and :data:`READER`."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"]) + list(READER)


def dependency_closure(roots: list[str]) -> list[str]:
    """The normalised names of ``roots`` and of everything they depend on, as installed
    in the running interpreter (markers evaluated for it, no extras)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [Requirement(r) for r in roots]
    while todo:
        req = todo.pop()
        if canonical(req.name) in seen:
            continue
        seen.add(canonical(req.name))
        for line in metadata.requires(req.name) or []:
            dep = Requirement(line)
            if dep.marker is None or dep.marker.evaluate({"extra": ""}):
                todo.append(dep)
    return sorted(seen)


def reader_pins(pins: list[str], closure: list[str]) -> list[str]:
    """The pins of the reader's session: those in ``closure``, but none of
    :data:`BINDER_BASE` and none of :data:`LEFT_OUT`."""
    keep = set(closure) - set(BINDER_BASE) - LEFT_OUT
    return [p for p in pins if canonical(p.split("==")[0]) in keep]


def _listed(pins: list[str]) -> str:
    return "\n".join(f"      - {p}" for p in pins)


def binder_environment(pins: list[str], python: str) -> str:
    """The text of binder/environment.yml for the reader's ``pins``."""
    return BINDER_ENVIRONMENT.format(python=python, pins=_listed(pins))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--closure", nargs="+", metavar="REQUIREMENT",
                    help=argparse.SUPPRESS)  # run in --python's environment: print JSON
    args = ap.parse_args(argv)
    if args.closure:
        print(json.dumps(dependency_closure(args.closure)))
        return 0
    pins = frozen(args.python)
    code = "import sys; print('{}.{}'.format(*sys.version_info[:2]))"
    version = subprocess.run([args.python, "-c", code],
                             capture_output=True, text=True, check=True).stdout.strip()
    closure = json.loads(subprocess.run(
        [args.python, __file__, "--closure", *reader_roots()],
        capture_output=True, text=True, check=True).stdout)
    header = ("# Exact versions of everything the book and its tests install, for Python "
              f"{version}.\n# Generated by scripts/lock.py (`make lock`); used as pip constraints "
              "by `make book` and\n# `make test`; environment.yml and binder/environment.yml "
              "hold the same pins.\n")
    (REPO / "constraints.txt").write_text(header + "\n".join(pins) + "\n")
    (REPO / "environment.yml").write_text(ENVIRONMENT.format(python=version,
                                                             pins=_listed(pins)))
    reader = reader_pins(pins, closure)
    (REPO / "binder").mkdir(exist_ok=True)
    (REPO / "binder" / "environment.yml").write_text(binder_environment(reader, version))
    print(f"lock: {len(pins)} packages for Python {version}, {len(reader)} of them for "
          f"Binder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
