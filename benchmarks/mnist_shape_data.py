"""MNIST+Shape: our generated data next to the original authors' generation procedure.

Issue #26, item 4. The authors generated MNIST+Shape with a notebook
(``Datasets/MNIST+Shape.ipynb`` of github.com/Qwlouse/Binding) from brainstorm's MNIST
file, which brainstorm's ``data/create_mnist.py`` builds from deeplearning.net's
``mnist.pkl.gz``. This script re-states that procedure in its own code (:func:`authors`)
and prints statistics of both data sets side by side:

* the procedure, as read: one legacy numpy stream seeded with 985619 draws, per image of
  ``train_multi`` (training digit i, i = 0..59999) and then of ``test`` (test digit i),
  a shape id, its column and its row (uniform, the shape fully inside); then 5,000 random
  training digit ids (uniform over all 60,000, with replacement) for the lone digits of
  ``train_single``, then 5,000 lone shapes (shape, column, row), then a shuffle of the
  10,000. A digit pixel is on where its value in that file exceeds 0.5. The file's
  values are the raw bytes divided by 256 (so "> 0.5" means raw >= 129), while we
  threshold raw / 255 >= 0.5 (raw >= 128): the only pixels that differ are raw == 128;
  both thresholds are measured here.
* assumptions of the re-statement (not checked against the authors' files, which are not
  available here): numpy's legacy ``RandomState`` gives today the stream it gave in 2015,
  and the pickle holds the digits in the order of the idx files (its 50,000 + 10,000
  training digits are the idx training digits 0..59999). If they hold, the draws (digit
  ids, shape kinds and positions) are the authors' own; the statistics do not depend on
  them.
* the statistics: pixels per digit, per shape and overlapping, how often an image has an
  overlap, the shapes' kinds and positions, which training digits ``train_single`` uses
  and what its validation part (the last 10 %) holds.

Nothing is stored; it runs in well under a minute. Needs the MNIST files (``$RC_DATA``).

Usage: python benchmarks/mnist_shape_data.py [--n-test 1000]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import rc
from rc.beyond import mnist_shape
from rc.datasets import PATTERNS, _plan
from rc.mnist import load_mnist

# The authors' seed and shape order: the one home of the re-statement is
# rc.beyond.mnist_shape (its lone-object images train the book's comparison); this
# script also draws the authors' test images, to compare them with ours.
SHAPES = mnist_shape._SHAPES
SEED = mnist_shape.AUTHORS_SEED


def authors(threshold: int, n_test: int) -> dict:
    """The authors' procedure, re-stated: first ``n_test`` test images and all 10,000
    ``train_single`` images, with digits on where raw >= ``threshold``; plus the draws."""
    train_raw, _ = load_mnist("train")
    test_raw, _ = load_mnist("test")
    rng = np.random.RandomState(SEED)
    sizes = [PATTERNS[s].shape for s in SHAPES]

    def shape_draw():
        kind = rng.randint(0, 3)
        h, w = sizes[kind]
        col = rng.randint(0, 28 - w + 1)
        row = rng.randint(0, 28 - h + 1)
        return kind, row, col

    for _ in range(60000):  # train_multi: only advance the stream
        shape_draw()
    test_draws = [shape_draw() for _ in range(10000)]
    digit_ids = np.array([rng.randint(0, 60000) for _ in range(5000)])
    single_draws = [shape_draw() for _ in range(5000)]
    order = np.arange(10000)
    rng.shuffle(order)

    def render(digit, draw):
        img = np.zeros((28, 28), np.uint8) if digit is None else (digit >= threshold)
        img = img.astype(np.uint8)
        grp = img.copy()
        count = img.copy()
        if draw is not None:
            kind, row, col = draw
            pat = PATTERNS[SHAPES[kind]].astype(bool)
            h, w = pat.shape
            img[row:row + h, col:col + w][pat] = 1
            count[row:row + h, col:col + w][pat] += 1
            grp[row:row + h, col:col + w][pat] = 2
        grp[count > 1] = 0
        return img, grp

    test = [render(test_raw[i], test_draws[i]) for i in range(n_test)]
    single = ([render(train_raw[d], None) for d in digit_ids]
              + [render(None, d) for d in single_draws])
    single = [single[i] for i in order]
    is_shape = order >= 5000
    return {
        "test_images": np.stack([t[0] for t in test]),
        "test_groups": np.stack([t[1] for t in test]),
        "test_draws": np.array(test_draws[:n_test]),
        "single_images": np.stack([s[0] for s in single]),
        "single_groups": np.stack([s[1] for s in single]),
        "single_is_shape": is_shape, "single_digit_ids": digit_ids[order[~is_shape]],
        "single_draws": np.array(single_draws)[order[is_shape] - 5000],
    }


def ours(n_test: int) -> dict:
    """Our data (seed 0) and the shape draws of our plans (kind, row, col)."""
    test_images, test_groups = rc.load_dataset("mnist_shape", "test", n=n_test)
    single_images, single_groups = rc.load_dataset("mnist_shape", "train_single")
    test_plan = _plan("mnist_shape", "test", 0)
    shape = test_plan.slots[1]
    single = _plan("mnist_shape", "train_single", 0).slots[0]
    half = 5000
    is_shape = single.ids >= half
    return {
        "test_images": test_images.astype(np.uint8), "test_groups": test_groups,
        "test_draws": np.stack([shape.ids, shape.rows, shape.cols], 1)[:n_test],
        "single_images": single_images.astype(np.uint8), "single_groups": single_groups,
        "single_is_shape": is_shape, "single_digit_ids": single.ids[~is_shape],
        "single_draws": np.stack([single.ids[is_shape] - half, single.rows[is_shape],
                                  single.cols[is_shape]], 1),
    }


def test_stats(d: dict) -> dict:
    img, grp, draws = d["test_images"], d["test_groups"], d["test_draws"]
    on = img.sum((1, 2))
    overlap = ((img == 1) & (grp == 0)).sum((1, 2))
    digit_only = (grp == 1).sum((1, 2))
    shape_only = (grp == 2).sum((1, 2))
    return {
        "on pixels / image": on.mean(),
        "digit pixels (digit alone + overlap)": (digit_only + overlap).mean(),
        "shape pixels (shape alone + overlap)": (shape_only + overlap).mean(),
        "overlap pixels / image": overlap.mean(),
        "overlap / on pixels": overlap.sum() / on.sum(),
        "images with any overlap": (overlap > 0).mean(),
        "images with >= 10 overlap pixels": (overlap >= 10).mean(),
        "shape kind freq (sq, tri, tri_down)": np.bincount(draws[:, 0], minlength=3) / len(draws),
        "shape row: min / mean / max": (draws[:, 1].min(), draws[:, 1].mean(), draws[:, 1].max()),
        "shape col: min / mean / max": (draws[:, 2].min(), draws[:, 2].mean(), draws[:, 2].max()),
    }


def single_stats(d: dict, train_labels: np.ndarray) -> dict:
    img, is_shape, ids = d["single_images"], d["single_is_shape"], d["single_digit_ids"]
    on = img.sum((1, 2))
    val = slice(9000, 10000)
    classes = np.bincount(train_labels[ids], minlength=10) / len(ids)
    return {
        "lone digits / lone shapes": (int((~is_shape).sum()), int(is_shape.sum())),
        "validation part (last 1000): digits / shapes": (int((~is_shape[val]).sum()),
                                                         int(is_shape[val].sum())),
        "digit ids: distinct / min / max / mean": (len(np.unique(ids)), ids.min(), ids.max(),
                                                   round(ids.mean())),
        "digit pixels (mean over lone digits)": on[~is_shape].mean(),
        "shape pixels (mean over lone shapes)": on[is_shape].mean(),
        "digit class freq (0..9)": np.round(classes, 3),
        "shape kind freq": np.bincount(d["single_draws"][:, 0], minlength=3) / is_shape.sum(),
        "shape row mean / col mean": (d["single_draws"][:, 1].mean(),
                                      d["single_draws"][:, 2].mean()),
    }


def fmt(v) -> str:
    if isinstance(v, tuple):
        return " / ".join(fmt(x) for x in v)
    if isinstance(v, np.ndarray):
        return " [" + " ".join(f"{x:.3f}" for x in v) + "]"
    if isinstance(v, (float, np.floating)):
        return f"{v:.4f}"
    return str(v)


def table(title: str, columns: dict[str, dict]) -> None:
    print(f"\n== {title}")
    names = list(columns)
    print(f"{'':44s}" + "".join(f"{n:>30s}" for n in names))
    for key in columns[names[0]]:
        print(f"{key:44s}" + "".join(f"{fmt(columns[n][key]):>30s}" for n in names))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-test", type=int, default=1000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    train_raw, train_labels = load_mnist("train")
    test_raw, _ = load_mnist("test")

    print("== MNIST binarisation: ours raw/255 >= 0.5 (raw >= 128); authors' file raw/256 > 0.5"
          " (raw >= 129)")
    for name, raw in (("train", train_raw), ("test", test_raw)):
        on128 = (raw >= 128).sum()
        at128 = (raw == 128).sum()
        print(f"  {name}: pixels == 128: {at128} of {on128} on pixels "
              f"({at128 / on128:.3%}); digits touched: {(raw == 128).any((1, 2)).mean():.1%}; "
              f"mean on pixels/digit {on128 / len(raw):.2f} (>=128) vs "
              f"{(raw >= 129).sum() / len(raw):.2f} (>=129)")
    first = (train_raw[:5000] >= 128).sum((1, 2))
    every = (train_raw >= 128).sum((1, 2))
    freq_first = np.bincount(train_labels[:5000], minlength=10) / 5000
    freq_all = np.bincount(train_labels, minlength=10) / 60000
    print(f"  training digits 0..4999 vs all 60,000: mean on pixels {first.mean():.2f} vs "
          f"{every.mean():.2f}; class freq max |diff| {np.abs(freq_first - freq_all).max():.4f}")

    a129 = authors(129, args.n_test)
    a128 = authors(128, args.n_test)
    mine = ours(args.n_test)
    print(f"\n(generation {time.perf_counter() - t0:.1f} s)")

    img, grp = mine["test_images"], mine["test_groups"]
    digit_mask = (grp == 1) | ((img == 1) & (grp == 0))
    same_digits = np.array_equal(digit_mask, test_raw[:args.n_test] >= 128)
    print(f"our test digit i is MNIST test digit i, binarised >= 128: {same_digits}")

    table(f"test, first {args.n_test} images (shape positions are top-left corners)",
          {"ours": test_stats(mine), "authors re-stated, >=129": test_stats(a129),
           "authors' draws, >=128": test_stats(a128)})
    table("train_single (10,000)",
          {"ours": single_stats(mine, train_labels),
           "authors re-stated, >=129": single_stats(a129, train_labels)})
    ids = a129["single_digit_ids"]
    print(f"\nauthors' lone digits: {len(ids)} draws, {len(np.unique(ids))} distinct, "
          f"{np.isin(ids, np.arange(5000)).sum()} of them among our digits 0..4999")
    print(f"(total {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
