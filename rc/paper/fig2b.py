"""Figure 2b: one RC iteration, computed on a real image.

The paper's schematic of one iteration, made with the Shapes Table 1 DAE on the first
Shapes test image: per cluster, the random initial assignment gamma_k, the partial image
gamma_k * x the DAE receives, its reconstruction mu_k (R-step) and the new assignment
(E-step); beside it the same image's score over a full run. No claim.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..plots import (
    InchLayout,
    assignment_rgb,
    checked_gamma,
    checked_image,
    cluster_colors,
    grey_mappable,
    show_gray,
    show_rgb,
    styled,
)
from ..specs import RCSpec
from ..tasks import Task

#: The data set of the figure, and which of its test images.
DATASET = "shapes"
IMAGE = 0


@dataclass(frozen=True)
class OneIteration:
    """One image's first RC iteration in detail, and its full run's traces."""

    image: np.ndarray        # (H, W)
    groups: np.ndarray       # (H, W)
    gamma0: np.ndarray       # (H, W, K) initial assignments
    mu: np.ndarray           # (H, W, K) the DAE's reconstructions in the R-step
    gamma1: np.ndarray       # (H, W, K) assignments after the E-step
    log_likelihood: np.ndarray  # (3,) start, after the R-step, after the E-step
    ami: np.ndarray          # (2,) before and after the iteration
    confidence: np.ndarray   # (2,)
    full_ami: np.ndarray     # (T+1,) the full run's AMI after every iteration
    full_confidence: np.ndarray
    full_log_likelihood: np.ndarray  # (2T+1,)
    n_hidden: int
    activation: str

    @property
    def k(self) -> int:
        return int(self.gamma0.shape[-1])


def compute(results) -> OneIteration:
    """The first iteration and the full run on test image :data:`IMAGE` of Shapes."""
    trained = results.table_dae(DATASET, 1)
    images, groups = results.test_data(DATASET)
    x, g = images[IMAGE:IMAGE + 1], groups[IMAGE:IMAGE + 1]
    spec = results.eval_spec(DATASET, 1).rc
    one = RCSpec(spec.k, 1, spec.e_step, spec.init, spec.seed).run(
        trained.dae, x, groups=g, keep_history=True, image_ids=[IMAGE])
    full = spec.run(trained.dae, x, groups=g, image_ids=[IMAGE])
    return OneIteration(x[0], g[0], one.gamma_history[0, 0], one.mu_history[0, 0],
                        one.gamma_history[1, 0], one.log_likelihood[0], one.ami[0],
                        one.confidence[0], full.ami[0], full.confidence[0],
                        full.log_likelihood[0], trained.dae.n_hidden, trained.dae.activation)


def glue_values(result: OneIteration) -> dict:
    """The numbers the book's prose quotes: the log-likelihood, AMI and confidence before
    and after the iteration and after the full run, and the DAE's width and units."""
    return {
        "ll_start": result.log_likelihood[0], "ll_after_r": result.log_likelihood[1],
        "ll_after_e": result.log_likelihood[2], "ami_start": result.ami[0],
        "ami_after_1": result.ami[1], "conf_start": result.confidence[0],
        "conf_after_1": result.confidence[1], "shapes_hidden": result.n_hidden,
        "shapes_activation": result.activation, "ami_final": result.full_ami[-1],
        "conf_final": result.full_confidence[-1],
        "ll_final": result.full_log_likelihood[-1],
    }

def draw(result: OneIteration):
    """The figure: one row per cluster (assignment, DAE input, output, new assignment)."""
    return plot(result.image, result.gamma0, result.mu, result.gamma1)


@styled
def plot(image, gamma0, mu, gamma1):
    """Fig. 2b: one RC iteration. One row per cluster k: the assignment gamma0_k, the DAE
    input gamma0_k * x, the DAE output mu_k (R-step) and the new gamma1_k (E-step), in
    grey levels from 0 (white) to 1 (black) with a shared colour bar; on the left the
    input and the combined assignments before and after (cluster colours as in the rows).
    """
    img = checked_image(image)
    g0 = checked_gamma(gamma0, img.shape, "gamma0")
    k = g0.shape[2]
    m = checked_gamma(mu, img.shape, "mu")
    g1 = checked_gamma(gamma1, img.shape, "gamma1")
    if m.shape[2] != k or g1.shape[2] != k:
        raise ValueError(
            f"gamma0, mu and gamma1 must have the same number of clusters; got "
            f"{k}, {m.shape[2]}, {g1.shape[2]}"
        )
    colors = cluster_colors(k)
    stages = (g0, g0 * img[..., None], m, g1)
    side_panels = (
        ("input x", lambda ax: show_gray(ax, img)),
        ("assignment before", lambda ax: show_rgb(ax, assignment_rgb(img, g0))),
        ("assignment after", lambda ax: show_rgb(ax, assignment_rgb(img, g1))),
    )
    if k <= 5:
        lay, grid_left, grid_w, cbar_top = _iteration_rows(k, stages, colors, side_panels)
    else:
        lay, grid_left, grid_w, cbar_top = _iteration_columns(k, stages, colors, side_panels)
    cax = lay.axes(grid_left, cbar_top, grid_w, 0.1)
    cbar = lay.fig.colorbar(grey_mappable(), cax=cax, orientation="horizontal")
    cbar.set_ticks([0, 0.25, 0.5, 0.75, 1])
    cbar.outline.set_linewidth(0.6)
    cbar.set_label("value (0 = white, 1 = black)", fontsize=8)
    return lay.fig


_STAGE_HEADERS = ("assignment\n$\\gamma_k$", "DAE input\n$\\gamma_k \\cdot x$",
                  "DAE output\n$\\mu_k$  (R-step)", "new assignment\n$\\gamma_k$  (E-step)")


def _iteration_rows(k, stages, colors, side_panels):
    """Fig. 2b layout for few clusters: one row per cluster, one column per stage."""
    gap, head, side_title, margin, label_w = 0.08, 0.42, 0.3, 0.12, 0.8
    cell = min(1.15, (8.0 - 2 * margin - label_w - 0.25 - 3 * gap) / 5)
    side = min(cell, 1.1)
    grid_left = margin + side + 0.25 + label_w
    grid_w = 4 * cell + 3 * gap
    grid_bottom = head + k * cell + (k - 1) * gap
    side_bottom = 0.12 + 3 * (side_title + side) + 2 * 0.12
    cbar_top = grid_bottom + 0.22
    lay = InchLayout(grid_left + grid_w + margin, max(side_bottom + 0.08, cbar_top + 0.6))
    y = 0.12
    for title, draw in side_panels:
        ax = lay.axes(margin, y + side_title, side, side)
        draw(ax)
        ax.set_title(title, fontsize=8.5)
        y += side_title + side + 0.12
    for row in range(k):
        top = head + row * (cell + gap)
        for col, values in enumerate(stages):
            ax = lay.axes(grid_left + col * (cell + gap), top, cell, cell)
            show_gray(ax, np.clip(values[..., row], 0.0, 1.0))
        yc = top + cell / 2
        lay.text(grid_left - 0.1, yc, f"cluster {row + 1}", ha="right", va="center",
                 fontsize=8.5)
        lay.text(grid_left - 0.1 - 0.62, yc, "\u25a0", ha="right", va="center",
                 fontsize=13, color=colors[row])
    for col, text in enumerate(_STAGE_HEADERS):
        lay.text(grid_left + col * (cell + gap) + cell / 2, head - 0.06, text, ha="center",
                 va="bottom", fontsize=8.5)
    return lay, grid_left, grid_w, cbar_top


def _iteration_columns(k, stages, colors, side_panels):
    """Fig. 2b layout for many clusters: one column per cluster, one row per stage, the
    input and combined assignments in a row above."""
    gap, margin, label_w, side_title = 0.06, 0.2, 1.25, 0.28
    cell = min(0.9, (8.0 - margin - label_w - (k - 1) * gap - margin) / k)
    grid_left = margin + label_w
    grid_w = k * cell + (k - 1) * gap
    side = 1.1
    head = 0.3
    grid_top = side_title + side + 0.25 + head
    cbar_top = grid_top + 4 * cell + 3 * gap + 0.22
    width = max(grid_left + grid_w + margin, grid_left + 3 * side + 2 * 0.4 + margin)
    lay = InchLayout(width, cbar_top + 0.6)
    for i, (title, draw) in enumerate(side_panels):
        ax = lay.axes(grid_left + i * (side + 0.4), side_title, side, side)
        draw(ax)
        ax.set_title(title, fontsize=8.5)
    for col in range(k):
        x = grid_left + col * (cell + gap)
        for row, values in enumerate(stages):
            ax = lay.axes(x, grid_top + row * (cell + gap), cell, cell)
            show_gray(ax, np.clip(values[..., col], 0.0, 1.0))
        lay.text(x + cell / 2 - 0.02, grid_top - 0.05, "\u25a0", ha="right", va="bottom",
                 fontsize=10, color=colors[col])
        lay.text(x + cell / 2, grid_top - 0.06, f"{col + 1}", ha="left", va="bottom",
                 fontsize=8)
    lay.text(grid_left - 0.1, grid_top - 0.06, "cluster k", ha="right", va="bottom",
             fontsize=8.5)
    for row, text in enumerate(_STAGE_HEADERS):
        lay.text(grid_left - 0.1, grid_top + row * (cell + gap) + cell / 2,
                 text.replace("  (", "\n("), ha="right", va="center", fontsize=8,
                 linespacing=1.1)
    return lay, grid_left, grid_w, cbar_top


def tasks(results) -> list[Task]:
    """What :func:`compute` needs stored: the Shapes Table 1 DAE."""
    return [results.training_task(results.table_spec(DATASET, 1))]
