"""How many epochs early stopping gives: the measurement behind the protocol's cost model.

The time the paper's protocol takes is dominated by training its ~1,700 DAEs, and the
number of epochs each trains for is set by early stopping (patience 10, at most 500). This
script trains the first ``--runs`` configurations of the ``paper`` profile's searches (the
same configurations and seeds) on the first ``--sizes`` images of their training split,
with the full stopping rule, and records each run's epochs. Two sizes show how the epoch
count moves with the amount of data; the protocol's cost model (``rc.protocol``) uses the
counts measured at the largest size, which overestimate the epochs at full size if, as
measured, larger training sets stop sooner.

Writes ``rc/epoch_counts.json`` (with ``--write``) and prints a summary.

Usage: python benchmarks/epoch_counts.py [--runs 8] [--sizes 1000 3000] [--write]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import rc
from rc.pipeline import TABLES
from rc.search import search_configs
from rc.storage import provenance, write_json
from rc.training import train_population, train_split

OUT = Path(rc.__file__).parent / "epoch_counts.json"


def measure(dataset: str, table: int, kind: str, runs: int, n: int) -> dict:
    """Epochs of the first ``runs`` configurations of a search, trained on ``n`` images."""
    p = rc.get_profile("paper")
    configs = (search_configs(runs, p.seed + 100 * table) if kind == "search"
               else search_configs(runs, p.seed, study="loss"))
    split = TABLES[table][0]
    size = rc.dataset_info(dataset).split_sizes[split]
    images, _ = rc.load_dataset(dataset, split, n=min(n, size))
    start = time.perf_counter()
    results = train_population(images, configs, max_epochs=p.max_epochs,
                               patience=p.patience, progress=False)
    return {"n_images": len(images), "n_train": train_split(len(images), 0.1),
            "epochs": [h.epochs for _, h in results],
            "best_epoch": [h.best_epoch for _, h in results],
            "stopped": [h.stopped for _, h in results],
            "n_hidden": [c["n_hidden"] for c in configs],
            "seconds": time.perf_counter() - start}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--loss-runs", type=int, default=4)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000])
    ap.add_argument("--datasets", nargs="*", default=list(rc.DATASETS))
    ap.add_argument("--write", action="store_true", help=f"write {OUT}")
    args = ap.parse_args()
    torch.manual_seed(0)
    rows = []
    for dataset in args.datasets:
        for table, kind in ((1, "search"), (2, "search"), (1, "loss")):
            if table == 2 and dataset == "simple_superposition":
                continue
            runs = args.runs if kind == "search" else args.loss_runs
            split = TABLES[table][0]
            size = rc.dataset_info(dataset).split_sizes[split]
            for n in sorted({min(s, size) for s in args.sizes}):
                row = {"dataset": dataset, "table": table, "kind": kind,
                       **measure(dataset, table, kind, runs, n)}
                rows.append(row)
                e = np.array(row["epochs"])
                print(f"{dataset:22s} {kind:6s} table {table}  n={row['n_images']:5d}  "
                      f"epochs median {np.median(e):5.0f}  mean {e.mean():5.1f}  "
                      f"max {e.max():3d}  ({row['seconds']:.0f} s)", flush=True)
    if args.write:
        write_json(OUT, {"rows": rows, "runs": args.runs, "sizes": args.sizes,
                         "provenance": provenance("cpu")})
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
