"""The checked inputs of a training: images as a float matrix, the split into training
and validation images, and one member's configuration."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._checks import as_binary_images, as_unit_images, check_choice, check_positive_int
from .dae import ACTIVATIONS, INITS

__all__ = ["CONFIG_KEYS", "flat_images", "member_config", "train_split"]

#: Keys every member configuration must have. ``"max_epochs"`` may be added to override
#: the population's ``max_epochs`` for one member (e.g. a compute cap that depends on the
#: architecture) and ``"init"`` to choose its initialisation (:data:`rc.dae.INITS`,
#: default ``"brainstorm"``); other keys are ignored.
CONFIG_KEYS = ("learning_rate", "noise", "n_hidden", "activation", "seed")


def flat_images(images, grey: bool = False) -> np.ndarray:
    """Binary images (N, H, W), or already flattened (N, D), as float32 (N, D); with
    ``grey``, images with grey levels in [0, 1]."""
    arr = np.asarray(images)
    if arr.ndim == 2:  # already flattened (N, n_pixels)
        arr = arr[:, :, None]
    check = as_unit_images if grey else as_binary_images
    return np.ascontiguousarray(check(arr).reshape(arr.shape[0], -1))


def train_split(n_images: int, val_fraction: float) -> int:
    """How many of ``n_images`` train (the first ones); the rest validate."""
    if not (0.0 < val_fraction < 1.0):
        raise ValueError(f"val_fraction must be in (0, 1); got {val_fraction}")
    n_train = int(n_images * (1.0 - val_fraction))
    if n_train < 1 or n_train >= n_images:
        raise ValueError(
            f"{n_images} images cannot be split into training and validation parts "
            f"with val_fraction={val_fraction}"
        )
    return n_train


def member_config(cfg: Any, i: int, max_epochs: int) -> dict:
    """Validated, normalised copy of ``configs[i]`` (clear ValueErrors otherwise)."""
    if not isinstance(cfg, Mapping):
        raise ValueError(f"configs[{i}] must be a dict; got {type(cfg).__name__}")
    missing = [k for k in CONFIG_KEYS if k not in cfg]
    if missing:
        raise ValueError(f"configs[{i}] lacks {missing}; every member needs {list(CONFIG_KEYS)}")
    try:
        lr, noise = float(cfg["learning_rate"]), float(cfg["noise"])
    except (TypeError, ValueError):
        raise ValueError(f"configs[{i}]: learning_rate and noise must be numbers; got "
                         f"{cfg['learning_rate']!r} and {cfg['noise']!r}") from None
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"configs[{i}]: learning_rate must be a positive number; got {lr}")
    if not (0.0 <= noise < 1.0):
        raise ValueError(f"configs[{i}]: noise must be a probability in [0, 1); got {noise}")
    n_hidden = check_positive_int(cfg["n_hidden"], f"configs[{i}] n_hidden")
    activation = check_choice(str(cfg["activation"]).lower(), f"configs[{i}] activation",
                              ACTIVATIONS)
    seed = cfg["seed"]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"configs[{i}]: seed must be an integer >= 0; got {seed!r}")
    cap = check_positive_int(cfg.get("max_epochs", max_epochs), f"configs[{i}] max_epochs",
                             minimum=0)
    init = check_choice(str(cfg.get("init", "brainstorm")).lower(), f"configs[{i}] init",
                        INITS)
    return {"learning_rate": lr, "noise": noise, "n_hidden": n_hidden,
            "activation": activation, "seed": int(seed), "max_epochs": cap, "init": init}
