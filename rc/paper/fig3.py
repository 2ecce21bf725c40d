"""Figure 3: the six data sets, one test image each with its ground truth.

Also the facts of every data set (image size, objects per image, K, split sizes, scored
test images), which the paper gives in Section 3.1 and Appendix B. No claim.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..datasets import DatasetInfo, dataset_info, label
from ..plots import (
    InchLayout,
    checked_image,
    checked_mapping,
    dataset_label,
    groups_rgb,
    ordered_names,
    show_gray,
    show_rgb,
    styled,
)
from ..report import Markdown, markdown_table
from ..tasks import Task


@dataclass(frozen=True)
class DataSets:
    """The first test image and its groups per data set, and each data set's facts."""

    examples: dict[str, tuple[np.ndarray, np.ndarray]]
    infos: dict[str, DatasetInfo]
    n_scored: dict[str, int]     # scored test images under the profile


def compute(results) -> DataSets:
    """The first scored test image of every data set of the profile."""
    examples, n_scored = {}, {}
    for d in results.profile.datasets:
        images, groups = results.test_data(d)
        examples[d], n_scored[d] = (images[0], groups[0]), len(images)
    return DataSets(examples, {d: dataset_info(d) for d in examples}, n_scored)


def draw(result: DataSets):
    """The figure: inputs above their ground truth, one column per data set."""
    return plot(result.examples)


def glue_values(result: DataSets) -> dict:
    """The numbers the book's prose quotes about the data sets."""
    from ..datasets import SIMPLE_PATTERNS, dataset_info

    return {"n_simple": len(SIMPLE_PATTERNS),
            "n_simple_pairs": dataset_info("simple_superposition").split_sizes["test"],
            "n_scored_paper": dataset_info("shapes").n_scored}

def table(result: DataSets) -> Markdown:
    """The facts of every data set."""
    def size(info, split):
        return f"{info.split_sizes[split]:,}" if split in info.split_sizes else "—"

    return markdown_table(
        ["data set", "image", "objects per test image", "K", "train_single", "train_multi",
         "test", "scored (paper)", "scored here"],
        [[label(d), f"{i.shape[0]}×{i.shape[1]}", i.n_objects, i.k, size(i, "train_single"),
          size(i, "train_multi"), size(i, "test"), f"{i.n_scored:,}",
          f"{result.n_scored[d]:,}"] for d, i in result.infos.items()])


@styled
def plot(examples: Mapping[str, tuple]):
    """Fig. 3: one column per data set, input (black on white) above its ground truth.

    ``examples`` maps a data set name to ``(image (H, W), groups (H, W))``.
    """
    checked_mapping(examples, "examples")
    names = ordered_names(examples)
    pairs = []
    for name in names:
        try:
            image, groups = examples[name]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"examples[{name!r}] must be a pair (image, groups)") from exc
        img = checked_image(image, f"image of {name!r}")
        pairs.append((img, groups_rgb(img, groups)))
    n = len(names)
    left, right, gap, label_h = 0.95, 0.1, 0.1, 0.3
    cell = min(1.25, (8.0 - left - right - (n - 1) * gap) / n)
    width = left + n * cell + (n - 1) * gap + right
    height = label_h + 2 * cell + gap + 0.08
    lay = InchLayout(width, height)
    for j, (name, (img, truth)) in enumerate(zip(names, pairs)):
        x = left + j * (cell + gap)
        show_gray(lay.axes(x, label_h, cell, cell), img)
        show_rgb(lay.axes(x, label_h + cell + gap, cell, cell), truth)
        lay.text(x + cell / 2, label_h - 0.08, dataset_label(name), ha="center", va="bottom",
                 fontsize=9)
    for i, row in enumerate(("input", "ground truth")):
        lay.text(left - 0.1, label_h + i * (cell + gap) + cell / 2, row, ha="right",
                 va="center")
    return lay.fig


def tasks(results) -> list[Task]:
    """Nothing is stored: the data sets are generated."""
    return []
