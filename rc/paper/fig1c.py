"""Figure 1c: the pixels of an object predict each other; those of other objects do not.

The paper draws this as a sketch. Here it is measured with the Shapes Table 1 DAE: for
every object of the first test images, a fraction :data:`HIDE` of its pixels is hidden,
and the DAE sees (a) the rest of the object alone, (b) only the other objects, (c) an
empty image; we record the mean probability it predicts for the hidden pixels.

The paper makes no quantitative claim about this figure.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.lines import Line2D

from .._checks import checked_field
from ..cache import Record
from ..cost import RC_FLOP
from ..plots import (
    InchLayout,
    checked_image,
    checked_same_shape,
    mask_outline,
    show_gray,
    styled,
)
from ..specs import DataSpec
from ..tasks import Task

#: The data set of the figure.
DATASET = "shapes"
#: Fraction of each object's pixels hidden.
HIDE = 0.3
#: How many test images (at most) are used.
N_IMAGES = 200
#: Version of this computation (part of its cache key).
VERSION = 1


@dataclass(frozen=True)
class Predictability(Record):
    """Mean predicted probability on the hidden pixels of each object, for three inputs,
    and one example object's panels."""

    from_object: np.ndarray = checked_field("M", finite=True)   # (a) per object
    from_others: np.ndarray = checked_field("M", finite=True)   # (b)
    from_nothing: np.ndarray = checked_field("M", finite=True)  # (c)
    example_image: np.ndarray = checked_field("H", "W")
    example_mask: np.ndarray = checked_field("H", "W")
    example_alone: np.ndarray = checked_field("H", "W")
    example_mu_alone: np.ndarray = checked_field("H", "W", finite=True)
    example_others: np.ndarray = checked_field("H", "W")
    example_mu_others: np.ndarray = checked_field("H", "W", finite=True)
    hide: float = checked_field(finite=True)
    provenance: dict

    @property
    def n_objects(self) -> int:
        return int(self.from_object.size)

    @property
    def object_vs_others(self) -> str:
        """Whether (a) is on average "higher than" or "not higher than" (b)."""
        return ("higher than" if self.from_object.mean() > self.from_others.mean()
                else "not higher than")

    @property
    def others_vs_nothing(self) -> str:
        """Whether (b) is on average "above" or "below" the empty-input baseline (c)."""
        return "above" if self.from_others.mean() > self.from_nothing.mean() else "below"

    def fraction(self, a: str, b: str) -> float:
        """Fraction of objects where input ``a`` predicts more than input ``b``
        (``"object"``, ``"others"``, ``"nothing"``)."""
        return float(np.mean(getattr(self, f"from_{a}") > getattr(self, f"from_{b}")))


def predictability(dae, images: np.ndarray, groups: np.ndarray, hide: float = HIDE,
                   seed: int = 0) -> Predictability:
    """The measurement for every object (with >= 4 pixels) of ``images``."""
    rng = np.random.default_rng(seed)
    rows = []  # (image index, mask, input a, input b)
    for i, (img, grp) in enumerate(zip(images, groups)):
        for lab in np.unique(grp[grp > 0]):
            own = grp == lab
            if own.sum() < 4:
                continue
            mask = own & (rng.random(own.shape) < hide)
            if not mask.any():
                continue
            alone = (own & ~mask).astype(np.float32)
            others = ((img > 0) & (grp != lab) & ~own).astype(np.float32)
            others[mask] = 0
            rows.append((i, mask, alone, others))
    if not rows:
        raise ValueError("no object with at least 4 pixels in the images")
    masks = np.array([r[1] for r in rows])
    a, b = np.array([r[2] for r in rows]), np.array([r[3] for r in rows])
    d = a.shape[1] * a.shape[2]
    device = next(dae.parameters()).device if isinstance(dae, torch.nn.Module) else "cpu"

    def predict(x):
        with torch.no_grad():
            out = dae(torch.from_numpy(x.reshape(len(x), d)).to(device))
        return out.cpu().numpy().reshape(x.shape[0], *masks.shape[1:])

    mu_a, mu_b, mu_c = predict(a), predict(b), predict(np.zeros_like(a[:1]))[0]

    def hidden(mu):
        return (mu * masks).sum((1, 2)) / masks.sum((1, 2))

    return Predictability(hidden(mu_a), hidden(mu_b),
                          hidden(np.broadcast_to(mu_c, masks.shape)), images[rows[0][0]],
                          masks[0], a[0], mu_a[0], b[0], mu_b[0], float(hide), {})


def _measured_images(results) -> DataSpec:
    test = results.test_spec(DATASET)
    return DataSpec(DATASET, "test", min(N_IMAGES, test.n), test.seed)


def task(results) -> Task:
    """The stored measurement as a task (computed by :func:`compute`, after the DAE)."""
    spec = results.table_spec(DATASET, 1)
    inputs = {"dae": spec.inputs(), "data": _measured_images(results).inputs(), "hide": HIDE,
              "seed": results.profile.seed, "version": VERSION}
    return Task(f"fig1c/predictability-{DATASET}", inputs, Predictability, RC_FLOP,
                (results.training_task(spec),), describe="the predictability measurement")


def compute(results) -> Predictability:
    """The measurement with the Shapes Table 1 DAE (cached)."""
    spec = results.table_spec(DATASET, 1)
    data = _measured_images(results)

    def run():
        images, groups = results.load(data)
        result = predictability(results.trained(spec).dae, images, groups, HIDE,
                                results.profile.seed)
        return dataclasses.replace(result, provenance=results.provenance())
    t = task(results)
    return results.cached(t.name, t.inputs, run, Predictability, describe=t.describe)


def glue_values(result: Predictability, results) -> dict:
    """The numbers the book's prose quotes about the measurement, and the configuration
    of the DAE it asked (the Table 1 Shapes DAE of ``results``)."""
    config, _, source = results.table_config(DATASET)
    return {
        "n_objects": result.n_objects, "hide": result.hide,
        "mean_object": result.from_object.mean(), "mean_others": result.from_others.mean(),
        "mean_nothing": result.from_nothing.mean(),
        "frac_a_gt_b": result.fraction("object", "others"),
        "frac_a_gt_c": result.fraction("object", "nothing"),
        "frac_b_gt_c": result.fraction("others", "nothing"),
        "a_vs_b": result.object_vs_others, "b_vs_c": result.others_vs_nothing,
        "shapes_hidden": config.n_hidden, "shapes_activation": config.activation,
        "shapes_source": source,
    }

def draw(result: Predictability):
    """The figure: one object's hidden pixels filled in from itself and from the others."""
    return plot(result.example_image, result.example_alone, result.example_mu_alone,
                result.example_others, result.example_mu_others, result.example_mask)


@styled
def plot(image, corrupted_alone, reconstruction_alone, corrupted_with_others,
                       reconstruction_with_others, mask):
    """Fig. 1c made live: pixels of one object are removed (outlined in red); a DAE fills
    them in from the rest of that object, but not when only the OTHER objects are visible.

    All arguments are (H, W): the full image, the object with the ``mask`` pixels removed
    and the DAE's reconstruction of it, and the other objects alone and their
    reconstruction. Grey levels 0 (white) to 1 (black).
    """
    img = checked_image(image)
    panels = [img]
    for value, name in ((corrupted_alone, "corrupted_alone"),
                        (reconstruction_alone, "reconstruction_alone"),
                        (corrupted_with_others, "corrupted_with_others"),
                        (reconstruction_with_others, "reconstruction_with_others")):
        panels.append(np.clip(checked_same_shape(value, img.shape, name), 0.0, 1.0))
    msk = np.asarray(mask)
    if msk.shape != img.shape:
        raise ValueError(f"mask must have the image's shape {img.shape}; got {msk.shape}")
    if msk.dtype != bool:
        if not np.isin(msk, (0, 1)).all():
            raise ValueError("mask must be boolean (or 0/1)")
        msk = msk.astype(bool)
    titles = ("full image,\nmask outlined", "the object,\nmasked pixels removed",
              "DAE fills in", "only the other objects,\nmasked pixels removed", "DAE fills in")
    left, gap, pair_gap, cbar_gap, cbar_w, right = 0.08, 0.1, 0.28, 0.15, 0.1, 0.5
    cell = (8.0 - left - 2 * gap - 2 * pair_gap - cbar_gap - cbar_w - right) / 5
    head, title_h = 0.24, 0.36
    top = head + title_h
    lay = InchLayout(8.0, top + cell + 0.08)
    xs = [left]
    for step in (pair_gap, gap, pair_gap, gap):
        xs.append(xs[-1] + cell + step)
    im = None
    for x, values, text in zip(xs, panels, titles):
        ax = lay.axes(x, top, cell, cell)
        im = show_gray(ax, values)
        mask_outline(ax, msk)
        lay.text(x + cell / 2, top - 0.05, text, ha="center", va="bottom", fontsize=8,
                 linespacing=1.1)
    for a, text in ((1, "from the object itself"), (3, "from the other objects")):
        x0, x1 = xs[a], xs[a + 1] + cell
        lay.text((x0 + x1) / 2, 0.06, text, ha="center", va="top", fontsize=8.5,
                 fontweight="bold")
        line = Line2D([x0 / lay.w, x1 / lay.w], [1 - 0.25 / lay.h] * 2, color="0.5", lw=0.8,
                      transform=lay.fig.transFigure)
        lay.fig.add_artist(line)
    cax = lay.axes(xs[-1] + cell + cbar_gap, top, cbar_w, cell)
    cbar = lay.fig.colorbar(im, cax=cax)
    cbar.set_ticks([0, 0.5, 1])
    cbar.outline.set_linewidth(0.6)
    return lay.fig


def tasks(results) -> list[Task]:
    """What :func:`compute` stores."""
    return [task(results)]
