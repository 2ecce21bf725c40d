#!/usr/bin/env python
"""Pack the results written since a point in time into a few archives of bounded size.

The GPU slot returns at most 8 files of at most 16 MiB each. This packs every file under
``--root`` modified at or after ``--since`` (a UNIX time) into ``results-NN.tar.gz``
archives of at most ``--max-bytes`` each (paths relative to the repository), into
``--out``. Unpack with ``tar xzf results-NN.tar.gz`` in the repository root. Temporary
files of interrupted writes and lock files (``rc.storage.is_temporary``) are never packed.

Usage: python scripts/pack_results.py --root results/paper --since 1764230000 --out $OUT
"""
from __future__ import annotations

import argparse
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from rc.storage import is_temporary  # noqa: E402


def pack(root: Path, since: float, out: Path, max_bytes: int, max_files: int) -> list[Path]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and not is_temporary(p)
                   and p.stat().st_mtime >= since)
    out.mkdir(parents=True, exist_ok=True)
    parts: list[list[Path]] = [[]]
    sizes = [0]
    for f in files:
        size = f.stat().st_size  # compressed size is smaller: a safe bound
        if size > max_bytes:
            raise SystemExit(f"pack_results: {f} alone is {size} bytes, over {max_bytes}")
        if sizes[-1] + size > max_bytes:
            parts.append([])
            sizes.append(0)
        parts[-1].append(f)
        sizes[-1] += size
    if len(parts) > max_files:
        raise SystemExit(f"pack_results: {len(files)} files need {len(parts)} archives, "
                         f"more than {max_files}")
    written = []
    for i, part in enumerate(p for p in parts if p):
        path = out / f"results-{i:02d}.tar.gz"
        try:
            with tarfile.open(path, "w:gz") as tar:
                for f in part:
                    tar.add(f, arcname=f"results/{f.relative_to(root.parent)}")
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=REPO / "results" / "paper")
    ap.add_argument("--since", type=float, default=0.0)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--max-bytes", type=int, default=15 << 20)
    ap.add_argument("--max-files", type=int, default=6)
    args = ap.parse_args(argv)
    written = pack(args.root.resolve(), args.since, args.out, args.max_bytes, args.max_files)
    for path in written:
        print(f"pack_results: {path} ({path.stat().st_size} bytes)")
    if not written:
        print("pack_results: nothing new to pack")
    return 0


if __name__ == "__main__":
    sys.exit(main())
