"""Input validation shared by the public functions: clear errors before any torch code runs."""
from __future__ import annotations

import numpy as np


def _image_batch(images, name: str) -> np.ndarray:
    """``images`` as a non-empty numeric (or bool) array of shape (N, H, W)."""
    arr = np.asarray(images)
    if arr.ndim != 3:
        raise ValueError(
            f"{name} must have shape (N, H, W); got an array with shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"{name} must not be empty; got shape {arr.shape}")
    if arr.dtype != bool and not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric; got dtype {arr.dtype}")
    return arr


def as_binary_images(images, name: str = "images") -> np.ndarray:
    """Return ``images`` as a float32 array of shape (N, H, W) with values in {0, 1}.

    Raises ValueError naming the problem for a wrong number of dimensions, an empty
    batch, non-finite values or values other than 0 and 1.
    """
    arr = _image_batch(images, name)
    if arr.dtype == bool:
        return arr.astype(np.float32)
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        first = arr[bad].flat[0]
        raise ValueError(
            f"{name} must be binary (every pixel 0 or 1); found {int(bad.sum())} "
            f"pixel(s) with other values, e.g. {first!r}"
        )
    return arr.astype(np.float32, copy=False)


def as_unit_images(images, name: str = "images") -> np.ndarray:
    """Return ``images`` as a float32 array of shape (N, H, W) with values in [0, 1]
    (grey levels), raising ValueError naming the problem otherwise."""
    arr = _image_batch(images, name)
    if arr.dtype == bool:
        return arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must hold finite values")
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must hold grey levels in [0, 1]; found values in "
                         f"[{arr.min():.3g}, {arr.max():.3g}]")
    return arr.astype(np.float32, copy=False)


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, raising ValueError if it is not an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def check_choice(value, name: str, choices) -> str:
    """Raise ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {sorted(choices)}")
    return value
