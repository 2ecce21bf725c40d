"""Speed of reconstruction clustering + scoring: batched `rc` vs a per-image loop.

Times RC (K=3, 10 iterations, scores after every iteration as the paper records them)
on the first 1,000 Shapes test images with Table 1's Shapes DAE (500 tanh units, as
trained by the ``default`` profile; trained first if not cached), three ways in the same
run:

* ``rc.reconstruction_clustering`` (batched over images and clusters, vectorised AMI);
* a straightforward loop in the style of the original code: one forward pass per image
  and cluster, an E-step per image, ``sklearn`` AMI per image and iteration;
* the matrix products alone (the same shapes through two ``addmm`` calls), a lower
  bound on what any implementation of RC with this DAE must spend.

Usage: python benchmarks/bench_rc.py [--n 1000] [--loop-n 1000] [--device cpu]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.metrics import adjusted_mutual_info_score

import rc
from rc.clustering import CLIP, initial_gamma


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return min(times), out


def loop_rc(dae, images, groups, k, n_iters, seed):
    """One image, one cluster at a time, scored with sklearn after every iteration."""
    h, w = images.shape[1:]
    amis = np.empty((len(images), n_iters + 1))
    dev = next(dae.parameters()).device
    for n, (img, grp) in enumerate(zip(images, groups)):
        x = img.reshape(-1)
        gamma = initial_gamma(k, [n], (h, w), "gaussian", seed)[0]
        mask = grp.reshape(-1) != 0
        truth = grp.reshape(-1)[mask]
        amis[n, 0] = adjusted_mutual_info_score(truth, gamma.argmax(0)[mask],
                                                average_method="max")
        for t in range(n_iters):
            mu = np.empty_like(gamma)
            with torch.no_grad():
                for j in range(k):
                    inp = torch.from_numpy(gamma[j] * x)[None].to(dev)
                    mu[j] = dae(inp)[0].cpu().numpy()
            mu = np.clip(mu, CLIP, 1 - CLIP)
            lik = np.where(x > 0, mu, 1 - mu) / k
            gamma = lik / lik.sum(0, keepdims=True)
            amis[n, t + 1] = adjusted_mutual_info_score(truth, gamma.argmax(0)[mask],
                                                        average_method="max")
    return amis


def matmul_bound(dae, n, k, d, n_iters, chunk):
    """Time of the R-step's matrix products alone, in the chunks RC uses."""
    w1, b1 = dae.encoder.weight.T.contiguous(), dae.encoder.bias
    w2, b2 = dae.decoder.weight.T.contiguous(), dae.decoder.bias
    x = torch.rand(min(chunk, n) * k, d, device=w1.device)

    def run():
        with torch.no_grad():
            for start in range(0, n, chunk):
                b = min(chunk, n - start) * k
                for _ in range(n_iters):
                    torch.addmm(b2, torch.addmm(b1, x[:b], w1), w2)
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="test images for the batched run")
    ap.add_argument("--loop-n", type=int, default=1000, help="test images for the loop")
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()

    dev = rc.dae.resolve_device(args.device)
    images, groups = rc.load_dataset("shapes", "test", n=max(args.n, args.loop_n))
    cfg = rc.paper.table1.PAPER["shapes"]
    # a trained DAE (Table 1's Shapes configuration, the `default` profile's cached one):
    # with an untrained one soft RC drifts to uniform assignments whose argmax is decided
    # by rounding, and the loop and the batched run could not be compared
    dae = rc.Results("default", device=dev).table_dae("shapes").dae
    dae.eval()
    n, k, it = args.n, args.k, args.iters
    print(f"device {dev}, torch {torch.__version__}, threads {torch.get_num_threads()}; "
          f"Shapes, {n} images, K={k}, {it} iterations, DAE 784-{cfg.n_hidden}-784 "
          f"{cfg.activation}")

    def batched():
        return rc.reconstruction_clustering(dae, images[:n], k=k, n_iters=it,
                                            groups=groups[:n], seed=0)
    batched()  # warm-up
    t_batched, res = best_of(batched, args.repeats)
    chunk = max(1, min(n, (8 << 20) // (k * 784)))
    t_mm, _ = best_of(matmul_bound(dae, n, k, 784, it, chunk), args.repeats)
    t_score, _ = best_of(lambda: rc.score(groups[:n], res.gamma), args.repeats)
    t0 = time.perf_counter()
    loop_ami = loop_rc(dae, images[:args.loop_n], groups[:args.loop_n], k, it, 0)
    t_loop = (time.perf_counter() - t0) * n / args.loop_n
    m = min(n, args.loop_n)
    agree = np.abs(loop_ami[:m] - res.ami[:m]).max()

    flops = 2 * 2 * n * k * 784 * cfg.n_hidden * it
    print(f"batched rc (RC + AMI/confidence after every iteration): {t_batched:8.3f} s")
    print(f"  of which one scoring pass of {n} images:               {t_score:8.3f} s "
          f"(x{it + 1} iterations)")
    print(f"matrix products alone ({flops / 1e9:.1f} GFLOP):                 {t_mm:8.3f} s "
          f"= {flops / t_mm / 1e9:.0f} GFLOP/s")
    extra = "" if args.loop_n == n else f" (extrapolated from {args.loop_n} images)"
    print(f"per-image, per-cluster loop + sklearn AMI:              {t_loop:8.3f} s{extra}")
    print(f"speed-up over the loop:          {t_loop / t_batched:6.1f}x   (goal >= 40x)")
    print(f"batched time / matmul bound:     {t_batched / t_mm:6.2f}    (goal <= 2)")
    print(f"max |AMI(loop) - AMI(batched)| over {m} images and {it + 1} steps: {agree:.2e}")


if __name__ == "__main__":
    main()
