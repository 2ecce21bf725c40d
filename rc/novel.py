"""Novel objects for section 4.6 / Fig. 7: binary 48x48 images of letters, circles / rings
and broken (dashed) lines, none of which a Multi-MNIST DAE has seen.

Everything is drawn in code: letters are rasterised from matplotlib's bundled DejaVu Sans
Bold with PIL and thresholded, rings / discs and dashed lines are drawn with numpy. The
``seed`` only picks the letters and jitters the positions; the eight scenes are fixed:
some with objects well apart, some where grouping by spatial proximity (which the paper
observed RC to learn from digits) should fail: touching letters, a letter inside a large
ring, a long broken line.

Ground truth follows the data sets: object ``j`` (1-based) where exactly one object covers
a pixel, 0 on the background and where objects overlap.
"""
from __future__ import annotations

import functools

import numpy as np

__all__ = ["SCENE_KINDS", "SIZE", "VERSION", "novel_objects"]

#: Version of the scenes; part of the cache key of every result computed from them.
VERSION = 1

#: Height and width of the images (the Multi-MNIST size).
SIZE = 48
_LETTERS = "AEFHKLRTXYZ"


@functools.cache
def _font_path() -> str:
    """DejaVu Sans Bold as bundled with matplotlib, found without importing matplotlib
    (this data layer stays free of plotting code)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
        if path.is_file():
            return str(path)
    raise RuntimeError("the novel objects need the font DejaVu Sans Bold, which comes with "
                       "matplotlib: install matplotlib")


@functools.cache
def _letter(char: str, height: int) -> np.ndarray:
    """Binary mask of ``char``, cropped to its bounding box, ``height`` pixels tall (or the
    closest the font's integer sizes give)."""
    from PIL import Image, ImageDraw, ImageFont

    best = None
    for size in range(int(height * 1.1), int(height * 1.6) + 2):
        font = ImageFont.truetype(_font_path(), size)
        canvas = Image.new("L", (3 * size, 3 * size), 0)
        ImageDraw.Draw(canvas).text((size // 2, size // 2), char, fill=255, font=font)
        mask = np.asarray(canvas) >= 128
        rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
        crop = mask[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
        if best is None or abs(crop.shape[0] - height) < abs(best.shape[0] - height):
            best = crop
        if crop.shape[0] >= height:
            break
    best = best.copy()
    best.setflags(write=False)
    return best


def _place(mask: np.ndarray, top: int, left: int) -> np.ndarray:
    """``mask`` on an empty SIZE x SIZE canvas with its top-left corner at (top, left)."""
    h, w = mask.shape
    if top < 0 or left < 0 or top + h > SIZE or left + w > SIZE:
        raise RuntimeError(f"internal error: object of size {mask.shape} placed at "
                           f"({top}, {left}) leaves the {SIZE}x{SIZE} image")
    out = np.zeros((SIZE, SIZE), dtype=bool)
    out[top: top + h, left: left + w] = mask
    return out


def _letter_at(char: str, height: int, centre: tuple[float, float]) -> np.ndarray:
    mask = _letter(char, height)
    return _place(mask, int(round(centre[0] - mask.shape[0] / 2)),
                  int(round(centre[1] - mask.shape[1] / 2)))


_RR, _CC = np.mgrid[0:SIZE, 0:SIZE].astype(float)


def _ring(centre, radius: float, thickness: float = 2.2) -> np.ndarray:
    d = np.hypot(_RR - centre[0], _CC - centre[1])
    return np.abs(d - radius) <= thickness / 2


def _disc(centre, radius: float) -> np.ndarray:
    return np.hypot(_RR - centre[0], _CC - centre[1]) <= radius


def _dashed_line(start, end, dash: float = 5.0, gap: float = 3.0,
                 thickness: float = 2.2) -> np.ndarray:
    """A broken line from ``start`` to ``end`` ((row, col) pixel centres)."""
    p0, p1 = np.asarray(start, float), np.asarray(end, float)
    length = float(np.hypot(*(p1 - p0)))
    u = (p1 - p0) / length
    dr, dc = _RR - p0[0], _CC - p0[1]
    along = dr * u[0] + dc * u[1]
    across = np.abs(dr * u[1] - dc * u[0])
    return ((along >= 0) & (along <= length) & (across <= thickness / 2)
            & (np.mod(along, dash + gap) < dash))


def _touching_pair(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move ``second`` (a canvas right of ``first``) left until one more step would make
    them overlap: they then touch (some pixels are horizontal neighbours)."""
    shifted = second
    for _ in range(SIZE):
        candidate = np.roll(shifted, -1, axis=1)
        if candidate[:, -1].any() or shifted[:, 0].any():
            break
        if (candidate & first).any():
            return first, shifted
        shifted = candidate
    raise RuntimeError("internal error: could not make the two letters touch")


def _compose(objects: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    stack = np.stack(objects).astype(np.int64)
    count = stack.sum(0)
    labels = np.arange(1, len(objects) + 1)[:, None, None]
    groups = np.where(count == 1, (stack * labels).sum(0), 0)
    return (count > 0).astype(np.float32), groups.astype(np.int64)


#: What each scene of :func:`novel_objects` tests: objects well "apart", or a
#: "proximity" trap where grouping by spatial closeness alone should fail.
SCENE_KINDS = ("apart",) * 3 + ("proximity",) * 5


def novel_objects(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Eight 48x48 images of 2-3 novel (non-digit) objects each.

    Returns ``(images, groups, descriptions)``: images (8, 48, 48) float32 in {0, 1},
    groups (8, 48, 48) int64 (1..n per object, 0 for background and overlaps), and one
    short description per image naming its objects ("letter", "ring" / "disc", "broken
    line"). Images 0-2 have objects well apart; in images 3-7 grouping by proximity should
    fail: a letter inside a ring, touching letters, a long broken line, crossing lines,
    objects close together.
    Deterministic for a given ``seed``; ``seed`` picks the letters and jitters positions.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    rng = np.random.default_rng([int(seed), 48_048])
    letters = list(rng.permutation(list(_LETTERS)))

    def jitter(c, amount=2):
        return (c[0] + int(rng.integers(-amount, amount + 1)),
                c[1] + int(rng.integers(-amount, amount + 1)))

    scenes: list[tuple[list[np.ndarray], str]] = []

    a, b = letters[0], letters[1]
    scenes.append(([_letter_at(a, 16, jitter((13, 13))), _letter_at(b, 16, jitter((34, 34)))],
                   f"letters {a} and {b}, apart"))

    c = letters[2]
    scenes.append(([_letter_at(c, 16, jitter((14, 33))), _ring(jitter((32, 15)), 9.0)],
                   f"letter {c} and a ring"))

    scenes.append(([_ring(jitter((13, 14), 1), 8.0), _disc(jitter((12, 37), 1), 5.0),
                    _ring(jitter((35, 27), 1), 10.0)],
                   "two rings and a disc"))

    d = letters[3]
    scenes.append(([_ring((24, 24), 20.0), _letter_at(d, 14, jitter((24, 24), 1))],
                   f"letter {d} inside a ring"))

    e, f = letters[4], letters[5]
    top = 24 + int(rng.integers(-3, 4))
    first = _letter_at(e, 18, (top, 14))
    second = _letter_at(f, 18, (top + int(rng.integers(-2, 3)), 36))
    scenes.append((list(_touching_pair(first, second)),
                   f"letters {e} and {f} touching"))

    g = letters[6]
    row = 37 + int(rng.integers(-2, 3))
    scenes.append(([_dashed_line((row, 3), (row, 44)), _letter_at(g, 16, jitter((15, 24)))],
                   f"letter {g} over a long broken line"))

    scenes.append(([_dashed_line(jitter((4, 6)), jitter((43, 41))),
                    _dashed_line(jitter((42, 8)), jitter((6, 42)))],
                   "two crossing broken lines"))

    h = letters[7]
    scenes.append(([_letter_at(h, 16, jitter((24, 9), 1)), _dashed_line((6, 20), (42, 20)),
                    _ring(jitter((24, 34), 1), 7.0)],
                   f"letter {h}, broken line and ring, close"))

    assert len(scenes) == len(SCENE_KINDS)
    images, groups = zip(*(_compose(objs) for objs, _ in scenes))
    return np.stack(images), np.stack(groups), [desc for _, desc in scenes]
