"""The search trainer's rate as a share of the machine's matrix-product rate, same shapes.

For each width of the paper's search space (100, 250, 500, 1000 hidden units) this trains
one search member (``rc.train_population``, as a search trains its runs) for a few epochs
on a data set's training images, and times, in the same run and right beside it, the five
matrix products that one minibatch step of that DAE needs (forward: x W1 and h W2;
backward: the hidden units' gradient and the two weight gradients) as plain ``torch.bmm``
calls of the same shapes. Both rates count the project's one cost model
(``rc.config.dae_image_flop``: 10 D H FLOPs per training image), so their ratio says how
much of the machine's product rate the trainer turns into training; the rest goes to the
activations, the loss, the noise draws and the validation passes.

Where the trainer's share stays low, the last table says why: the share of its time in
the products, in drawing the salt-and-pepper noise (one uniform number per pixel and
image, ``aten::uniform_`` and the comparisons and ``where`` that turn it into noise), in
the cross-entropy loss it records per minibatch, and in the rest (torch's profiler, one
epoch per width). The noise and the loss cost the same per pixel whatever the width,
while the products grow with it, so their share is largest at 100 hidden units. Both are
part of the paper's training (its noise, its recorded loss): drawing them otherwise would
change every trained bit and every stored result.

Usage: python benchmarks/bench_search.py [--dataset shapes] [--n 5000] [--epochs 2]
       [--repeats 3]
"""
from __future__ import annotations

import argparse
import time

import torch

import rc
from rc.config import dae_image_flop
from rc.storage import machine_words
from rc.training import train_population, train_split

WIDTHS = (100, 250, 500, 1000)


def products_seconds(d: int, h: int, batch: int, steps: int) -> float:
    """Wall time of ``steps`` minibatch steps' five products at one member's shapes."""
    x, w1 = torch.rand(1, batch, d), torch.rand(1, d, h)
    b1, w2, b2 = torch.rand(1, 1, h), torch.rand(1, h, d), torch.rand(1, 1, d)
    start = time.perf_counter()
    for _ in range(steps):
        hid = torch.baddbmm(b1, x, w1)                       # (1, B, H)
        z = torch.baddbmm(b2, hid, w2)                       # (1, B, D)
        g_hid = torch.bmm(z, w2.transpose(1, 2))             # hidden units' gradient
        torch.bmm(hid.transpose(1, 2), z)                    # dW2
        torch.bmm(x.transpose(1, 2), g_hid)                  # dW1
    return time.perf_counter() - start


def trainer_seconds(images, width: int, epochs: int) -> float:
    """Wall time of one search member (ReLU, p = 0.3) trained for ``epochs`` epochs."""
    config = {"learning_rate": 0.01, "noise": 0.3, "n_hidden": width, "activation": "relu",
              "seed": 0}
    (_, hist), = train_population(images, [config], max_epochs=epochs, patience=10**6,
                                  progress=False)
    return hist.seconds


#: Torch operators by what they do in the trainer (the rest: updates, copies, slicing).
OPERATORS = {
    "products": ("aten::bmm", "aten::baddbmm", "aten::mm", "aten::addmm"),
    "noise": ("aten::uniform_", "aten::lt", "aten::where"),
    "loss": ("aten::log_sigmoid_forward", "aten::binary_cross_entropy_with_logits",
             "aten::sigmoid"),
}


def time_shares(images, width: int) -> dict[str, float]:
    """Shares of one epoch's operator time (torch's profiler, self time) by
    :data:`OPERATORS` group, and ``"rest"``."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer_seconds(images, width, 1)
    times = {e.key: e.self_cpu_time_total for e in prof.key_averages()}
    total = sum(times.values())
    shares = {group: sum(times.get(op, 0.0) for op in ops) / total
              for group, ops in OPERATORS.items()}
    shares["rest"] = 1.0 - sum(shares.values())
    return shares


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="shapes")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="timing rounds (best kept)")
    args = ap.parse_args()
    if min(args.n, args.epochs, args.repeats) < 1:
        ap.error("--n, --epochs and --repeats must be at least 1")
    images, _ = rc.load_dataset(args.dataset, "train_single", n=args.n)
    d = images.shape[1] * images.shape[2]
    n_train = train_split(len(images), 0.1)
    steps = args.epochs * -(-n_train // 100)
    print(f"machine: {machine_words({'machine': rc.storage.machine()})}")
    print(f"{args.dataset}: {len(images)} images of {d} pixels ({n_train} trained on), "
          f"{args.epochs} epochs, best of {args.repeats} rounds")
    print(f"{'hidden':>6s} {'products GFLOP/s':>17s} {'trainer GFLOP/s':>16s} {'share':>6s}")
    trainer_seconds(images[:300], 100, 1)  # warm-up: allocator, thread pools
    shares = []
    for h in WIDTHS:
        flop = dae_image_flop(d, h) * n_train * args.epochs
        best_products = best_trainer = float("inf")
        for _ in range(args.repeats):  # interleaved, so that both see the same load
            best_products = min(best_products, products_seconds(d, h, 100, steps))
            best_trainer = min(best_trainer, trainer_seconds(images, h, args.epochs))
        products, trainer = flop / best_products / 1e9, flop / best_trainer / 1e9
        shares.append(trainer / products)
        print(f"{h:6d} {products:17.1f} {trainer:16.1f} {trainer / products:6.0%}", flush=True)
    print(f"share of the product rate: {min(shares):.0%} to {max(shares):.0%} "
          f"(the trainer's epochs include one validation pass each)")
    print("\nwhere the trainer's time goes (torch's profiler, one epoch, self time):")
    print(f"{'hidden':>6s} " + " ".join(f"{g:>9s}" for g in (*OPERATORS, "rest")))
    for h in WIDTHS:
        parts = time_shares(images, h)
        print(f"{h:6d} " + " ".join(f"{parts[g]:9.0%}" for g in (*OPERATORS, "rest")),
              flush=True)


if __name__ == "__main__":
    main()
