"""DAE training throughput (training images per second) for each Table 1 configuration.

Trains each data set's Table 1 DAE for a few epochs on (up to) 5,000 training images,
with validation after every epoch as in real training, and prints images per second
and the achieved GFLOP/s of the forward and backward matrix products.

Usage: python benchmarks/bench_train.py [--epochs 3] [--n 5000] [--device cpu]
"""
from __future__ import annotations

import argparse

import torch

import rc
from rc.paper.table1 import PAPER as TABLE1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    dev = rc.dae.resolve_device(args.device)
    print(f"device {dev}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'data set':22s} {'config':22s} {'images':>7s} {'img/s':>9s} {'GFLOP/s':>8s}")
    for ds in rc.DATASETS:
        cfg = TABLE1[ds]
        size = rc.dataset_info(ds).split_sizes["train_single"]
        images, _ = rc.load_dataset(ds, "train_single", n=min(size, args.n))
        d = images.shape[1] * images.shape[2]
        # warm-up, then the timed run (patience large so that no early stop cuts it short)
        for epochs in (1, args.epochs):
            dae = rc.DAE(d, cfg.n_hidden, cfg.activation, seed=0)
            hist = rc.train_dae(dae, images, learning_rate=cfg.learning_rate, noise=cfg.noise,
                                max_epochs=epochs, patience=10**6, device=dev,
                                progress=False)
        n_train = hist.config["n_train"]
        rate = n_train * hist.epochs / hist.seconds
        gflops = rate * rc.config.dae_image_flop(d, cfg.n_hidden) / 1e9
        label = f"{cfg.n_hidden} {cfg.activation} p={cfg.noise}"
        print(f"{ds:22s} {label:22s} {n_train:7d} {rate:9.0f} {gflops:8.1f}", flush=True)


if __name__ == "__main__":
    main()
