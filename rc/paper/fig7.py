"""Figure 7: RC on objects the DAE has never seen.

Soft RC with the Multi-MNIST Table 1 DAE (K = 3) on scenes of letters, rings, a disc and
broken lines (:func:`rc.novel.novel_objects`). The first scenes place their objects well
apart; the others are built so that grouping by spatial proximity alone, which the paper
finds the DAE mostly learned, should go wrong.

The paper shows the figure without a score, so there is no claim to check; we score the
scenes against the objects they were drawn from.
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._checks import checked_field
from ..cache import Record
from ..cost import RC_FLOP
from ..novel import SCENE_KINDS, novel_objects
from ..novel import VERSION as SCENES_VERSION
from ..plots import (
    InchLayout,
    assignment_rgb,
    checked_floats,
    checked_image,
    show_gray,
    show_rgb,
    styled,
)
from ..report import Markdown, markdown_table
from ..specs import RCSpec
from ..tasks import Task

#: The DAE of the figure.
DATASET = "multi_mnist"
#: Clusters per scene.
K = 3
#: A scene counts as bound "as expected" from this AMI on.
GOOD_AMI = 0.5
#: A difference of mean AMI between the two kinds of scenes below this is not a pattern.
MARGIN = 0.05
#: Version of this computation (part of its cache key).
VERSION = 1


@dataclass(frozen=True)
class NovelObjects(Record):
    """RC on the novel scenes: inputs, ground truth, final assignments and scores."""

    images: np.ndarray = checked_field("M", 48, 48)
    groups: np.ndarray = checked_field("M", 48, 48)
    gamma: np.ndarray = checked_field("M", 48, 48, None, finite=True)  # (M, 48, 48, K)
    ami: np.ndarray = checked_field("M")        # final AMI per scene
    descriptions: list = checked_field("M")
    kinds: list = checked_field("M")            # "apart" or "proximity" per scene
    k: int
    provenance: dict

    def _mean(self, kind: str) -> float:
        return float(np.nanmean(self.ami[np.array(self.kinds) == kind]))

    @property
    def mean_apart(self) -> float:
        return self._mean("apart")

    @property
    def mean_proximity(self) -> float:
        return self._mean("proximity")

    @property
    def n_apart(self) -> int:
        return self.kinds.count("apart")

    @property
    def n_proximity(self) -> int:
        return self.kinds.count("proximity")

    @property
    def good(self) -> list[str]:
        """Descriptions of the scenes with AMI >= :data:`GOOD_AMI`."""
        return [t for t, a in zip(self.descriptions, self.ami) if a >= GOOD_AMI]

    @property
    def comparison(self) -> str:
        """Which kind of scene scores higher, by more than :data:`MARGIN` (a sentence start)."""
        difference = self.mean_apart - self.mean_proximity
        if difference > MARGIN:
            return "The scenes with separated objects score higher by more than"
        if difference < -MARGIN:
            return "The scenes designed to defeat proximity score higher by more than"
        return "The two groups differ by less than"


def compute(results) -> NovelObjects:
    """RC with the Multi-MNIST Table 1 DAE on the novel scenes (cached)."""
    spec = results.table_spec(DATASET, 1)
    rc_spec = RCSpec(k=K, n_iters=results.profile.n_iters, seed=results.profile.seed)

    def run():
        images, groups, descriptions = novel_objects(results.profile.seed)
        res = rc_spec.run(results.trained(spec).dae, images, groups=groups)
        return NovelObjects(images, groups, res.gamma, res.ami[:, -1], list(descriptions),
                            list(SCENE_KINDS), K, results.provenance())
    t = task(results)
    return results.cached(t.name, t.inputs, run, NovelObjects, describe=t.describe)


def task(results) -> Task:
    """The stored runs on the novel scenes as a task (computed by :func:`compute`)."""
    spec = results.table_spec(DATASET, 1)
    rc_spec = RCSpec(k=K, n_iters=results.profile.n_iters, seed=results.profile.seed)
    inputs = {"dae": spec.inputs(), "rc": rc_spec.inputs(),
              "scenes": {"seed": results.profile.seed, "version": SCENES_VERSION},
              "version": VERSION}
    return Task(f"fig7/novel-k{K}", inputs, NovelObjects, RC_FLOP,
                (results.training_task(spec),), describe="RC on the novel objects")


def glue_values(result: NovelObjects) -> dict:
    """The numbers the book's prose quotes about the figure."""
    return {
        "novel_k": result.k, "novel_apart": result.mean_apart,
        "novel_hard": result.mean_proximity, "novel_thr": GOOD_AMI,
        "novel_good": "; ".join(result.good) or "none", "novel_n_good": len(result.good),
        "novel_n": len(result.descriptions), "novel_n_apart": result.n_apart,
        "novel_n_hard": result.n_proximity, "novel_margin": MARGIN,
        "proximity_sentence": result.comparison,
    }

def draw(result: NovelObjects):
    """The figure: inputs above final assignments, one column per scene."""
    return plot(result.images, result.gamma, titles=result.descriptions)


def table(result: NovelObjects) -> Markdown:
    """Each scene's AMI with its ground truth."""
    return markdown_table(["scene", "kind", "AMI with its ground truth"],
                          [[t, k, a] for t, k, a in zip(result.descriptions, result.kinds,
                                                         result.ami)])


@styled
def plot(images, gammas, titles: Sequence[str] | None = None):
    """Fig. 7: RC on novel objects; a row of inputs above a row of final assignments.

    ``images`` (M, H, W), ``gammas`` (M, H, W, K); ``titles`` (optional) one per image.
    """
    imgs = checked_floats(images, "images")
    if imgs.ndim != 3 or 0 in imgs.shape:
        raise ValueError(f"images must have shape (M, H, W); got {imgs.shape}")
    gs = checked_floats(gammas, "gammas")
    if gs.ndim != 4 or gs.shape[:3] != imgs.shape:
        raise ValueError(f"gammas must have shape (M, H, W, K) = {imgs.shape + ('K',)}; "
                         f"got {gs.shape}")
    count = imgs.shape[0]
    if titles is not None and len(titles) != count:
        raise ValueError(f"titles must have one entry per image ({count}); got {len(titles)}")
    left, right, gap = 0.8, 0.08, 0.1
    cell = min(1.25, (8.0 - left - right - (count - 1) * gap) / count)
    wrap = max(8, int(cell * 17))
    lines = [textwrap.wrap(str(t), wrap) for t in titles] if titles else []
    title_h = 0.06 + 0.13 * max((len(t) for t in lines), default=0)
    width = left + count * cell + (count - 1) * gap + right
    lay = InchLayout(width, title_h + 2 * cell + gap + 0.08)
    for j in range(count):
        x = left + j * (cell + gap)
        img = checked_image(imgs[j], f"images[{j}]")
        show_gray(lay.axes(x, title_h, cell, cell), img)
        show_rgb(lay.axes(x, title_h + cell + gap, cell, cell),
                  assignment_rgb(img, gs[j]))
        if lines:
            lay.text(x + cell / 2, title_h - 0.05, "\n".join(lines[j]), ha="center",
                     va="bottom", fontsize=7, linespacing=1.05)
    for i, row in enumerate(("input", "RC result")):
        lay.text(left - 0.1, title_h + i * (cell + gap) + cell / 2, row, ha="right",
                 va="center")
    return lay.fig


def tasks(results) -> list[Task]:
    """What :func:`compute` stores."""
    return [task(results)]
