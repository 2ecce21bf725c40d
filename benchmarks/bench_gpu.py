"""Batched against one-by-one DAE training, and the FLOP rate against a plain matrix product.

Trains ``--members`` configurations of the ``paper`` profile's multi-object search on the
first ``--n`` images of a data set's ``train_multi`` split for ``--epochs`` epochs each
(no early stopping): one by one (a population of one each, as ``train_dae``) and as one
population with each grouping of ``rc.training.GROUPINGS`` (by architecture, by
activation with padded widths, all in one group). Prints DAE-epochs per second and the
achieved TFLOP/s (useful multiply-adds of training, padding not counted) beside a plain
float32 matrix product on the same device, with TF32 as set by ``--tf32``. Runs anywhere;
meant for the GPU script.

Usage: python benchmarks/bench_gpu.py [--dataset shapes] [--members 24] [--epochs 2]
       [--n 10000] [--device cuda] [--tf32] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import time

import torch

import rc
from rc.protocol import train_flop
from rc.search import search_configs
from rc.specs import DAEConfig, DataSpec, TrainSpec
from rc.training import GROUPINGS, train_population


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_rate(device: torch.device, size: int, repeats: int = 10) -> float:
    """TFLOP/s of a float32 (size x size) @ (size x size) product."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    for _ in range(2):
        a @ b
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e12


def timed(fn, device) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="shapes")
    ap.add_argument("--members", type=int, default=24)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--matmul", type=int, default=4096)
    ap.add_argument("--device", default=None)
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--skip-single", action="store_true", help="leave out one-by-one")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    device = rc.dae.resolve_device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32

    images, _ = rc.load_dataset(args.dataset, "train_multi", n=args.n)
    configs = search_configs(args.members, rc.get_profile("paper").seed + 200)
    data = DataSpec(args.dataset, "train_multi", len(images))
    flop = sum(train_flop(TrainSpec(data, DAEConfig.from_mapping(c), c["seed"]), args.epochs)
               for c in configs)
    kw = dict(max_epochs=args.epochs, patience=10**6, device=device, progress=False)
    train_population(images[:200], configs[:2], **{**kw, "max_epochs": 1})  # warm-up
    peak = matmul_rate(device, args.matmul)
    rows = {"device": str(device), "device_name": torch.cuda.get_device_name(device)
            if device.type == "cuda" else "cpu", "tf32": args.tf32,
            "dataset": args.dataset, "members": args.members, "epochs": args.epochs,
            "n_images": len(images), "useful_tflop": flop / 1e12,
            "matmul_tflops": peak}
    ways = {g: (lambda g=g: train_population(images, configs, grouping=g, **kw))
            for g in GROUPINGS}
    if not args.skip_single:
        ways["one_by_one"] = lambda: [train_population(images, [c], **kw) for c in configs]
    print(f"{device} ({rows['device_name']}), torch {torch.__version__}, TF32 {args.tf32}; "
          f"{args.members} DAEs x {args.epochs} epochs on {len(images)} {args.dataset} "
          f"images; plain matmul {peak:.1f} TFLOP/s")
    for name, fn in ways.items():
        seconds = timed(fn, device)
        rows[name] = {"seconds": seconds,
                      "dae_epochs_per_s": args.members * args.epochs / seconds,
                      "tflops": flop / seconds / 1e12}
        print(f"  {name:12s} {seconds:8.2f} s  {rows[name]['dae_epochs_per_s']:8.2f} "
              f"DAE-epochs/s  {rows[name]['tflops']:7.2f} TFLOP/s "
              f"({100 * rows[name]['tflops'] / peak:.0f}% of matmul)", flush=True)
    if "one_by_one" in rows:
        for name in GROUPINGS:
            print(f"  {name} / one by one: "
                  f"{rows['one_by_one']['seconds'] / rows[name]['seconds']:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
