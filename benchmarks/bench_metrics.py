"""Time rc.metrics.score against a per-image loop over sklearn's adjusted_mutual_info_score.

Run: python benchmarks/bench_metrics.py   (prints timings; not a test)
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rc.metrics import score  # noqa: E402


def make_batch(rng: np.random.Generator, n: int, side: int, n_groups: int, k: int):
    """Random blob-like ground truth (with background 0) and soft assignments that mostly agree."""
    groups = rng.integers(0, n_groups + 1, size=(n, side, side))
    logits = rng.normal(size=(n, side, side, k))
    # Make argmax agree with the group on ~70% of the pixels so AMI is not ~0.
    agree = rng.random((n, side, side)) < 0.7
    idx = np.where(groups > 0, (groups - 1) % k, 0)
    np.put_along_axis(logits, idx[..., None], np.where(agree, 3.0, 0.0)[..., None], axis=3)
    gamma = np.exp(logits)
    gamma /= gamma.sum(axis=3, keepdims=True)
    return groups, gamma.astype(np.float32)


def sklearn_loop(groups: np.ndarray, gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference: one sklearn call per image."""
    n = groups.shape[0]
    amis, conf = np.empty(n), np.empty(n)
    for i in range(n):
        m = groups[i] != 0
        amis[i] = adjusted_mutual_info_score(
            groups[i][m], gamma[i].argmax(-1)[m], average_method="max"
        )
        conf[i] = gamma[i].max(-1)[m].astype(np.float64).mean()
    return amis, conf


def best_of(fn, repeats: int) -> tuple[float, object]:
    """Best wall time of ``repeats`` calls, and the last result."""
    best, res = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fn()
        best = min(best, time.perf_counter() - t0)
    return best, res


def main() -> None:
    rng = np.random.default_rng(0)
    for side, n_groups, k in [(28, 3, 3), (20, 12, 12)]:
        groups, gamma = make_batch(rng, 1000, side, n_groups, k)
        t_fast, (a_fast, c_fast) = best_of(lambda g=groups, y=gamma: score(g, y), 10)
        t_ref, (a_ref, c_ref) = best_of(lambda g=groups, y=gamma: sklearn_loop(g, y), 1)
        err = max(np.abs(a_fast - a_ref).max(), np.abs(c_fast - c_ref).max())
        print(
            f"1000 images {side}x{side}, {n_groups} groups, K={k}: rc.metrics.score "
            f"{t_fast * 1e3:.1f} ms, sklearn loop {t_ref * 1e3:.1f} ms, "
            f"speed-up x{t_ref / t_fast:.0f} (max |diff| {err:.1e}, mean AMI {a_fast.mean():.3f})"
        )


if __name__ == "__main__":
    main()
