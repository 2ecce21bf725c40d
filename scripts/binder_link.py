#!/usr/bin/env python
"""Print the Binder badge of the repository (Markdown for the README), made from the one
place that holds the repository's address: ``repository.url`` (and ``branch``) in
``_config.yml``, with ``launch_buttons.binderhub_url``, as the book's launch buttons are.

Usage::

    python scripts/binder_link.py                 # the badge, a line of Markdown
    python scripts/binder_link.py --url           # only the Binder address
    python scripts/binder_link.py --path book/executed/04_results.ipynb   # open a chapter
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import quote

import yaml

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "_config.yml"
#: The user interface of the links, as launch_buttons.notebook_interface names it.
INTERFACES = {"classic": "tree", "jupyterlab": "lab/tree"}


def read_config(path: Path | str = CONFIG) -> dict:
    return yaml.safe_load(Path(path).read_text())


def binder_url(config: dict, path: str | None = None) -> str:
    """The Binder address of the repository named in ``config`` (the parsed _config.yml),
    opening ``path`` (relative to the repository root) if given; built the way
    sphinx-book-theme builds the launch buttons."""
    repo = config["repository"]
    url = repo["url"].rstrip("/").removesuffix(".git")
    branch = repo.get("branch", "main")
    hub = config["launch_buttons"]["binderhub_url"].rstrip("/")
    if url.startswith("https://github.com/"):
        spec = "gh/" + url.removeprefix("https://github.com/")
    elif url.startswith("https://gitlab.com/"):
        spec = "gl/" + quote(url.removeprefix("https://gitlab.com/"), safe="")
    else:
        spec = "git/" + quote(url, safe="")
    link = f"{hub}/v2/{spec}/{branch}"
    if path:
        interface = config["launch_buttons"].get("notebook_interface", "classic")
        link += f"?urlpath={INTERFACES[interface]}/{path.lstrip('/')}"
    return link


def badge(config: dict, path: str | None = None) -> str:
    """The Markdown of the Binder badge that links to :func:`binder_url`."""
    hub = config["launch_buttons"]["binderhub_url"].rstrip("/")
    return f"[![Binder]({hub}/badge_logo.svg)]({binder_url(config, path)})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", action="store_true", help="print only the address")
    ap.add_argument("--path", help="a file to open, relative to the repository root")
    ap.add_argument("--config", type=Path, default=CONFIG, help="default: _config.yml")
    args = ap.parse_args(argv)
    config = read_config(args.config)
    print(binder_url(config, args.path) if args.url else badge(config, args.path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
