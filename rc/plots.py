"""The figures of the book, in one style.

Every ``fig_*`` function takes plain numpy arrays / dicts and returns a
:class:`matplotlib.figure.Figure` made with pyplot (so notebooks show it); nothing is shown
or saved here -- call ``fig.savefig(path)`` and ``plt.close(fig)`` yourself. The style
(:data:`STYLE`) is applied only while a figure is built, so importing this module changes
no global setting; use :func:`style` to apply it to figures of your own.

Colours are fixed across the book: :func:`cluster_colors` for clusters / objects (a
colour-blind-friendly qualitative palette of 12), :data:`DATASET_COLORS` and
:data:`DATASET_LABELS` for the six data sets. Binary images are drawn black on white;
cluster assignments colour every on-pixel by ``sum_k gamma_k * color_k``
(:func:`assignment_rgb`), so soft assignments look mixed; ground truth colours each object,
with overlap pixels dark grey (:func:`groups_rgb`).

Image figures are laid out in inches (pixel-exact, square cells); the figures are sized
for a book page about 8 inches wide.
"""
from __future__ import annotations

import colorsys
import functools
import math
import textwrap
from contextlib import contextmanager
from typing import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from .datasets import DATASETS, dataset_info

__all__ = [
    "DATASET_COLORS",
    "DATASET_LABELS",
    "OVERLAP_COLOR",
    "STYLE",
    "assignment_rgb",
    "cluster_colors",
    "fig_examples",
    "fig_ll_convergence",
    "fig_loss_vs_score",
    "fig_novel",
    "fig_predictability",
    "fig_rc_iteration",
    "fig_rc_runs",
    "fig_scores_by_k",
    "fig_search",
    "fig_single_vs_multi",
    "groups_rgb",
    "style",
]

# --------------------------------------------------------------------------------------
# Style and colours
# --------------------------------------------------------------------------------------
#: rc parameters of every figure (applied inside each ``fig_*`` function only).
STYLE: dict[str, object] = {
    "font.family": "DejaVu Sans",
    "mathtext.fontset": "dejavusans",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 10,
    "figure.dpi": 150,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "axes.edgecolor": "0.25",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlepad": 4.0,
    "axes.grid": False,
    "grid.color": "0.88",
    "grid.linewidth": 0.6,
    "xtick.major.size": 3.0,
    "ytick.major.size": 3.0,
    "xtick.major.width": 0.8,
    "ytick.major.width": 0.8,
    "lines.linewidth": 1.5,
    "lines.markersize": 4.0,
    "legend.frameon": False,
    "legend.handlelength": 1.6,
    "image.interpolation": "nearest",
    "image.cmap": "Greys",
    "pdf.fonttype": 42,
    "svg.fonttype": "none",
}

# Okabe & Ito's colour-blind-safe set (without black), then Paul Tol's dark / pale tones.
_CLUSTER_HEX = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#332288",  # indigo
    "#882255",  # wine
    "#999933",  # olive
    "#661100",  # brown
    "#FFAABB",  # pink
)
_CLUSTER_RGB = np.array([to_rgb(c) for c in _CLUSTER_HEX])

#: Colour of ground-truth pixels that belong to no single object (overlaps).
OVERLAP_COLOR = (0.3, 0.3, 0.3)
_BACKGROUND = np.ones(3)

#: One fixed colour per data set (Paul Tol's colour-blind-safe "bright" scheme).
DATASET_COLORS: dict[str, str] = {
    "simple_superposition": "#4477AA",
    "shapes": "#EE6677",
    "bars": "#228833",
    "corners": "#CCBB44",
    "mnist_shape": "#66CCEE",
    "multi_mnist": "#AA3377",
}
#: Display names of the data sets.
DATASET_LABELS: dict[str, str] = {
    "simple_superposition": "Simple Superposition",
    "shapes": "Shapes",
    "bars": "Bars",
    "corners": "Corners",
    "mnist_shape": "MNIST+Shape",
    "multi_mnist": "Multi-MNIST",
}


@contextmanager
def style():
    """Context manager applying :data:`STYLE` (for figures made outside this module)."""
    with mpl.rc_context(STYLE):
        yield


def cluster_colors(k: int) -> np.ndarray:
    """The first ``k`` colours of the cluster palette as a (k, 3) float array in [0, 1].

    The 12 fixed colours are distinct and colour-blind friendly; beyond 12, further
    colours are spread over the hue circle (golden-ratio steps).
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer; got {k!r}")
    k = int(k)
    if k <= len(_CLUSTER_RGB):
        return _CLUSTER_RGB[:k].copy()
    extra = [
        colorsys.hsv_to_rgb((0.11 + 0.618034 * i) % 1.0, 0.65, 0.8)
        for i in range(k - len(_CLUSTER_RGB))
    ]
    return np.vstack([_CLUSTER_RGB, np.array(extra)])


def _ds_label(name: str) -> str:
    return DATASET_LABELS.get(name, str(name))


def _ds_color(name: str, index: int = 0) -> str:
    if name in DATASET_COLORS:
        return DATASET_COLORS[name]
    return ("0.35", "0.55", "#777777", "0.25")[index % 4]


def _ordered(names) -> list:
    """The known data sets in the book's order, then the others in their given order."""
    names = list(names)
    known = [n for n in DATASETS if n in names]
    return known + [n for n in names if n not in DATASETS]


def _k_colors(ks: Sequence[int]) -> dict[int, tuple]:
    """A colour per number of clusters, dark to light by K (same for figures 4a and 4b)."""
    ks = sorted(ks)
    cmap = mpl.colormaps["viridis"]
    positions = np.linspace(0.08, 0.82, len(ks)) if len(ks) > 1 else [0.35]
    return {k: cmap(p) for k, p in zip(ks, positions)}


def _sequence_colors(n: int) -> list:
    """Colours for n ordered items (example runs): dark to light."""
    cmap = mpl.colormaps["plasma"]
    return [cmap(p) for p in (np.linspace(0.0, 0.78, n) if n > 1 else [0.0])]


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------
def _float_array(a, name: str) -> np.ndarray:
    try:
        arr = np.asarray(a, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array; got {type(a).__name__}") from exc
    return arr


def _image(a, name: str = "image") -> np.ndarray:
    arr = _float_array(a, name)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty 2-D (H, W) array; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must contain only finite values")
    return arr


def _same_shape(a, shape: tuple[int, int], name: str) -> np.ndarray:
    arr = _float_array(a, name)
    if arr.shape != shape:
        raise ValueError(f"{name} must have the image's shape {shape}; got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must contain only finite values")
    return arr


def _gamma(g, shape: tuple[int, int], name: str = "gamma") -> np.ndarray:
    arr = _float_array(g, name)
    if arr.ndim != 3 or arr.shape[:2] != tuple(shape) or arr.shape[2] < 1:
        raise ValueError(
            f"{name} must have shape (H, W, K) = ({shape[0]}, {shape[1]}, K) matching the "
            f"image; got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must contain only finite values")
    return arr


def _groups(groups, shape: tuple[int, int]) -> np.ndarray:
    arr = np.asarray(groups)
    if arr.shape != tuple(shape):
        raise ValueError(f"groups must have the image's shape {tuple(shape)}; got {arr.shape}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"groups must be non-negative integers; got dtype {arr.dtype}")
    if not np.isfinite(arr).all() or (arr < 0).any() or (arr != np.round(arr)).any():
        raise ValueError("groups must be non-negative integers (0 = background / overlap)")
    return arr.astype(np.int64)


def _vector(a, name: str, length: int | None = None) -> np.ndarray:
    arr = _float_array(a, name)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array; got shape {arr.shape}")
    if length is not None and arr.size != length:
        raise ValueError(f"{name} must have {length} entries (one per image); got {arr.size}")
    return arr


def _number(x, name: str) -> float:
    try:
        value = float(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number; got {x!r}") from exc
    return value


def _non_empty_mapping(m, name: str) -> Mapping:
    if not isinstance(m, Mapping) or len(m) == 0:
        raise ValueError(f"{name} must be a non-empty dict; got {type(m).__name__}")
    return m


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------
def assignment_rgb(image, gamma) -> np.ndarray:
    """(H, W, 3) picture of a soft assignment: on-pixels ``sum_k gamma_k * color_k``.

    ``image`` (H, W) is binary (pixels > 0.5 are on); ``gamma`` (H, W, K) is normalised
    over K here (non-negative weights; all-zero pixels count as uniform). Off pixels are
    white.
    """
    img = _image(image)
    g = np.clip(_gamma(gamma, img.shape), 0.0, None)
    k = g.shape[2]
    total = g.sum(axis=2, keepdims=True)
    g = np.where(total > 0, g / np.where(total > 0, total, 1.0), 1.0 / k)
    rgb = g @ cluster_colors(k)
    rgb = np.where((img > 0.5)[..., None], rgb, _BACKGROUND)
    return np.clip(rgb, 0.0, 1.0)


def groups_rgb(image, groups) -> np.ndarray:
    """(H, W, 3) picture of a ground truth: object j in palette colour j (1-based).

    Pixels of group 0 that are on in ``image`` (overlaps) are dark grey
    (:data:`OVERLAP_COLOR`); the background is white.
    """
    img = _image(image)
    grp = _groups(groups, img.shape)
    rgb = np.broadcast_to(_BACKGROUND, img.shape + (3,)).copy()
    rgb[(img > 0.5) & (grp == 0)] = OVERLAP_COLOR
    n = int(grp.max())
    if n > 0:
        colors = cluster_colors(n)
        obj = grp > 0
        rgb[obj] = colors[grp[obj] - 1]
    return rgb


def _styled(func):
    """Build the figure under :data:`STYLE`; lay it out and create its ticks there too.

    Figures opened by a call that fails are closed again.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        before = set(plt.get_fignums())
        try:
            with mpl.rc_context(STYLE):
                fig = func(*args, **kwargs)
                fig.draw_without_rendering()  # ticks are made lazily: make them in style
            return fig
        except BaseException:
            for num in set(plt.get_fignums()) - before:
                plt.close(num)
            raise

    return wrapper


class _Inches:
    """Place axes and text in inches measured from the top-left corner of a figure."""

    def __init__(self, width: float, height: float):
        self.w, self.h = float(width), float(height)
        self.fig = plt.figure(figsize=(self.w, self.h))

    def axes(self, left, top, width, height, **kwargs):
        rect = (left / self.w, 1.0 - (top + height) / self.h, width / self.w, height / self.h)
        return self.fig.add_axes(rect, **kwargs)

    def text(self, x, y, s, **kwargs):
        return self.fig.text(x / self.w, 1.0 - y / self.h, s, **kwargs)


def _frame(ax, color="0.7") -> None:
    """Image axes: no ticks, a thin light frame."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_edgecolor(color)
        spine.set_linewidth(0.6)


def _show_rgb(ax, rgb) -> None:
    ax.imshow(rgb, interpolation="nearest")
    _frame(ax)


def _grey_mappable():
    return mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0.0, 1.0), cmap="Greys")


def _show_gray(ax, values):
    im = ax.imshow(values, cmap="Greys", vmin=0.0, vmax=1.0, interpolation="nearest")
    _frame(ax)
    return im


def _mask_outline(ax, mask: np.ndarray, color="#E8161B", lw=1.3) -> None:
    """Outline the pixels of ``mask`` along pixel edges."""
    p = np.pad(mask.astype(bool), 1)
    vr, vc = np.nonzero(p[1:-1, 1:] != p[1:-1, :-1])  # between columns vc-1 and vc
    hr, hc = np.nonzero(p[1:, 1:-1] != p[:-1, 1:-1])  # between rows hr-1 and hr
    segments = [((c - 0.5, r - 0.5), (c - 0.5, r + 0.5)) for r, c in zip(vr, vc)]
    segments += [((c - 0.5, r - 0.5), (c + 0.5, r - 0.5)) for r, c in zip(hr, hc)]
    if segments:
        ax.add_collection(
            LineCollection(segments, colors=color, linewidths=lw, capstyle="projecting")
        )


# --------------------------------------------------------------------------------------
# Figure 3: examples of the data sets
# --------------------------------------------------------------------------------------
@_styled
def fig_examples(examples: Mapping[str, tuple]):
    """Fig. 3: one column per data set, input (black on white) above its ground truth.

    ``examples`` maps a data set name to ``(image (H, W), groups (H, W))``.
    """
    _non_empty_mapping(examples, "examples")
    names = _ordered(examples)
    pairs = []
    for name in names:
        try:
            image, groups = examples[name]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"examples[{name!r}] must be a pair (image, groups)") from exc
        img = _image(image, f"image of {name!r}")
        pairs.append((img, groups_rgb(img, groups)))
    n = len(names)
    left, right, gap, label_h = 0.95, 0.1, 0.1, 0.3
    cell = min(1.25, (8.0 - left - right - (n - 1) * gap) / n)
    width = left + n * cell + (n - 1) * gap + right
    height = label_h + 2 * cell + gap + 0.08
    lay = _Inches(width, height)
    for j, (name, (img, truth)) in enumerate(zip(names, pairs)):
        x = left + j * (cell + gap)
        _show_gray(lay.axes(x, label_h, cell, cell), img)
        _show_rgb(lay.axes(x, label_h + cell + gap, cell, cell), truth)
        lay.text(x + cell / 2, label_h - 0.08, _ds_label(name), ha="center", va="bottom",
                 fontsize=9)
    for i, row in enumerate(("input", "ground truth")):
        lay.text(left - 0.1, label_h + i * (cell + gap) + cell / 2, row, ha="right",
                 va="center")
    return lay.fig


# --------------------------------------------------------------------------------------
# Figure 2b: one RC iteration
# --------------------------------------------------------------------------------------
@_styled
def fig_rc_iteration(image, gamma0, mu, gamma1):
    """Fig. 2b: one RC iteration. One row per cluster k: the assignment gamma0_k, the DAE
    input gamma0_k * x, the DAE output mu_k (R-step) and the new gamma1_k (E-step), in
    grey levels from 0 (white) to 1 (black) with a shared colour bar; on the left the
    input and the combined assignments before and after (cluster colours as in the rows).
    """
    img = _image(image)
    g0 = _gamma(gamma0, img.shape, "gamma0")
    k = g0.shape[2]
    m = _gamma(mu, img.shape, "mu")
    g1 = _gamma(gamma1, img.shape, "gamma1")
    if m.shape[2] != k or g1.shape[2] != k:
        raise ValueError(
            f"gamma0, mu and gamma1 must have the same number of clusters; got "
            f"{k}, {m.shape[2]}, {g1.shape[2]}"
        )
    colors = cluster_colors(k)
    stages = (g0, g0 * img[..., None], m, g1)
    side_panels = (
        ("input x", lambda ax: _show_gray(ax, img)),
        ("assignment before", lambda ax: _show_rgb(ax, assignment_rgb(img, g0))),
        ("assignment after", lambda ax: _show_rgb(ax, assignment_rgb(img, g1))),
    )
    if k <= 5:
        lay, grid_left, grid_w, cbar_top = _iteration_rows(k, stages, colors, side_panels)
    else:
        lay, grid_left, grid_w, cbar_top = _iteration_columns(k, stages, colors, side_panels)
    cax = lay.axes(grid_left, cbar_top, grid_w, 0.1)
    cbar = lay.fig.colorbar(_grey_mappable(), cax=cax, orientation="horizontal")
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
    lay = _Inches(grid_left + grid_w + margin, max(side_bottom + 0.08, cbar_top + 0.6))
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
            _show_gray(ax, np.clip(values[..., row], 0.0, 1.0))
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
    lay = _Inches(width, cbar_top + 0.6)
    for i, (title, draw) in enumerate(side_panels):
        ax = lay.axes(grid_left + i * (side + 0.4), side_title, side, side)
        draw(ax)
        ax.set_title(title, fontsize=8.5)
    for col in range(k):
        x = grid_left + col * (cell + gap)
        for row, values in enumerate(stages):
            ax = lay.axes(x, grid_top + row * (cell + gap), cell, cell)
            _show_gray(ax, np.clip(values[..., col], 0.0, 1.0))
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


# --------------------------------------------------------------------------------------
# Figure 4: scores by K and likelihood convergence
# --------------------------------------------------------------------------------------
@_styled
def fig_scores_by_k(scores: Mapping[str, Mapping[int, float]],
                    best_k: Mapping[str, int] | None = None,
                    errors: Mapping[str, Mapping[int, float]] | None = None):
    """Fig. 4a: mean AMI per data set (groups) and number of clusters K (bars).

    ``best_k`` marks one bar per data set with a triangle and its value (default: the
    protocol's K of each known data set, :func:`rc.dataset_info`; pass ``{}`` for none).
    ``errors`` (same layout as ``scores``, optional) draws error bars, e.g. the std.
    """
    _non_empty_mapping(scores, "scores")
    names = _ordered(scores)
    table: dict[str, dict[int, float]] = {}
    for name in names:
        per_k = scores[name]
        if not isinstance(per_k, Mapping):
            raise ValueError(f"scores[{name!r}] must be a dict K -> mean AMI")
        table[name] = {int(kk): _number(v, f"scores[{name!r}][{kk!r}]")
                       for kk, v in per_k.items()}
    ks = sorted({kk for d in table.values() for kk in d})
    if not ks:
        raise ValueError("scores contains no values")
    if best_k is None:
        best_k = {n: dataset_info(n).k for n in names if n in DATASETS}
    colors = _k_colors(ks)
    fig, ax = plt.subplots(figsize=(8.0, 3.0), layout="constrained")
    width = 0.8 / len(ks)
    tops = [0.0]
    for i, name in enumerate(names):
        for j, kk in enumerate(ks):
            if kk not in table[name]:
                continue
            value = table[name][kk]
            x = i - 0.4 + width * (j + 0.5)
            err = None
            if errors is not None and name in errors and kk in errors[name]:
                err = _number(errors[name][kk], f"errors[{name!r}][{kk!r}]")
            ax.bar(x, value, width * 0.92, color=colors[kk], yerr=err,
                   error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "0.2"},
                   label=f"K = {kk}")
            top = value + (err or 0.0)
            tops.append(top)
            if best_k.get(name) == kk:
                ax.plot(x, top + 0.045, marker="v", color="black", ms=5, ls="none")
                ax.text(x, top + 0.085, f"{value:.2f}", ha="center", va="bottom", fontsize=7)
                tops.append(top + 0.16)
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    handles = [seen[f"K = {kk}"] for kk in ks if f"K = {kk}" in seen]
    if best_k:
        handles.append(Line2D([], [], marker="v", color="black", ls="none", ms=5,
                              label="protocol K (value shown)"))
    ax.legend(handles=handles, ncols=len(handles), loc="lower center",
              bbox_to_anchor=(0.5, 1.0), borderaxespad=0.2, columnspacing=1.2)
    ax.set_xticks(range(len(names)), [_ds_label(n) for n in names])
    ax.tick_params(axis="x", length=0)
    ax.set_xlim(-0.5, len(names) - 0.5)
    ax.set_ylim(min(0.0, min(min(d.values(), default=0) for d in table.values())),
                max(1.0, max(tops)) + 0.02)
    ax.set_ylabel("mean AMI score")
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.grid(axis="y")
    ax.set_axisbelow(True)
    return fig


@_styled
def fig_ll_convergence(ll_by_k: Mapping[int, np.ndarray], half_steps: bool = False,
                       title: str | None = None):
    """Fig. 4b: mean (line) and std (shaded) over images of the log-likelihood per iteration.

    ``ll_by_k`` maps K to the (N, 2T+1) ``RCResult.log_likelihood``. By default the values
    after every E-step are drawn at iterations 0..T (index 0 is the start, mu = 0.5);
    ``half_steps=True`` also draws the values after the R-steps, at t + 0.5.
    """
    _non_empty_mapping(ll_by_k, "ll_by_k")
    curves = {}
    for kk, ll in ll_by_k.items():
        arr = _float_array(ll, f"ll_by_k[{kk!r}]")
        if arr.ndim == 1:
            arr = arr[None]
        if arr.ndim != 2 or arr.shape[1] % 2 != 1 or arr.shape[0] == 0:
            raise ValueError(
                f"ll_by_k[{kk!r}] must have shape (N, 2T+1) (RCResult.log_likelihood); "
                f"got {arr.shape}"
            )
        curves[int(kk)] = arr
    colors = _k_colors(list(curves))
    fig, ax = plt.subplots(figsize=(6.0, 3.2), layout="constrained")
    t_max = 0
    for kk in sorted(curves):
        arr = curves[kk]
        if not half_steps:
            arr = arr[:, ::2]
            x = np.arange(arr.shape[1], dtype=float)
        else:
            x = np.arange(arr.shape[1]) / 2.0
        t_max = max(t_max, x[-1])
        mean, std = np.nanmean(arr, axis=0), np.nanstd(arr, axis=0)
        ax.fill_between(x, mean - std, mean + std, color=colors[kk], alpha=0.2, lw=0)
        ax.plot(x, mean, color=colors[kk], marker="o" if not half_steps else None, ms=3,
                label=f"K = {kk}")
    ax.set_xlim(0, t_max) if t_max > 0 else ax.set_xlim(-0.5, 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=min(11, int(t_max) + 1)))
    ax.set_xlabel("RC iteration" + (" (R-steps at t + 0.5)" if half_steps else ""))
    ax.set_ylabel("log-likelihood (nats)")
    ax.grid(axis="y")
    ax.legend(loc="lower right", title=None)
    if title:
        ax.set_title(title)
    return fig


# --------------------------------------------------------------------------------------
# Figures 5, 10, 11: RC runs
# --------------------------------------------------------------------------------------
def _check_example(ex, index: int, n_scores: int) -> dict:
    if not isinstance(ex, Mapping):
        raise ValueError(f"examples[{index}] must be a dict")
    missing = {"image", "groups", "gamma_history", "log_likelihood", "rank", "score"} - set(ex)
    if missing:
        raise ValueError(f"examples[{index}] lacks the keys {sorted(missing)}")
    img = _image(ex["image"], f"examples[{index}]['image']")
    groups = _groups(ex["groups"], img.shape)
    hist = _float_array(ex["gamma_history"], f"examples[{index}]['gamma_history']")
    if hist.ndim != 4 or hist.shape[1:3] != img.shape or hist.shape[0] < 1 or hist.shape[3] < 1:
        raise ValueError(
            f"examples[{index}]['gamma_history'] must have shape (T+1, H, W, K) with "
            f"(H, W) = {img.shape}; got {hist.shape}"
        )
    t = hist.shape[0] - 1
    ll = _float_array(ex["log_likelihood"], f"examples[{index}]['log_likelihood']")
    if ll.shape != (2 * t + 1,):
        raise ValueError(
            f"examples[{index}]['log_likelihood'] must have shape (2T+1,) = ({2 * t + 1},) "
            f"for T = {t} iterations; got {ll.shape}"
        )
    rank = ex["rank"]
    if (isinstance(rank, bool) or not isinstance(rank, (int, np.integer))
            or not 0 <= rank < n_scores):
        raise ValueError(f"examples[{index}]['rank'] must be an integer in [0, {n_scores}); "
                         f"got {rank!r}")
    return {"image": img, "groups": groups, "history": hist, "ll": ll[::2], "T": t,
            "rank": int(rank), "score": _number(ex["score"], f"examples[{index}]['score']")}


@_styled
def fig_rc_runs(scores, confidence, examples: Sequence[Mapping],
                iterations: Sequence[int] = (0, 1, 2, 3, 5, 7, 10), title: str | None = None):
    """Figs. 5, 10, 11: RC on a test set and a few example runs.

    Top: the scores of all images sorted in descending order (line) and the confidence of
    each image in the same order (dots); dashed lines mark the examples' ranks. Below, one
    column per example: the assignments at the given ``iterations`` (those beyond the run's
    T are skipped) and the ground truth; on the right each example's log-likelihood after
    every E-step, its rows aligned with the image rows (iterations between shown rows are
    interpolated). Each example's header, rank marker and trace share one colour.

    ``examples`` are dicts with ``image``, ``groups`` (H, W), ``gamma_history`` (T+1, H, W,
    K), ``log_likelihood`` (2T+1,), ``rank`` (position in the sorted order) and ``score``.
    """
    scores = _vector(scores, "scores")
    confidence = _vector(confidence, "confidence", scores.size)
    if not isinstance(examples, Sequence) or len(examples) == 0:
        raise ValueError("examples must be a non-empty list of dicts")
    exs = [_check_example(e, i, scores.size) for i, e in enumerate(examples)]
    t_all = min(e["T"] for e in exs)
    its = sorted({int(i) for i in iterations if 0 <= int(i) <= t_all})
    if not its:
        raise ValueError(f"none of the iterations {tuple(iterations)} is within 0..{t_all}")
    n, m = len(exs), len(its)
    rows = m + 1
    colors = _sequence_colors(n)

    left, right, ll_gap, ll_w, gap, truth_gap = 0.62, 0.42, 0.22, 1.45, 0.05, 0.12
    cell = min(0.85, (8.0 - left - right - ll_gap - ll_w - (n - 1) * gap) / n)
    grid_w = n * cell + (n - 1) * gap
    width = left + grid_w + ll_gap + ll_w + right
    title_h = 0.32 if title else 0.08
    top_h, top_axis, head_h = 1.45, 0.5, 0.36
    grid_top = title_h + top_h + top_axis + head_h
    grid_h = rows * cell + (rows - 1) * gap + truth_gap
    bottom = max(0.08, 0.5 - (cell + gap + truth_gap))
    lay = _Inches(width, grid_top + grid_h + bottom)
    if title:
        lay.text(width / 2, 0.08, title, ha="center", va="top", fontsize=10)

    # Top panel: sorted scores and confidence.
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
    ax = lay.axes(left, title_h, width - left - right, top_h)
    xs = np.arange(scores.size)
    ax.scatter(xs, confidence[order], s=3 if scores.size > 300 else 7, color="#E69F00",
               alpha=0.6, lw=0,
               label="confidence", zorder=2, rasterized=scores.size > 2000)
    ax.plot(xs, scores[order], color="0.1", lw=1.4, label="score (AMI), sorted", zorder=3)
    for e, c in zip(exs, colors):
        ax.axvline(e["rank"], color=c, lw=1.0, ls=(0, (4, 2)), zorder=1)
        ax.plot(e["rank"], scores[order][e["rank"]], "o", color=c, ms=4, zorder=4)
    low = np.nanmin(np.concatenate([scores, confidence]))
    ax.set_ylim(min(0.0, low) - 0.03, 1.03)
    ax.set_xlim(-0.5 - 0.01 * scores.size, scores.size - 0.5 + 0.01 * scores.size)
    ax.set_xlabel("test images, sorted by score")
    ax.set_ylabel("score")
    legend = ax.legend(loc="lower left", markerscale=2.5 if scores.size > 300 else 1.5,
                       frameon=True, framealpha=0.92, edgecolor="none", borderpad=0.3)
    legend.set_zorder(5)

    # Image grid.
    def row_top(r):
        return grid_top + r * (cell + gap) + (truth_gap if r == rows - 1 else 0.0)

    for j, (e, c) in enumerate(zip(exs, colors)):
        x = left + j * (cell + gap)
        lay.text(x + cell / 2, grid_top - 0.05, f"rank {e['rank']}\nscore {e['score']:.2f}",
                 ha="center", va="bottom", fontsize=7.5, color=c, linespacing=1.1)
        for r, t in enumerate(its):
            _show_rgb(lay.axes(x, row_top(r), cell, cell),
                      assignment_rgb(e["image"], e["history"][t]))
        _show_rgb(lay.axes(x, row_top(rows - 1), cell, cell),
                  groups_rgb(e["image"], e["groups"]))
    for r in range(rows):
        label = f"t = {its[r]}" if r < m else "truth"
        lay.text(left - 0.08, row_top(r) + cell / 2, label, ha="right", va="center",
                 fontsize=8)

    # Log-likelihood panel, rows aligned with the image rows.
    panel_h = m * cell + (m - 1) * gap
    ax = lay.axes(left + grid_w + ll_gap, grid_top, ll_w, panel_h)
    y_top = -cell / (2 * (cell + gap))
    ax.set_ylim(y_top + panel_h / (cell + gap), y_top)
    row_of = np.arange(m, dtype=float)
    for e, c in zip(exs, colors):
        t = np.arange(its[0], its[-1] + 1)
        y = np.interp(t, its, row_of)
        ll = e["ll"][t]
        ax.plot(ll, y, color=c, lw=1.2)
        ax.plot(e["ll"][its], row_of, "o", color=c, ms=3)
    ax.set_yticks(row_of, [str(t) for t in its])
    ax.yaxis.tick_right()
    ax.yaxis.set_label_position("right")
    ax.spines["left"].set_visible(False)
    ax.spines["right"].set_visible(True)
    ax.set_ylabel("iteration")
    ax.grid(axis="y")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=3))
    ax.set_xlabel("log-likelihood")
    return lay.fig


# --------------------------------------------------------------------------------------
# Figures 8, 9: random search
# --------------------------------------------------------------------------------------
@_styled
def fig_search(runs: Mapping[str, np.ndarray], paper: Mapping[str, float] | None = None,
               title: str | None = None):
    """Figs. 8 and 9: the score of every random-search run (jittered dots), one row per data
    set, with the paper's best score as a hollow diamond. Non-finite scores count as failed
    runs (reported in the row's note)."""
    _non_empty_mapping(runs, "runs")
    names = _ordered(runs)
    data = {n: _float_array(runs[n], f"runs[{n!r}]").ravel() for n in names}
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(8.0, 0.5 * len(names) + 1.0), layout="constrained")
    low = 0.0
    for i, name in enumerate(names):
        s = data[name]
        ok = np.isfinite(s)
        vals = s[ok]
        ax.scatter(vals, i + rng.uniform(-0.22, 0.22, vals.size), s=12,
                   color=_ds_color(name, i), alpha=0.6, lw=0, zorder=2)
        note = f"{vals.size} runs"
        if vals.size:
            low = min(low, float(vals.min()))
            note += f", best {vals.max():.2f}"
        if (~ok).sum():
            note += f", {(~ok).sum()} failed"
        ax.annotate(note, xy=(1.0, i), xycoords=("axes fraction", "data"),
                    xytext=(6, 0), textcoords="offset points", va="center", fontsize=7.5,
                    color="0.3")
        if paper is not None and name in paper:
            ax.plot(_number(paper[name], f"paper[{name!r}]"), i, marker="D", ms=6.5,
                    mfc="none", mec="black", mew=1.3, ls="none", zorder=4)
    ax.set_yticks(range(len(names)), [_ds_label(n) for n in names])
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlim(low - 0.02, 1.0)
    ax.set_xticks(np.linspace(0, 1, 11))
    ax.set_xlabel("score (mean AMI)")
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x")
    ax.set_axisbelow(True)
    handles = [Line2D([], [], marker="o", color="0.45", alpha=0.6, ls="none", ms=4,
                      label="one random-search run")]
    if paper:
        handles.append(Line2D([], [], marker="D", mfc="none", mec="black", mew=1.3,
                              ls="none", ms=6, label="paper's best"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
              ncols=len(handles), borderaxespad=0.2)
    if title:
        fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------------------
# Figure 6: loss vs score, single vs multi-object training
# --------------------------------------------------------------------------------------
@_styled
def fig_loss_vs_score(points: Mapping[str, tuple], ncols: int = 3):
    """Fig. 6a: one panel per data set, best validation loss of each DAE against its RC
    score, with a least-squares regression line (non-finite points are left out)."""
    _non_empty_mapping(points, "points")
    names = _ordered(points)
    pairs = {}
    for name in names:
        try:
            losses, scores = points[name]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"points[{name!r}] must be a pair (losses, scores)") from exc
        losses = _float_array(losses, f"losses of {name!r}").ravel()
        scores = _float_array(scores, f"scores of {name!r}").ravel()
        if losses.shape != scores.shape:
            raise ValueError(f"losses and scores of {name!r} differ in length: "
                             f"{losses.size} vs {scores.size}")
        ok = np.isfinite(losses) & np.isfinite(scores)
        pairs[name] = (losses[ok], scores[ok])
    ncols = max(1, min(int(ncols), len(names)))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(8.0, 2.35 * nrows + 0.1),
                             layout="constrained", squeeze=False)
    for idx, ax in enumerate(axes.flat):
        if idx >= len(names):
            ax.set_visible(False)
            continue
        name = names[idx]
        x, y = pairs[name]
        ax.scatter(x, y, s=12, color=_ds_color(name, idx), alpha=0.7, lw=0)
        if x.size >= 2 and np.ptp(x) > 0:
            slope, intercept = np.polyfit(x, y, 1)
            xx = np.array([x.min(), x.max()])
            ax.plot(xx, slope * xx + intercept, color="0.15", lw=1.1)
        ax.set_title(_ds_label(name))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.grid(True)
        ax.set_axisbelow(True)
        if idx % ncols == 0:
            ax.set_ylabel("score (AMI)")
        if idx // ncols == nrows - 1 or idx + ncols >= len(names):
            ax.set_xlabel("best validation loss")
    return fig


@_styled
def fig_single_vs_multi(single: Mapping[str, float], multi: Mapping[str, float],
                        paper_single: Mapping[str, float] | None = None,
                        paper_multi: Mapping[str, float] | None = None):
    """Fig. 6b: score of DAEs trained on single-object images (soft RC, filled bars) vs
    on multi-object images (hard RC, hatched bars) per data set; the paper's values as
    hollow circles."""
    if not isinstance(single, Mapping) or not isinstance(multi, Mapping):
        raise ValueError("single and multi must be dicts data set -> score")
    names = _ordered(list(single) + [n for n in multi if n not in single])
    if not names:
        raise ValueError("single and multi are both empty")
    fig, ax = plt.subplots(figsize=(8.0, 3.0), layout="constrained")
    width = 0.38
    for i, name in enumerate(names):
        color = _ds_color(name, i)
        for offset, values, papers, hatch, alpha in (
            (-width / 2, single, paper_single, None, 1.0),
            (width / 2, multi, paper_multi, "////", 0.35),
        ):
            x = i + offset
            if name in values:
                v = _number(values[name], f"score of {name!r}")
                ax.bar(x, v, width * 0.94, color=mpl.colors.to_rgba(color, alpha),
                       edgecolor=color, hatch=hatch, lw=0.8)
            else:
                ax.text(x, 0.02, "n/a", ha="center", va="bottom", fontsize=7, color="0.4")
            if papers is not None and name in papers:
                ax.plot(x, _number(papers[name], f"paper value of {name!r}"), marker="o",
                        ms=6, mfc="none", mec="black", mew=1.3, ls="none", zorder=4)
    handles = [
        Patch(facecolor="0.45", edgecolor="0.45", label="single-object training, soft RC"),
        Patch(facecolor=mpl.colors.to_rgba("0.45", 0.35), edgecolor="0.45", hatch="////",
              label="multi-object training, hard RC"),
    ]
    if paper_single or paper_multi:
        handles.append(Line2D([], [], marker="o", ms=6, mfc="none", mec="black", mew=1.3,
                              ls="none", label="paper"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
              ncols=len(handles), borderaxespad=0.2)
    ax.set_xticks(range(len(names)), [_ds_label(n) for n in names])
    ax.tick_params(axis="x", length=0)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylim(0, 1.02)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("mean AMI score")
    ax.grid(axis="y")
    ax.set_axisbelow(True)
    return fig


# --------------------------------------------------------------------------------------
# Figure 7: novel objects; Figure 1c: predictability
# --------------------------------------------------------------------------------------
@_styled
def fig_novel(images, gammas, titles: Sequence[str] | None = None):
    """Fig. 7: RC on novel objects; a row of inputs above a row of final assignments.

    ``images`` (M, H, W), ``gammas`` (M, H, W, K); ``titles`` (optional) one per image.
    """
    imgs = _float_array(images, "images")
    if imgs.ndim != 3 or 0 in imgs.shape:
        raise ValueError(f"images must have shape (M, H, W); got {imgs.shape}")
    gs = _float_array(gammas, "gammas")
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
    lay = _Inches(width, title_h + 2 * cell + gap + 0.08)
    for j in range(count):
        x = left + j * (cell + gap)
        img = _image(imgs[j], f"images[{j}]")
        _show_gray(lay.axes(x, title_h, cell, cell), img)
        _show_rgb(lay.axes(x, title_h + cell + gap, cell, cell),
                  assignment_rgb(img, gs[j]))
        if lines:
            lay.text(x + cell / 2, title_h - 0.05, "\n".join(lines[j]), ha="center",
                     va="bottom", fontsize=7, linespacing=1.05)
    for i, row in enumerate(("input", "RC result")):
        lay.text(left - 0.1, title_h + i * (cell + gap) + cell / 2, row, ha="right",
                 va="center")
    return lay.fig


@_styled
def fig_predictability(image, corrupted_alone, reconstruction_alone, corrupted_with_others,
                       reconstruction_with_others, mask):
    """Fig. 1c made live: pixels of one object are removed (outlined in red); a DAE fills
    them in from the rest of that object, but not when only the OTHER objects are visible.

    All arguments are (H, W): the full image, the object with the ``mask`` pixels removed
    and the DAE's reconstruction of it, and the other objects alone and their
    reconstruction. Grey levels 0 (white) to 1 (black).
    """
    img = _image(image)
    panels = [img]
    for value, name in ((corrupted_alone, "corrupted_alone"),
                        (reconstruction_alone, "reconstruction_alone"),
                        (corrupted_with_others, "corrupted_with_others"),
                        (reconstruction_with_others, "reconstruction_with_others")):
        panels.append(np.clip(_same_shape(value, img.shape, name), 0.0, 1.0))
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
    lay = _Inches(8.0, top + cell + 0.08)
    xs = [left]
    for step in (pair_gap, gap, pair_gap, gap):
        xs.append(xs[-1] + cell + step)
    im = None
    for x, values, text in zip(xs, panels, titles):
        ax = lay.axes(x, top, cell, cell)
        im = _show_gray(ax, values)
        _mask_outline(ax, msk)
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


def example_runs(examples: Mapping) -> list[dict]:
    """The runs stored by ``Experiment.examples`` as the dicts :func:`fig_rc_runs` takes."""
    return [{"image": examples["images"][j], "groups": examples["groups"][j],
             "gamma_history": examples["gamma_history"][:, j],
             "log_likelihood": examples["log_likelihood"][j],
             "rank": int(examples["ranks"][j]), "score": float(examples["ami"][j, -1])}
            for j in range(len(examples["ids"]))]


@_styled
def fig_training_curves(histories: Mapping[str, Mapping], ncols: int = 3):
    """Validation loss per epoch (epoch 0: before training) of one DAE per data set, with
    the kept (lowest-loss) epoch marked. ``histories``: name -> TrainHistory as a dict."""
    histories = _non_empty_mapping(histories, "histories")
    names = list(histories)
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(8.0, 2.1 * nrows + 0.2),
                             layout="constrained", squeeze=False)
    for i, (ax, name) in enumerate(zip(axes.flat, names)):
        h = histories[name]
        loss = np.asarray(h["val_loss"], dtype=float)
        ax.plot(np.arange(len(loss)), loss, color=_ds_color(name, i), marker="o", ms=2.5)
        ax.plot(h["best_epoch"], h["best_val_loss"], "D", mfc="none", mec="black")
        ax.set_title(_ds_label(name))
        ax.grid(True)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("validation loss")
    return fig


@_styled
def fig_inits(k: int, shape: tuple[int, int] = (28, 28), seed: int = 0):
    """RC's initial assignments (gaussian, uniform, spatial) on an image with every pixel on."""
    from .clustering import INITS, initial_gamma

    h, w = shape
    full = np.ones(shape)
    fig, axes = plt.subplots(1, len(INITS), figsize=(6.0, 2.3), layout="constrained")
    for ax, init in zip(axes, INITS):
        g0 = initial_gamma(k, [0], shape, init, seed=seed)[0]  # (K, H*W)
        _show_rgb(ax, assignment_rgb(full, g0.T.reshape(h, w, k)))
        ax.set_title(f'init="{init}"')
    return fig
