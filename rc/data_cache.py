"""The cache of generated data sets: the first images of each split in compressed files,
found by their names, and the longest prefix of each split read by this process kept in
memory.

A request for the first ``n`` images of a split is served by the smallest stored prefix
that holds them; without one, only the images after the longest stored shorter prefix are
rendered, and the first ``n`` are stored. :mod:`rc.datasets` renders the images and asks
this module for them (:func:`rc.datasets.load_dataset`).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rc._checks import checked_field
from rc.cache import Cache, Record
from rc.mnist import data_dir

__all__ = ["Render", "SplitId", "cached_prefix", "entry_path"]


@dataclass(frozen=True)
class SplitId:
    """One split of a generated data set, as the data cache names and sizes it."""

    dataset: str
    split: str
    seed: int
    size: int                  # images in the whole split
    shape: tuple[int, int]     # of one image
    generator_version: int     # rc.datasets.GENERATOR_VERSION


#: ``render(stop, start)``: images ``start`` to ``stop - 1`` of a split as (images,
#: groups), both uint8.
Render = Callable[[int, int], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class _Split(Record):
    """The first images of a split, as stored in the data cache (uint8 arrays)."""

    images: np.ndarray = checked_field("N", "H", "W")
    groups: np.ndarray = checked_field("N", "H", "W")


def _entry_name(split: SplitId, n: int | None = None) -> str:
    base = f"{split.dataset}-{split.split}-seed{split.seed}"
    return base if n is None or n == split.size else f"{base}-first{n}"


def _entry_inputs(split: SplitId, n: int | None = None) -> dict:
    """The data cache's inputs of the first ``n`` images of a split. The whole split (``n``
    None or the split's size) has no ``n``: its entry keeps the key it had before prefixes
    were stored."""
    inputs = {"dataset": split.dataset, "split": split.split, "seed": split.seed,
              "generator_version": split.generator_version}
    if n is not None and n != split.size:
        inputs["n"] = n
    return inputs


def _data_cache() -> Cache:
    # best effort: a read-only or shared data folder only costs a warning
    return Cache(data_dir() / "generated", best_effort=True)


def entry_path(split: SplitId, n: int | None = None) -> Path:
    """The file of the first ``n`` images of a split (default: all); see
    :func:`rc.datasets.cache_path`."""
    return _data_cache().path(_entry_name(split, n), _entry_inputs(split, n), _Split)


def _stored_sizes(cache: Cache, split: SplitId) -> list[int]:
    """The sizes of the prefixes of a split that the data cache holds files for (by their
    names; :meth:`Cache.load` checks the content), in increasing order."""
    size = split.size
    base = _entry_name(split)
    pattern = re.compile(rf"{re.escape(base)}-first([0-9]+)\.[0-9a-f]{{16}}\.npz")
    found = set()
    if cache.root.is_dir():
        for path in cache.root.glob(f"{base}-first*.npz"):
            match = pattern.fullmatch(path.name)
            if match and 0 < int(match.group(1)) < size:
                found.add(int(match.group(1)))
    if cache.path(base, _entry_inputs(split), _Split).is_file():
        found.add(size)
    return sorted(found)


#: The longest prefix of each split that this process has read from or written to the data
#: cache, most recently used last, within :data:`_MEMO_BYTES` (read-only arrays).
_memo: dict[tuple[str, str, str, int], _Split] = {}
_MEMO_BYTES = 256 << 20


def _remember(key: tuple[str, str, str, int], value: _Split) -> _Split:
    """Keep ``value`` in :data:`_memo` (unless a longer prefix is kept) and return it."""
    kept = _memo.pop(key, None)
    if kept is not None and len(kept.images) >= len(value.images):
        value = kept
    for array in (value.images, value.groups):
        array.setflags(write=False)
    _memo[key] = value
    while sum(v.images.nbytes + v.groups.nbytes for v in _memo.values()) > _MEMO_BYTES \
            and len(_memo) > 1:
        del _memo[next(iter(_memo))]
    return value


def cached_prefix(split: SplitId, n: int, render: Render) -> _Split:
    """The first ``n`` images of a split (or more), from memory or the data cache; what
    neither holds is made by ``render``."""
    key = (str(_data_cache().root), split.dataset, split.split, split.seed)
    kept = _memo.get(key)
    if kept is not None and len(kept.images) >= n:
        return _remember(key, kept)
    return _remember(key, _stored_prefix(split, n, render))


def _stored_prefix(split: SplitId, n: int, render: Render) -> _Split:
    """The first ``n`` images of a split (or more) from the data cache, generating and
    storing only what it lacks.

    The smallest stored prefix of at least ``n`` images is used if there is one. Otherwise
    the largest stored prefix shorter than ``n`` is extended to ``n`` images (rendering only
    the images after it; the plan is always drawn for the whole split, so the images are
    those of the whole split) and the result is stored as the prefix of ``n`` images.
    """
    cache = _data_cache()
    stored = _stored_sizes(cache, split)

    def dims(m: int) -> dict:
        return dict(zip("NHW", (m, *split.shape)))

    def entry(m: int) -> _Split | None:
        value = cache.load(_entry_name(split, m), _entry_inputs(split, m), _Split, dims(m))
        return value if value is not None and len(value.images) == m else None

    for m in (m for m in stored if m >= n):
        value = entry(m)
        if value is not None:
            return value
    head = next((v for v in map(entry, reversed([m for m in stored if m < n]))
                 if v is not None), None)

    def generate() -> _Split:
        if head is None:
            return _Split(*render(n, 0))
        images, groups = render(n, len(head.images))
        return _Split(np.concatenate([head.images, images]),
                      np.concatenate([head.groups, groups]))

    return cache.get_or_compute(_entry_name(split, n), _entry_inputs(split, n), generate, _Split,
                                describe=f"the first {n} images of {split.dataset}/{split.split}",
                                dims=dims(n))
