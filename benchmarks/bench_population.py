"""Population training vs one-by-one training: DAE-epochs per second.

Draws ``--members`` configurations from the paper's search space (rc.search), trains
them for a fixed number of epochs (patience so large that no member stops early) on
the first ``--n`` images of a training split, once with ``rc.training.
train_population`` and once one by one with ``rc.train_dae``, and prints the group
sizes, both rates (member epochs per second of wall time, validation included), their
ratio and the largest relative difference between the two runs' validation losses.

Usage: python benchmarks/bench_population.py [--members 12] [--epochs 3] [--n 2000]
       [--dataset shapes] [--device cpu] [--max-members M] [--seed 0]
       [--repeats 2]
"""
from __future__ import annotations

import argparse
import time

import torch

import rc
from rc.search import search_configs
from rc.training import population_groups, train_population


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--members", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--dataset", default="shapes")
    ap.add_argument("--split", default="train_single")
    ap.add_argument("--device", default=None)
    ap.add_argument("--max-members", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2, help="timing rounds (best kept)")
    args = ap.parse_args()
    if min(args.epochs, args.members, args.repeats) < 1:
        ap.error("--epochs, --members and --repeats must be at least 1")

    dev = rc.dae.resolve_device(args.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"device {dev} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}")
    images, _ = rc.load_dataset(args.dataset, args.split, n=args.n)
    configs = search_configs(args.members, args.seed)
    kw = dict(max_epochs=args.epochs, patience=10**6, device=dev, progress=False)
    print(f"{args.dataset}/{args.split}: {len(images)} images of "
          f"{images.shape[1]}x{images.shape[2]}, {len(configs)} members, "
          f"{args.epochs} epochs each")
    # warm-up (allocator, kernels, thread pools) on a single tiny run of each kind
    train_population(images[:200], configs[:1], **{**kw, "max_epochs": 1})
    rc.train_dae(rc.DAE(images.shape[1] * images.shape[2], 100), images[:200],
                 learning_rate=0.1, noise=0.1, max_epochs=1, device=dev, progress=False)

    # Groups are timed one after the other, each population run right next to the same
    # members trained one by one, and the best of --repeats rounds is kept: on a shared
    # machine this is far less noisy than timing all members of one kind, then the other.
    d = images.shape[1] * images.shape[2]
    pop: list = [None] * len(configs)
    singles: list = [None] * len(configs)
    t_pop, t_single = [], []
    print(f"  {'group':16s} {'population s':>13s} {'one by one s':>13s}")
    for g in population_groups(configs, args.max_members):  # (sub-)groups
        best_pop = best_single = float("inf")
        for _ in range(args.repeats):
            sync(dev)
            t = time.perf_counter()
            for i, res in zip(g, train_population(images, [configs[i] for i in g], **kw)):
                pop[i] = res
            sync(dev)
            best_pop = min(best_pop, time.perf_counter() - t)
            t = time.perf_counter()
            for i in g:
                c = configs[i]
                dae = rc.DAE(d, c["n_hidden"], c["activation"], seed=c["seed"])
                singles[i] = rc.train_dae(dae, images, learning_rate=c["learning_rate"],
                                          noise=c["noise"], seed=c["seed"], **kw)
            sync(dev)
            best_single = min(best_single, time.perf_counter() - t)
        c = configs[g[0]]
        label = f"{c['n_hidden']} {c['activation']} x{len(g)}"
        print(f"  {label:16s} {best_pop:13.2f} {best_single:13.2f}", flush=True)
        t_pop.append(best_pop)
        t_single.append(best_single)
    t_pop, t_single = sum(t_pop), sum(t_single)

    epochs = sum(h.epochs for _, h in pop)
    assert epochs == sum(h.epochs for h in singles)

    def rel_diff(epoch: int | None) -> float:
        """Largest relative val-loss difference between the two runs after ``epoch``."""
        return max(abs(h.val_loss[e] - s.val_loss[e]) / abs(s.val_loss[e])
                   for (_, h), s in zip(pop, singles)
                   for e in [len(s.val_loss) - 1 if epoch is None else epoch])
    rate_pop, rate_single = epochs / t_pop, epochs / t_single
    print(f"population : {t_pop:8.2f} s  {rate_pop:8.2f} DAE-epochs/s")
    print(f"one by one : {t_single:8.2f} s  {rate_single:8.2f} DAE-epochs/s")
    print(f"speed-up   : {rate_pop / rate_single:8.2f}x")
    # after epoch 1 the runs agree to float rounding; a member with a large learning rate
    # can amplify rounding over later epochs (train_dae alone does the same when run with
    # another number of threads), hence the final difference is reported separately
    print(f"max relative val-loss difference: epoch 1 {rel_diff(1):.1e}, "
          f"last epoch {rel_diff(None):.1e}")


if __name__ == "__main__":
    main()
