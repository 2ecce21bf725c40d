"""One plotting style for every figure of the book, and the pieces the figures share.

The figures themselves live with the paper element they reproduce (``rc.paper.fig4a.plot``,
...; see :mod:`rc.paper`): each takes plain numpy arrays / dicts and returns a
:class:`matplotlib.figure.Figure` made with pyplot; nothing is shown or saved -- call
``fig.savefig(path)`` and ``plt.close(fig)`` yourself. This module holds what they share:
the style (:data:`STYLE`, applied only while a figure is built through :func:`styled`, so
importing changes no global setting; :func:`style` applies it to figures of your own),
the colours, the drawing of assignments and ground truths, the inch-based layout helper
and the validation of figure inputs.

Colours are fixed across the book: :func:`cluster_colors` for clusters / objects (a
colour-blind-friendly qualitative palette of 12) and :data:`DATASET_COLORS` for the six
data sets (their names: :func:`rc.datasets.label`). Binary images are drawn black on
white; cluster assignments colour every on-pixel by ``sum_k gamma_k * color_k``
(:func:`assignment_rgb`), so soft assignments look mixed; ground truth colours each object,
with overlap pixels dark grey (:func:`groups_rgb`).

Image figures are laid out in inches (pixel-exact, square cells); the figures are sized
for a book page about 8 inches wide.
"""
from __future__ import annotations

import colorsys
import functools
from collections.abc import Mapping, Sequence
from contextlib import contextmanager

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgb

from .datasets import DATASETS, label

__all__ = [
    "DATASET_COLORS", "OVERLAP_COLOR", "STYLE", "InchLayout", "assignment_rgb",
    "checked_floats", "checked_gamma", "checked_groups", "checked_image", "checked_mapping",
    "checked_number", "checked_same_shape", "checked_vector", "cluster_colors",
    "dataset_color", "dataset_label", "fig_inits", "grey_mappable", "groups_rgb",
    "k_colors", "mask_outline", "not_computed", "ordered_names", "sequence_colors",
    "show_gray", "show_rgb", "style", "styled",
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


def dataset_label(name: str) -> str:
    return label(name)


def dataset_color(name: str, index: int = 0) -> str:
    if name in DATASET_COLORS:
        return DATASET_COLORS[name]
    return ("0.35", "0.55", "#777777", "0.25")[index % 4]


def ordered_names(names) -> list:
    """The known data sets in the book's order, then the others in their given order."""
    names = list(names)
    known = [n for n in DATASETS if n in names]
    return known + [n for n in names if n not in DATASETS]


def k_colors(ks: Sequence[int]) -> dict[int, tuple]:
    """A colour per number of clusters, dark to light by K (same for figures 4a and 4b)."""
    ks = sorted(ks)
    cmap = mpl.colormaps["viridis"]
    positions = np.linspace(0.08, 0.82, len(ks)) if len(ks) > 1 else [0.35]
    return {k: cmap(p) for k, p in zip(ks, positions)}


def sequence_colors(n: int) -> list:
    """Colours for n ordered items (example runs): dark to light."""
    cmap = mpl.colormaps["plasma"]
    return [cmap(p) for p in (np.linspace(0.0, 0.78, n) if n > 1 else [0.0])]


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------
def checked_floats(a, name: str) -> np.ndarray:
    try:
        arr = np.asarray(a, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array; got {type(a).__name__}") from exc
    return arr


def checked_image(a, name: str = "image") -> np.ndarray:
    arr = checked_floats(a, name)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty 2-D (H, W) array; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must contain only finite values")
    return arr


def checked_same_shape(a, shape: tuple[int, int], name: str) -> np.ndarray:
    arr = checked_floats(a, name)
    if arr.shape != shape:
        raise ValueError(f"{name} must have the image's shape {shape}; got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must contain only finite values")
    return arr


def checked_gamma(g, shape: tuple[int, int], name: str = "gamma") -> np.ndarray:
    arr = checked_floats(g, name)
    if arr.ndim != 3 or arr.shape[:2] != tuple(shape) or arr.shape[2] < 1:
        raise ValueError(
            f"{name} must have shape (H, W, K) = ({shape[0]}, {shape[1]}, K) matching the "
            f"image; got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must contain only finite values")
    return arr


def checked_groups(groups, shape: tuple[int, int]) -> np.ndarray:
    arr = np.asarray(groups)
    if arr.shape != tuple(shape):
        raise ValueError(f"groups must have the image's shape {tuple(shape)}; got {arr.shape}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"groups must be non-negative integers; got dtype {arr.dtype}")
    if not np.isfinite(arr).all() or (arr < 0).any() or (arr != np.round(arr)).any():
        raise ValueError("groups must be non-negative integers (0 = background / overlap)")
    return arr.astype(np.int64)


def checked_vector(a, name: str, length: int | None = None) -> np.ndarray:
    arr = checked_floats(a, name)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array; got shape {arr.shape}")
    if length is not None and arr.size != length:
        raise ValueError(f"{name} must have {length} entries (one per image); got {arr.size}")
    return arr


def checked_number(x, name: str) -> float:
    try:
        value = float(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number; got {x!r}") from exc
    return value


def checked_mapping(m, name: str) -> Mapping:
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
    img = checked_image(image)
    g = np.clip(checked_gamma(gamma, img.shape), 0.0, None)
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
    img = checked_image(image)
    grp = checked_groups(groups, img.shape)
    rgb = np.broadcast_to(_BACKGROUND, img.shape + (3,)).copy()
    rgb[(img > 0.5) & (grp == 0)] = OVERLAP_COLOR
    n = int(grp.max())
    if n > 0:
        colors = cluster_colors(n)
        obj = grp > 0
        rgb[obj] = colors[grp[obj] - 1]
    return rgb


def styled(func):
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


class InchLayout:
    """Place axes and text in inches measured from the top-left corner of a figure."""

    def __init__(self, width: float, height: float):
        self.w, self.h = float(width), float(height)
        self.fig = plt.figure(figsize=(self.w, self.h))

    def axes(self, left, top, width, height, **kwargs):
        rect = (left / self.w, 1.0 - (top + height) / self.h, width / self.w, height / self.h)
        return self.fig.add_axes(rect, **kwargs)

    def text(self, x, y, s, **kwargs):
        return self.fig.text(x / self.w, 1.0 - y / self.h, s, **kwargs)


@styled
def not_computed(text: str, height: float = 1.2):
    """A figure that stands in for one this profile does not compute: ``text`` in a frame."""
    fig, ax = plt.subplots(figsize=(8.0, height))
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, color="0.3")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("0.8")
    return fig


def _frame(ax, color="0.7") -> None:
    """Image axes: no ticks, a thin light frame."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_edgecolor(color)
        spine.set_linewidth(0.6)


def show_rgb(ax, rgb) -> None:
    ax.imshow(rgb, interpolation="nearest")
    _frame(ax)


def grey_mappable():
    return mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0.0, 1.0), cmap="Greys")


def show_gray(ax, values):
    im = ax.imshow(values, cmap="Greys", vmin=0.0, vmax=1.0, interpolation="nearest")
    _frame(ax)
    return im


def mask_outline(ax, mask: np.ndarray, color="#E8161B", lw=1.3) -> None:
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


# --------------------------------------------------------------------------------------
# Figure 2b: one RC iteration
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Figure 4: scores by K and likelihood convergence
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Figures 5, 10, 11: RC runs
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Figures 8, 9: random search
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Figure 6: loss vs score, single vs multi-object training
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Figure 7: novel objects; Figure 1c: predictability
# --------------------------------------------------------------------------------------


@styled
def fig_inits(k: int, shape: tuple[int, int] = (28, 28), seed: int = 0):
    """RC's initial assignments (gaussian, uniform, spatial) on an image with every pixel on."""
    from .clustering import INITS, initial_gamma

    h, w = shape
    full = np.ones(shape)
    fig, axes = plt.subplots(1, len(INITS), figsize=(6.0, 2.3), layout="constrained")
    for ax, init in zip(axes, INITS):
        g0 = initial_gamma(k, [0], shape, init, seed=seed)[0]  # (K, H*W)
        show_rgb(ax, assignment_rgb(full, g0.T.reshape(h, w, k)))
        ax.set_title(f'init="{init}"')
    return fig
