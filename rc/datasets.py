"""The six binary data sets of the paper: patterns, generators, loader (their files are
kept by :mod:`rc.data_cache`).

Every image is made by stamping binary patterns at integer positions that keep the whole
pattern inside the image. A pixel is on when at least one object covers it. The ground
truth group of a pixel is the (1-based, placement-order) label of the single object that
covers it, and 0 where no object or two or more objects cover it.

Generation is split in two stages so that results are reproducible and prefix-stable:

1. *plan*: every random choice (pattern ids, positions, digit indices, shuffles) is drawn
   for the FULL split at once from a generator seeded by ``(seed, crc32(name:split))``;
2. *render*: the plan is turned into pixels, vectorised over images (in chunks to bound
   memory); image ``i`` depends only on row ``i`` of the plan.

Hence the first ``m`` images of a split do not depend on how many are requested. Changing
either stage changes the data, which must be signalled by bumping :data:`GENERATOR_VERSION`
(it is part of the cache key of the data and of every result computed from them).
"""
from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rc._checks import check_choice, check_positive_int
from rc.data_cache import Render, SplitId, cached_prefix, entry_path
from rc.mnist import data_dir, load_mnist

__all__ = [
    "ALL_DATASETS",
    "DATASETS",
    "GREY_DATASETS",
    "GENERATOR_VERSION",
    "LABELS",
    "PATTERNS",
    "SIMPLE_PATTERNS",
    "SPLITS",
    "DatasetInfo",
    "cache_path",
    "data_dir",
    "dataset_info",
    "label",
    "load_dataset",
]

DATASETS: tuple[str, ...] = (
    "simple_superposition",
    "shapes",
    "bars",
    "corners",
    "mnist_shape",
    "multi_mnist",
)
SPLITS: tuple[str, ...] = ("train_single", "train_multi", "test", "validation")
#: First MNIST test digit of the validation split (digits of the scored test images come
#: before it; MNIST+Shape uses the test digits in order).
_VALIDATION_DIGITS = 5000
#: Grey-level data sets beyond the paper (rc.beyond.grey): Shapes with a random intensity
#: per object, and Multi-MNIST without thresholding.
GREY_DATASETS: tuple[str, ...] = ("shapes_grey", "multi_mnist_grey")
#: Every data set :func:`load_dataset` knows.
ALL_DATASETS: tuple[str, ...] = DATASETS + GREY_DATASETS
#: Display names of the data sets (the one place they are defined).
LABELS: dict[str, str] = {
    "simple_superposition": "Simple Superposition",
    "shapes": "Shapes",
    "bars": "Bars",
    "corners": "Corners",
    "mnist_shape": "MNIST+Shape",
    "multi_mnist": "Multi-MNIST",
    "shapes_grey": "Shapes (grey levels)",
    "multi_mnist_grey": "Multi-MNIST (grey levels)",
}
#: Version of the generation procedure; part of every cache file name.
GENERATOR_VERSION = 1


# --------------------------------------------------------------------------------------
# Patterns
# --------------------------------------------------------------------------------------
def _pattern(text: str) -> np.ndarray:
    """Turn a block of '#' (on) and '.' (off) rows into a read-only uint8 array."""
    rows = [line.strip() for line in text.strip().splitlines()]
    if len({len(r) for r in rows}) != 1 or not set("".join(rows)) <= {"#", "."}:
        raise ValueError(f"malformed pattern text:\n{text}")
    array = np.array([[c == "#" for c in r] for r in rows], dtype=np.uint8)
    array.setflags(write=False)
    return array


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    array.setflags(write=False)
    return array


_SQUARE = _pattern(
    """
    #######
    #######
    ##...##
    ##...##
    ##...##
    #######
    #######
    """
)
_TRIANGLE = _pattern(
    """
    .....##.....
    ....####....
    ...######...
    ..###..###..
    .###....###.
    ############
    ############
    """
)
_CORNER = _pattern(
    """
    #####
    #####
    ##...
    ##...
    ##...
    """
)
#: The corner in its four orientations: as drawn (top-left), flipped vertically
#: (bottom-left), flipped horizontally (top-right), flipped both ways (bottom-right).
_CORNER_ORIENTATIONS = _frozen(
    np.stack([_CORNER, _CORNER[::-1], _CORNER[:, ::-1], _CORNER[::-1, ::-1]])
)


def _corner_square() -> np.ndarray:
    """20x20 frame made of the four corners, each pointing outwards."""
    frame = np.zeros((20, 20), dtype=np.uint8)
    top_left, bottom_left, top_right, bottom_right = _CORNER_ORIENTATIONS
    frame[:5, :5] = top_left
    frame[15:, :5] = bottom_left
    frame[:5, 15:] = top_right
    frame[15:, 15:] = bottom_right
    return _frozen(frame)


_SIMPLE_TEXT = """
........ ........ ...#.... ...##... ........ ........ ........ ........
.######. .....##. ...#.... ..#..#.. .#...... .######. ......#. ........
.#....#. ....###. ...#.... .#....#. .#...... ........ ......#. ........
.#....#. ...##.#. ######## #......# .#...... ........ ......#. ........
.#....#. ..##..#. ...#.... #......# .#...... ........ ......#. ........
.######. .##...#. ...#.... .#....#. .#...... ........ ......#. ........
........ .######. ...#.... ..#..#.. .#...... ........ ......#. .######.
........ ........ ...#.... ...##... ........ ........ ........ ........

........ ........ ...#.... ........ ........ ....#... ........ .#......
.#...... ......#. ...#.... ........ ........ ..####.. ........ .#......
.##..... .....#.. ...#.... .....### ........ ###..#.. ........ ####....
..###... ....#... ...#.... .....#.. ...##... #....### ..#..... .#......
....##.. ...#.... ####.... .....#.. ..#..#.. #......# ..#..... .#......
.....##. ..#..... ........ .....##. .#....#. #....... .######. ........
......#. .#...... ........ ......## .#....#. #....... .....#.. ........
........ #....... ........ ........ ..#..#.. ........ ........ ........
"""


def _simple_patterns() -> np.ndarray:
    """The 16 8x8 patterns of the Simple Superposition data set (objects 1..16 in order)."""
    patterns = []
    for block in _SIMPLE_TEXT.strip().split("\n\n"):
        columns = list(zip(*(line.split() for line in block.strip().splitlines())))
        patterns.extend(_pattern("\n".join(col)) for col in columns)
    return _frozen(np.stack(patterns))


#: The 16 Simple Superposition patterns, uint8 of shape (16, 8, 8), read-only.
SIMPLE_PATTERNS: np.ndarray = _simple_patterns()

#: Named binary patterns (read-only uint8 arrays). ``corner`` is the top-left orientation;
#: ``corner_square`` is the 20x20 frame of four outward-pointing corners.
PATTERNS: dict[str, np.ndarray] = {
    "square": _SQUARE,
    "triangle": _TRIANGLE,
    "triangle_down": _frozen(_TRIANGLE[::-1]),
    "corner": _CORNER,
    "corner_square": _corner_square(),
}

# The three Shapes objects, zero-padded to a common 7x12 box (with their true sizes).
_SHAPE_NAMES = ("square", "triangle", "triangle_down")
_SHAPE_SIZES = np.array([PATTERNS[s].shape for s in _SHAPE_NAMES])  # (3, 2): height, width


def _padded_bank(patterns: list[np.ndarray], shape: tuple[int, int] | None = None) -> np.ndarray:
    """Stack patterns into one bool array, each zero-padded at the bottom/right."""
    height = max(p.shape[0] for p in patterns) if shape is None else shape[0]
    width = max(p.shape[1] for p in patterns) if shape is None else shape[1]
    bank = np.zeros((len(patterns), height, width), dtype=bool)
    for i, p in enumerate(patterns):
        bank[i, : p.shape[0], : p.shape[1]] = p.astype(bool)
    return bank


_SHAPE_BANK = _padded_bank([PATTERNS[s] for s in _SHAPE_NAMES])


# --------------------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about one data set.

    ``k`` is the number of clusters RC uses for it; ``n_objects`` the number of objects in
    every test image; ``split_sizes`` maps each available split to its number of images;
    ``n_scored`` is how many leading test images are scored; ``grey`` says whether its
    pixels take grey levels in [0, 1] (else they are 0 or 1).
    """

    name: str
    shape: tuple[int, int]
    k: int
    n_objects: int
    split_sizes: dict[str, int] = field(hash=False)
    n_scored: int
    grey: bool = False

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits this data set has, in :data:`SPLITS` order."""
        return tuple(s for s in SPLITS if s in self.split_sizes)


_INFO: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("simple_superposition", (8, 8), 2, 2, {"train_single": 16, "test": 120}, 120),
        DatasetInfo("shapes", (28, 28), 3, 3, {"train_single": 10000, "train_multi": 60000, "test": 10000, "validation": 1000}, 1000),
        DatasetInfo("bars", (20, 20), 12, 12, {"train_single": 200, "train_multi": 60000, "test": 10000, "validation": 1000}, 1000),
        DatasetInfo("corners", (28, 28), 5, 5, {"train_single": 5000, "train_multi": 60000, "test": 10000, "validation": 1000}, 1000),
        DatasetInfo("mnist_shape", (28, 28), 2, 2, {"train_single": 10000, "train_multi": 60000, "test": 10000, "validation": 1000}, 1000),
        DatasetInfo("multi_mnist", (48, 48), 3, 3, {"train_single": 60000, "train_multi": 60000, "test": 10000, "validation": 1000}, 1000),
        DatasetInfo("shapes_grey", (28, 28), 3, 3, {"train_single": 10000, "train_multi": 60000, "test": 10000}, 1000, grey=True),
        DatasetInfo("multi_mnist_grey", (48, 48), 3, 3, {"train_single": 60000, "train_multi": 60000, "test": 10000}, 1000, grey=True),
    )
}


def label(name: str) -> str:
    """The display name of data set ``name`` (``name`` itself if it is not one of ours)."""
    return LABELS.get(name, str(name))


def dataset_info(name: str) -> DatasetInfo:
    """The static facts of a data set: image shape, K, objects per image, split sizes.

    Parameters
    ----------
    name : str
        A data set of :data:`DATASETS`.

    Returns
    -------
    DatasetInfo
        A fresh copy on every call.
    """
    check_choice(name, "data set", ALL_DATASETS)
    info = _INFO[name]
    return dataclasses.replace(info, split_sizes=dict(info.split_sizes))


# --------------------------------------------------------------------------------------
# Plans and rendering
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Slot:
    """One object per image: ``bank[ids[i]]`` stamped with its top-left at (rows[i], cols[i]).

    Bank entries are zero-padded at the bottom/right to a common size; the plan guarantees
    that the *true* extent of every stamped pattern lies inside the image.
    """

    bank: np.ndarray  # (B, ph, pw) bool, or uint8 grey levels (grey data sets; 0 = off)
    ids: np.ndarray  # (N,) int
    rows: np.ndarray  # (N,) int
    cols: np.ndarray  # (N,) int
    label: int  # group label of this object, 1..255 (at most 255 objects per image)
    level: np.ndarray | None = None  # (N,) uint8 intensity of the object (grey data sets)


@dataclass(frozen=True)
class _Plan:
    """All random choices of one full split: image shape and the object slots."""

    shape: tuple[int, int]
    size: int
    slots: tuple[_Slot, ...]
    grey: bool = False  # render grey levels (uint8 0..255): the brightest object wins


def _render(plan: _Plan, stop: int, start: int = 0,
            chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Render images ``start`` to ``stop - 1`` of ``plan`` as (images, groups), both uint8.

    Each chunk is drawn on a flat uint16 canvas enlarged by the largest bank size, so the
    zero padding of bank entries never falls outside it (a non-empty margin would mean an
    object left the image, which is checked). Every covered pixel receives
    ``1 + 256 * label``: the low byte counts the objects covering the pixel and, where that
    count is 1, the high byte is that object's label (elsewhere it is not used).
    """
    height, width = plan.shape
    canvas_h = height + max(s.bank.shape[1] for s in plan.slots)
    canvas_w = width + max(s.bank.shape[2] for s in plan.slots)
    images = np.empty((stop - start, height, width), dtype=np.uint8)
    groups = np.empty((stop - start, height, width), dtype=np.uint8)
    for first in range(start, stop, chunk):
        last = min(stop, first + chunk)
        m = last - first
        out = slice(first - start, last - start)
        canvas = np.zeros(m * canvas_h * canvas_w, dtype=np.uint16)
        levels = np.zeros(m * canvas_h * canvas_w, dtype=np.uint8) if plan.grey else None
        offset = (np.arange(m) * (canvas_h * canvas_w))[:, None, None]
        for slot in plan.slots:
            bank_h, bank_w = slot.bank.shape[1:]
            entries = slot.bank[slot.ids[first:last]]
            masks = entries > 0 if entries.dtype != bool else entries
            rows = slot.rows[first:last, None, None] + np.arange(bank_h)[None, :, None]
            flat = (
                offset
                + rows * canvas_w
                + slot.cols[first:last, None, None]
                + np.arange(bank_w)[None, None, :]
            )
            # Within one slot every flat index is distinct, so the buffered += is exact.
            canvas[flat[masks]] += np.uint16(1 + 256 * slot.label)
            if levels is not None:
                value = (entries.astype(np.uint16) if entries.dtype != bool
                         else np.full(entries.shape, 255, np.uint16))
                if slot.level is not None:
                    value = value * slot.level[first:last, None, None] // 255
                np.maximum.at(levels, flat[masks], value[masks].astype(np.uint8))
        canvas = canvas.reshape(m, canvas_h, canvas_w)
        if canvas[:, height:, :].any() or canvas[:, :, width:].any():
            raise RuntimeError("internal error: an object was placed outside the image")
        canvas = canvas[:, :height, :width]
        count = (canvas & 0xFF).astype(np.uint8)
        if levels is None:
            images[out] = count > 0
        else:
            images[out] = levels.reshape(m, canvas_h, canvas_w)[:, :height, :width]
        groups[out] = np.where(count == 1, canvas >> 8, 0)
    return images, groups


def _positions(rng: np.random.Generator, limit: np.ndarray) -> np.ndarray:
    """Uniform integers in [0, limit] (inclusive, elementwise)."""
    return rng.integers(0, np.asarray(limit) + 1)


def _shape_slots(
    rng: np.random.Generator, size: int, n_shapes: int, image: tuple[int, int], first_label: int
) -> list[_Slot]:
    """``n_shapes`` uniformly random shapes per image at uniform positions fully inside."""
    ids = rng.integers(0, len(_SHAPE_NAMES), size=(size, n_shapes))
    sizes = _SHAPE_SIZES[ids]  # (size, n_shapes, 2)
    rows = _positions(rng, image[0] - sizes[..., 0])
    cols = _positions(rng, image[1] - sizes[..., 1])
    return [
        _Slot(_SHAPE_BANK, ids[:, j], rows[:, j], cols[:, j], first_label + j)
        for j in range(n_shapes)
    ]


# Smallest grey value v with v / 255 >= 0.5 (it is 128): thresholding with it is exact.
_ON_FROM = int(np.argmax(np.arange(256) / 255.0 >= 0.5))


def _binarise(raw: np.ndarray) -> np.ndarray:
    """MNIST grey values -> bool: on where value / 255 >= 0.5."""
    return raw >= _ON_FROM


def _cropped_digits(raw: np.ndarray, grey: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Crop digits to their bounding box and move the box to the top-left corner.

    The box covers every row/column with a non-zero RAW pixel; its content is binarised
    (or, with ``grey``, kept as the raw uint8 levels). Returns (bank (N, h, w) bool or
    uint8, sizes (N, 2) of the boxes), where (h, w) is the largest box size. Pixels outside
    a box are zero, so a cyclic shift moves the box to the corner without wrapping any
    content around.
    """
    nonzero = raw > 0
    any_row = nonzero.any(axis=2)
    any_col = nonzero.any(axis=1)
    if not any_row.any(axis=1).all():
        raise ValueError("an MNIST digit has no non-zero pixel; cannot crop it")
    top = any_row.argmax(axis=1)
    left = any_col.argmax(axis=1)
    bottom = any_row.shape[1] - 1 - any_row[:, ::-1].argmax(axis=1)
    right = any_col.shape[1] - 1 - any_col[:, ::-1].argmax(axis=1)
    sizes = np.stack([bottom - top + 1, right - left + 1], axis=1)
    max_h, max_w = sizes.max(axis=0)
    rows = (top[:, None, None] + np.arange(max_h)[None, :, None]) % raw.shape[1]
    cols = (left[:, None, None] + np.arange(max_w)[None, None, :]) % raw.shape[2]
    cropped = raw[np.arange(len(raw))[:, None, None], rows, cols]
    return (cropped if grey else _binarise(cropped)), sizes


def _plan_simple_superposition(rng: np.random.Generator, split: str, size: int) -> _Plan:
    bank = SIMPLE_PATTERNS.astype(bool)
    zeros = np.zeros(size, dtype=np.int64)
    if split == "train_single":
        return _Plan((8, 8), size, (_Slot(bank, np.arange(size), zeros, zeros, 1),))
    first, second = np.triu_indices(len(bank), k=1)  # all pairs i < j, lexicographic
    return _Plan(
        (8, 8),
        size,
        (_Slot(bank, first, zeros, zeros, 1), _Slot(bank, second, zeros, zeros, 2)),
    )


def _plan_shapes(rng: np.random.Generator, split: str, size: int) -> _Plan:
    n_shapes = 1 if split == "train_single" else 3
    return _Plan((28, 28), size, tuple(_shape_slots(rng, size, n_shapes, (28, 28), 1)))


_BAR_BANK = _padded_bank([np.ones((1, 20)), np.ones((20, 1))])  # horizontal, vertical
_HBAR_BANK = np.ones((1, 1, 20), dtype=bool)
_VBAR_BANK = np.ones((1, 20, 1), dtype=bool)


def _plan_bars(rng: np.random.Generator, split: str, size: int) -> _Plan:
    zeros = np.zeros(size, dtype=np.int64)
    if split == "train_single":
        kind = rng.permutation(np.repeat([0, 1], size // 2))  # 0 horizontal, 1 vertical
        where = rng.integers(0, 20, size=size)
        rows = np.where(kind == 0, where, 0)
        cols = np.where(kind == 1, where, 0)
        return _Plan((20, 20), size, (_Slot(_BAR_BANK, kind, rows, cols, 1),))
    # 6 distinct rows and 6 distinct columns per image: first 6 of a random permutation.
    bar_rows = np.argsort(rng.random((size, 20)), axis=1)[:, :6]
    bar_cols = np.argsort(rng.random((size, 20)), axis=1)[:, :6]
    horizontal = [_Slot(_HBAR_BANK, zeros, bar_rows[:, j], zeros, 1 + j) for j in range(6)]
    vertical = [_Slot(_VBAR_BANK, zeros, zeros, bar_cols[:, j], 7 + j) for j in range(6)]
    return _Plan((20, 20), size, tuple(horizontal + vertical))


def _plan_corners(rng: np.random.Generator, split: str, size: int) -> _Plan:
    if split == "train_single":
        # Bank entry 0 is the whole square, 1..4 the corner orientations (padded to 20x20).
        bank = _padded_bank([PATTERNS["corner_square"], *_CORNER_ORIENTATIONS])
        is_corner = rng.permutation(np.repeat([0, 1], size // 2)).astype(bool)
        orientation = rng.integers(0, 4, size=size)
        ids = np.where(is_corner, 1 + orientation, 0)
        extent = np.where(is_corner, 5, 20)
        rows = _positions(rng, 28 - extent)
        cols = _positions(rng, 28 - extent)
        return _Plan((28, 28), size, (_Slot(bank, ids, rows, cols, 1),))
    square_bank = PATTERNS["corner_square"][None].astype(bool)
    corner_bank = _CORNER_ORIENTATIONS.astype(bool)
    square_rows = rng.integers(0, 28 - 20 + 1, size=size)
    square_cols = rng.integers(0, 28 - 20 + 1, size=size)
    orientation = rng.integers(0, 4, size=(size, 4))
    corner_rows = rng.integers(0, 28 - 5 + 1, size=(size, 4))
    corner_cols = rng.integers(0, 28 - 5 + 1, size=(size, 4))
    slots = [_Slot(square_bank, np.zeros(size, dtype=np.int64), square_rows, square_cols, 1)]
    slots += [
        _Slot(corner_bank, orientation[:, j], corner_rows[:, j], corner_cols[:, j], 2 + j)
        for j in range(4)
    ]
    return _Plan((28, 28), size, tuple(slots))


def _plan_mnist_shape(rng: np.random.Generator, split: str, size: int) -> _Plan:
    zeros = np.zeros(size, dtype=np.int64)
    if split == "train_single":
        half = size // 2
        raw, _ = load_mnist("train")
        # Bank: training digits 0..half-1 (28x28, at their own position), then the 3 shapes.
        bank = np.concatenate([_binarise(raw[:half]), _padded_bank(list(_SHAPE_BANK), (28, 28))])
        is_shape = rng.permutation(np.repeat([0, 1], half)).astype(bool)
        shape_id = rng.integers(0, len(_SHAPE_NAMES), size=size)
        sizes = _SHAPE_SIZES[shape_id]
        shape_rows = _positions(rng, 28 - sizes[:, 0])
        shape_cols = _positions(rng, 28 - sizes[:, 1])
        digit_id = np.cumsum(~is_shape) - 1  # the digits appear in their MNIST order
        ids = np.where(is_shape, half + shape_id, digit_id)
        rows = np.where(is_shape, shape_rows, 0)
        cols = np.where(is_shape, shape_cols, 0)
        return _Plan((28, 28), size, (_Slot(bank, ids, rows, cols, 1),))
    raw, _ = load_mnist("train" if split == "train_multi" else "test")
    first = _VALIDATION_DIGITS if split == "validation" else 0
    digits = _Slot(_binarise(raw[first:first + size]), np.arange(size), zeros, zeros, 1)
    return _Plan((28, 28), size, (digits, *_shape_slots(rng, size, 1, (28, 28), 2)))


def _plan_multi_mnist(rng: np.random.Generator, split: str, size: int) -> _Plan:
    raw, _ = load_mnist("test" if split in ("test", "validation") else "train")
    bank, box = _cropped_digits(raw)
    if split == "train_single":
        ids = np.arange(size)[:, None]
    elif split == "validation":
        ids = rng.integers(_VALIDATION_DIGITS, len(raw), size=(size, 3))
    else:
        ids = rng.integers(0, len(raw), size=(size, 3))
    rows = _positions(rng, 48 - box[ids, 0])
    cols = _positions(rng, 48 - box[ids, 1])
    slots = tuple(_Slot(bank, ids[:, j], rows[:, j], cols[:, j], 1 + j)
                  for j in range(ids.shape[1]))
    return _Plan((48, 48), size, slots)


#: uint8 intensity range of an object of Shapes (grey levels): 64..255, i.e. 0.25 to 1.
GREY_SHAPE_LEVELS = (64, 255)


def _plan_shapes_grey(rng: np.random.Generator, split: str, size: int) -> _Plan:
    """Shapes, each object with its own intensity (:data:`GREY_SHAPE_LEVELS`)."""
    plan = _plan_shapes(rng, split, size)
    low, high = GREY_SHAPE_LEVELS
    slots = tuple(dataclasses.replace(s, level=rng.integers(low, high + 1, size=size)
                                      .astype(np.uint8))
                  for s in plan.slots)
    return dataclasses.replace(plan, slots=slots, grey=True)


def _plan_multi_mnist_grey(rng: np.random.Generator, split: str, size: int) -> _Plan:
    """Multi-MNIST with the digits' grey levels (no thresholding); a digit covers the pixels
    where its ink is non-zero."""
    raw, _ = load_mnist("test" if split == "test" else "train")
    bank, box = _cropped_digits(raw, grey=True)
    ids = (np.arange(size)[:, None] if split == "train_single"
           else rng.integers(0, len(raw), size=(size, 3)))
    rows = _positions(rng, 48 - box[ids, 0])
    cols = _positions(rng, 48 - box[ids, 1])
    slots = tuple(_Slot(bank, ids[:, j], rows[:, j], cols[:, j], 1 + j)
                  for j in range(ids.shape[1]))
    return _Plan((48, 48), size, slots, grey=True)


_PLANNERS: dict[str, Callable[[np.random.Generator, str, int], _Plan]] = {
    "simple_superposition": _plan_simple_superposition,
    "shapes": _plan_shapes,
    "bars": _plan_bars,
    "corners": _plan_corners,
    "mnist_shape": _plan_mnist_shape,
    "multi_mnist": _plan_multi_mnist,
    "shapes_grey": _plan_shapes_grey,
    "multi_mnist_grey": _plan_multi_mnist_grey,
}


# --------------------------------------------------------------------------------------
# Public loader
# --------------------------------------------------------------------------------------
def _check_args(name: str, split: str, seed: int) -> int:
    check_choice(name, "data set", ALL_DATASETS)
    check_choice(split, "split", SPLITS)
    if split not in _INFO[name].split_sizes:
        raise ValueError(
            f"data set {name!r} has no split {split!r}; its splits are "
            f"{list(_INFO[name].splits)}"
        )
    return check_positive_int(seed, "seed", minimum=0)


def _rng(name: str, split: str, seed: int) -> np.random.Generator:
    """Independent stream per (seed, data set, split); crc32 is stable across runs."""
    stream = zlib.crc32(f"{name}:{split}".encode())
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


def _plan(name: str, split: str, seed: int) -> _Plan:
    """Draw all random choices of the full split (validated arguments assumed)."""
    size = _INFO[name].split_sizes[split]
    plan = _PLANNERS[name](_rng(name, split, seed), split, size)
    assert plan.size == size and all(len(s.ids) == size for s in plan.slots)
    return plan


def _split_id(name: str, split: str, seed: int) -> SplitId:
    """How the data cache knows a split (validated arguments assumed)."""
    info = _INFO[name]
    return SplitId(name, split, seed, info.split_sizes[split], info.shape, GENERATOR_VERSION)


def _renderer(name: str, split: str, seed: int) -> Render:
    """What renders images of a split for the data cache (its plan drawn at each call)."""
    def render(stop: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        return _render(_plan(name, split, seed), stop, start=start)
    return render


def cache_path(name: str, split: str, seed: int = 0, n: int | None = None) -> Path:
    """Where the first ``n`` images of a split (default: all) are cached.

    The whole split is ``data_dir()/generated/{name}-{split}-seed{seed}.<key>.npz``, the
    first ``n`` images ``{name}-{split}-seed{seed}-first{n}.<key>.npz``, ``<key>`` derived
    from the name, split, seed, ``n`` and :data:`GENERATOR_VERSION`.
    """
    seed = _check_args(name, split, seed)
    if n is not None:
        n = _check_n(name, split, n)
    return entry_path(_split_id(name, split, seed), n)


def _check_n(name: str, split: str, n: int) -> int:
    size = _INFO[name].split_sizes[split]
    n = check_positive_int(n, "n", minimum=1)
    if n > size:
        raise ValueError(f"n must be <= {size}, the size of {name}/{split}; got {n}")
    return n


def load_dataset(
    name: str, split: str, seed: int = 0, n: int | None = None, cache: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images, groups)`` of the first ``n`` images (default: all) of a split.

    ``images`` is float32 of shape (N, H, W) with values in {0, 1}; ``groups`` is int64 of
    the same shape, 0 for background and for pixels covered by two or more objects, 1..n
    for the object covering the pixel alone. ``name`` is one of :data:`DATASETS`, ``split``
    one of :data:`SPLITS` (Simple Superposition has no ``train_multi``), ``seed`` a
    non-negative integer. The result is the same for a given (name, split, seed) whatever
    ``n`` is (prefix-stable).

    With ``cache=True`` the images are kept in compressed files (see :func:`cache_path`):
    a call is served by the smallest stored prefix of the split that holds its ``n`` images;
    without one, only the missing images are generated (after the longest stored shorter
    prefix) and the first ``n`` are stored; the process keeps the longest prefix it read of
    each split in memory (up to 256 MB in all) for later calls. ``cache=False`` neither
    reads nor writes those files and renders only the requested images.

    Parameters
    ----------
    name : str
        A data set of :data:`DATASETS`.
    split : str
        ``"train_single"``, ``"train_multi"``, ``"test"`` or ``"validation"``.
    seed : int
        Seed of the generator (every random choice of the split comes from it).
    n : int, optional
        How many images, from the first; default all of the split.
    cache : bool
        Keep the images in ``$RC_DATA/generated/`` and read them from there.

    Returns
    -------
    images : ndarray of float32, shape (n, H, W)
        Binary images.
    groups : ndarray of int64, shape (n, H, W)
        The object of every pixel; 0 for background and overlaps.
    """
    seed = _check_args(name, split, seed)
    n = _check_n(name, split, _INFO[name].split_sizes[split] if n is None else n)
    if cache:
        stored = cached_prefix(_split_id(name, split, seed), n, _renderer(name, split, seed))
        images, groups = stored.images, stored.groups
    else:
        images, groups = _render(_plan(name, split, seed), n)
    scale = np.float32(255.0 if _INFO[name].grey else 1.0)
    return images[:n].astype(np.float32) / scale, groups[:n].astype(np.int64)
