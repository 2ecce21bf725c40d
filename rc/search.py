"""The random-search space of the paper (Appendix B.2) and of the loss-vs-score study."""
from __future__ import annotations

import numpy as np

#: learning rate log-uniform in [1e-3, 1]; salt-and-pepper p from {0.0, ..., 0.9};
#: hidden units from {100, 250, 500, 1000}; activation from {relu, tanh, sigmoid}.
SEARCH_SPACE = {
    "learning_rate": (1e-3, 1.0),
    "noise": tuple(round(0.1 * i, 1) for i in range(10)),
    "n_hidden": (100, 250, 500, 1000),
    "activation": ("relu", "tanh", "sigmoid"),
}


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def sample_config(rng: np.random.Generator) -> dict:
    """One DAE configuration drawn uniformly from :data:`SEARCH_SPACE`."""
    return {
        "learning_rate": _log_uniform(rng, *SEARCH_SPACE["learning_rate"]),
        "noise": float(rng.choice(SEARCH_SPACE["noise"])),
        "n_hidden": int(rng.choice(SEARCH_SPACE["n_hidden"])),
        "activation": str(rng.choice(SEARCH_SPACE["activation"])),
    }


def sample_loss_config(rng: np.random.Generator) -> dict:
    """A loss-vs-score DAE (Fig. 6a): 250 ReLU units, p = 0.3, random learning rate."""
    return {"learning_rate": _log_uniform(rng, *SEARCH_SPACE["learning_rate"]),
            "noise": 0.3, "n_hidden": 250, "activation": "relu"}


def search_configs(n_runs: int, seed: int, study: str = "search") -> list[dict]:
    """``n_runs`` configurations with a training seed each, reproducible from ``seed``.

    Run i's configuration does not depend on ``n_runs`` (a longer search extends a
    shorter one), so an interrupted or enlarged search reuses its finished runs.
    """
    sampler = sample_loss_config if study == "loss" else sample_config
    out = []
    for i in range(n_runs):
        rng = np.random.default_rng([seed, i, 1 if study == "loss" else 0])
        cfg = sampler(rng)
        cfg["seed"] = int(rng.integers(2**31))
        out.append(cfg)
    return out
