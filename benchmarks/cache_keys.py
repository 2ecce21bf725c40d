#!/usr/bin/env python
"""List every cache key that a profile's protocol asks for (issue 27: no key may change).

For each profile, a pipeline that may not compute (``may_compute=False``) reads a results
folder while every key the cache builds is recorded (:func:`rc.cache.cache_key`): the
runs of every search and loss-vs-score study, every table DAE, every element of the paper,
the RC animations, the analyses beyond the paper and the scorecard's claims. Where a
results folder holds the whole protocol every key is met; where it lacks entries, an
element stops at the first one it misses (a table DAE of a profile whose tables come
from its search is not known before the search is stored).

The listing goes through the library's public functions only, so that the same script
compares the keys of two versions of rc: run it before and after a change and diff the
outputs::

    python benchmarks/cache_keys.py ci=/tmp/ci-results full=results/full default paper \
        > keys.txt

``PROFILE=FOLDER`` reads FOLDER as that profile's results; a bare ``PROFILE`` reads an
empty folder. Lines: profile, entry name, key (SHA-256), and ``stored`` or ``missing``.
"""
from __future__ import annotations

import importlib
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rc  # noqa: E402
import rc.cache  # noqa: E402
from rc.cache import MissingResultError  # noqa: E402


def _attempt(what) -> None:
    """Call ``what()``; a result that is missing ends it (the keys met so far are kept)."""
    try:
        what()
    except MissingResultError:
        pass


def asked_keys(results: rc.Results) -> dict[tuple[str, str], None]:
    """(entry name, key) of every cache entry that the protocol of ``results`` asks for, in the
    order first asked."""
    from rc import animation, paper, published, scorecard

    seen: dict[tuple[str, str], None] = {}
    original = rc.cache.cache_key

    def recording(name: str, inputs: dict) -> str:
        key = original(name, inputs)
        seen.setdefault((name, key), None)
        return key

    rc.cache.cache_key = recording
    try:
        datasets = list(results.profile.datasets)
        for table, kind in ((1, "search"), (2, "search"), (1, "loss")):
            for d in datasets:
                if published.in_table(d, table) and results.run_names(d, table, kind):
                    _attempt(lambda d=d, t=table, k=kind: results.runs(d, t, k))
        for table in (1, 2):
            for d in datasets:
                if published.in_table(d, table):
                    _attempt(lambda d=d, t=table: results.table_dae(d, t))
        for element in paper.ELEMENTS:
            _attempt(lambda e=element: paper.home(e).compute(results))
        for d in datasets:
            _attempt(lambda d=d: animation.compute(results, d))
        for name in results.profile.beyond:
            module = importlib.import_module(f"rc.beyond.{name}")
            _attempt(lambda m=module: m.compute(results))
        scorecard.collect_if_stored(results)
    finally:
        rc.cache.cache_key = original
    return seen


def listing(profile: str, root: Path) -> list[str]:
    """The lines of one profile: name, key, stored or missing; sorted."""
    results = rc.Results(profile, may_compute=False, progress=False, device="cpu",
                      root=root.parent)
    if root.name != profile:
        raise ValueError(f"the results folder of {profile} must be named {profile}; "
                         f"got {root}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keys = asked_keys(results)
    stored = {p.name for p in root.rglob("*") if p.is_file()}
    lines = []
    for name, key in keys:
        there = any(f"{Path(name).name}.{key[:16]}.{ext}" in stored for ext in ("json", "npz"))
        lines.append(f"{profile}\t{name}\t{key}\t{'stored' if there else 'missing'}")
    return sorted(set(lines))


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    with tempfile.TemporaryDirectory() as empty:
        for arg in argv:
            profile, _, folder = arg.partition("=")
            root = Path(folder) if folder else Path(empty) / profile
            if root.name != profile:  # read it through a link named after the profile
                link = Path(empty) / "links" / profile
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(root.resolve())
                root = link
            lines = listing(profile, root)
            print("\n".join(lines))
            counts = {s: sum(line.endswith(s) for line in lines) for s in ("stored", "missing")}
            print(f"{profile}: {len(lines)} keys ({counts['stored']} stored, "
                  f"{counts['missing']} missing)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
