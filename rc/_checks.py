"""Input validation shared by the public functions: clear errors before any torch code runs."""
from __future__ import annotations

import dataclasses
import types
import typing

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


def check_number(value, name: str, minimum: float | None = None, *, positive: bool = False,
                 maximum: float | None = None) -> float:
    """Return ``value`` as a float, raising ValueError unless it is a finite real number
    (not a bool, not a string), > 0 if ``positive``, and within [minimum, maximum]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                   np.floating)):
        raise ValueError(f"{name} must be a number; got {value!r}")
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    if positive and number <= 0:
        raise ValueError(f"{name} must be > 0; got {value!r}")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}; got {value!r}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be <= {maximum:g}; got {value!r}")
    return number


def check_sequence(value, name: str, check_item, allow_empty: bool = True) -> tuple:
    """Return ``value`` (a list or tuple, not a string) as a tuple of its items checked
    with ``check_item(item, item_name)``, raising ValueError otherwise."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list or tuple; got {value!r}")
    if not allow_empty and not value:
        raise ValueError(f"{name} must not be empty")
    return tuple(check_item(item, f"{name}[{i}]") for i, item in enumerate(value))


def check_assignments(gamma, name: str = "gamma", atol: float = 1e-3) -> np.ndarray:
    """Return soft assignments ``gamma`` (..., K) as an array, raising ValueError unless
    they are finite, in [0, 1] and sum to 1 over the clusters (last axis) within ``atol``.
    Boolean (one-hot) assignments are accepted as they are."""
    arr = np.asarray(gamma)
    if arr.dtype == bool:
        bad = arr.sum(axis=-1) != 1
        if bad.any():
            raise ValueError(f"{name} must assign every pixel to exactly one cluster; "
                             f"{int(bad.sum())} pixel(s) are not")
        return arr
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real-valued; got dtype {arr.dtype}")
    if arr.size == 0:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        if np.isnan(arr).any():
            raise ValueError(f"{name} contains NaN")
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} must be finite; it contains inf")
    lo, hi = arr.min(), arr.max()
    if lo < 0 or hi > 1:
        raise ValueError(f"{name} must hold probabilities in [0, 1]; found values in "
                         f"[{float(lo):.3g}, {float(hi):.3g}]")
    total = arr.sum(axis=-1, dtype=np.float64)
    worst = float(np.abs(total - 1.0).max())
    if worst > atol:
        raise ValueError(f"{name} must sum to 1 over the clusters (last axis); a pixel's "
                         f"sum is off by {worst:.3g}")
    return arr


# ------------------------------------------------------------------------ stored results
def checked_field(*dims, finite: bool = False):
    """A dataclass field of a stored result with the shape it must have on loading.

    ``dims`` name the array's dimensions (a list's length): an int is a fixed size, a
    string a size shared by every field (of the same object) that names it, None any
    size; no ``dims``: only the field's type is checked. ``finite``: the value (array or
    number) must not hold NaN or infinity. :func:`check_fields` reads this.
    """
    return dataclasses.field(metadata={"dims": dims if dims else None, "finite": finite})


_HINTS: dict = {}


def _type_hints(cls) -> dict:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


#: The Python types that certainly conform to a hint (numpy scalars take the long way).
_EXACT = {float: {float, int}, int: {int}, str: {str}}


def _conforms(value, hint) -> bool:
    """Whether ``value`` is of the annotated type ``hint`` (builtins, numpy arrays,
    dataclasses, containers of them; other classes are not checked)."""
    if hint is typing.Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, h) for h in typing.get_args(hint))
    args = typing.get_args(hint)
    if origin is not None:
        if origin in (list, tuple):
            if not isinstance(value, (list, tuple)):
                return False
            item = args[0] if args else typing.Any
            if item in _EXACT and set(map(type, value)) <= _EXACT[item]:
                return True  # a long list of plain numbers, checked at C speed
            return all(_conforms(v, item) for v in value)
        if origin is dict:
            if not isinstance(value, dict):
                return False
            return not args or all(_conforms(k, args[0]) and _conforms(v, args[1])
                                   for k, v in value.items())
        return isinstance(value, origin)
    if hint is float:
        return (isinstance(value, (int, float, np.integer, np.floating))
                and not isinstance(value, (bool, np.bool_)))
    if hint is int:
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if hint is bool:
        return isinstance(value, (bool, np.bool_))
    if hint is tuple:  # JSON gives lists
        return isinstance(value, (list, tuple))
    if hint in (str, dict, list):
        return isinstance(value, hint)
    if hint is np.ndarray:
        return isinstance(value, np.ndarray) and (value.dtype == bool or np.issubdtype(
            value.dtype, np.number))
    if dataclasses.is_dataclass(hint):
        return isinstance(value, hint)
    return True


def check_fields(obj, name: str | None = None, dims: dict | None = None) -> None:
    """Raise ValueError naming the field unless every field of the dataclass ``obj`` has its
    annotated type, and, as :func:`checked_field` declares, its dimensions (consistent across
    fields, and equal to ``dims`` where given) and finite values. Nested dataclasses are
    checked too. The one validation of every stored result on loading (:mod:`rc.cache`)."""
    cls = type(obj)
    name = name or cls.__name__
    sizes = dict(dims or {})
    hints = _type_hints(cls)
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        hint = hints.get(f.name)
        if hint is not None and not _conforms(value, hint):
            raise ValueError(f"{name}.{f.name} should be {_type_name(hint)}; it is "
                             f"{_describe(value)}")
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_fields(value, f"{name}.{f.name}")
        shape = f.metadata.get("dims")
        if shape is not None and isinstance(value, (np.ndarray, list, tuple)):
            got_shape = value.shape if isinstance(value, np.ndarray) else (len(value),)
            if len(got_shape) != len(shape):
                raise ValueError(f"{name}.{f.name} should have {len(shape)} dimension(s); "
                                 f"it has shape {got_shape}")
            for axis, (want, got) in enumerate(zip(shape, got_shape)):
                if isinstance(want, str):
                    want = sizes.setdefault(want, got)
                if want is not None and got != want:
                    raise ValueError(f"{name}.{f.name} has shape {got_shape}; its "
                                     f"dimension {axis} should be {want}")
        if f.metadata.get("finite") and value is not None:
            arr = np.asarray(value)
            if np.issubdtype(arr.dtype, np.inexact) and not np.isfinite(arr).all():
                raise ValueError(f"{name}.{f.name} should be finite; it holds NaN or inf")


def _type_name(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("numpy.", "np.")


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"
