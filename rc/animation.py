"""RC in motion: animations of reconstruction clustering, iteration by iteration.

For a data set, :func:`compute` runs RC with its Table 1 (or 2) DAE on the first few
scored test images and keeps every iteration: the assignments gamma, each cluster's
reconstruction mu (the R-step's DAE output) and the AMI after every E-step. That run is
the expensive part and is cached (:meth:`rc.Results.cached`) under inputs holding the
DAE's training specification, the images and the RC settings. :func:`gif` turns it into
an animated GIF (matplotlib's animation module with the Pillow writer, no external
encoder) of at most :data:`MAX_BYTES`; :func:`display` wraps it for a notebook, where
myst-nb writes it as a ``.gif`` file of the built book (given the results, it caches the
drawn GIF too, so that a re-run of the book does not draw it again).

Which DAE: :func:`rc.pretrained_daes.full_scale_or_own`, the full-scale one where it is stored
(the ``full`` profile's, read without training), else the running profile's own. The RC
settings (iterations, E-step, seed) are the running profile's; the initial assignments of
image i come from the stream (seed, i), so the frames are exactly those of the
evaluation of that image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_positive_int
from .cache import Record, value_digest
from .cost import RC_FLOP
from .datasets import label
from .pretrained_daes import Pretrained, full_scale_or_own, full_scale_or_own_spec
from .specs import DataSpec, EvalSpec
from .tasks import Task

__all__ = ["MAX_BYTES", "N_IMAGES", "RCGif", "RCMovie", "compute", "display", "gif",
           "gif_task", "movie_spec", "stored_gif"]

#: Version of the recorded runs (part of their cache key).
VERSION = 1
#: Version of the drawing (part of the cached GIFs' key).
DRAWING_VERSION = 2
#: Test images per animation.
N_IMAGES = 3
#: Largest GIF :func:`gif` writes (bytes).
MAX_BYTES = 2_000_000
#: Reconstructions per row beside an image (more clusters wrap to further rows).
RECON_COLUMNS = 6


@dataclass(frozen=True)
class RCMovie(Record):
    """RC on a few test images, every iteration kept.

    ``gamma_history`` (T+1, n, H, W, K) and ``mu_history`` (T, n, H, W, K) are stored as
    float16 (drawing needs no more); ``ami`` (n, T+1) is the AMI after every E-step
    (column 0: the random start).
    """

    dataset: str
    table: int
    ids: np.ndarray
    images: np.ndarray
    groups: np.ndarray
    gamma_history: np.ndarray
    mu_history: np.ndarray
    ami: np.ndarray
    k: int
    e_step: str
    dae_profile: str     # the profile whose stored DAE ran RC
    dae_text: str        # that DAE in words (configuration, training, device)
    provenance: dict

    @property
    def n_iters(self) -> int:
        return int(self.mu_history.shape[0])

    @property
    def n_images(self) -> int:
        return int(self.ids.size)

    def caption(self) -> str:
        """Which DAE and which RC made the frames, for a caption."""
        return (f"{self.e_step.capitalize()} RC with K = {self.k} for {self.n_iters} "
                f"iterations (the {self.provenance.get('profile', '?')} profile's RC "
                f"settings) on the first {self.n_images} scored test images of "
                f"{label(self.dataset)}, with {self.dae_text}")


def movie_spec(results, dataset: str, table: int = 1, n_images: int = N_IMAGES
               ) -> tuple[Pretrained, EvalSpec]:
    """The DAE of the animation and what determines its frames: its training, the first
    ``n_images`` scored test images and the running profile's RC settings."""
    stored = full_scale_or_own(results, dataset, table)
    return stored, _movie_eval(results, dataset, table, n_images, stored.spec)


def _movie_eval(results, dataset: str, table: int, n_images: int, training) -> EvalSpec:
    """RC with the DAE of ``training`` on the first ``n_images`` scored test images."""
    n_images = check_positive_int(n_images, "n_images")
    ev = results.eval_spec(dataset, table)
    data = DataSpec(dataset, "test", min(n_images, ev.data.n), ev.data.seed)
    return EvalSpec(training, data, ev.rc, ev.average_method)


def compute(results, dataset: str, table: int = 1, n_images: int = N_IMAGES) -> RCMovie:
    """RC on the first ``n_images`` test images of ``dataset``, every iteration kept
    (cached in ``results``)."""
    stored, spec = movie_spec(results, dataset, table, n_images)

    def run() -> RCMovie:
        images, groups = results.load(spec.data)
        res = spec.rc.run(stored.dae, images, groups=groups, keep_history=True,
                          image_ids=np.arange(spec.data.n),
                          average_method=spec.average_method)
        return RCMovie(dataset, table, np.arange(spec.data.n), images, groups,
                       res.gamma_history.astype(np.float16),
                       res.mu_history.astype(np.float16), res.ami, spec.rc.k,
                       spec.rc.e_step, stored.profile, stored.describe(),
                       results.provenance())

    t = task(results, dataset, table, n_images)
    return results.cached(t.name, t.inputs, run, RCMovie, describe=t.describe)


def tasks(results) -> list[Task]:
    """The recorded runs of every data set's animation, and the GIFs of those stored (a
    GIF is keyed by its run's content: :func:`gif_task`), as tasks."""
    movies = [task(results, d) for d in results.profile.datasets]
    return movies + [gif_task(results.cache.load(m.name, m.inputs, m.value_type)) for m in movies
                     if results.has(m)]


def task(results, dataset: str, table: int = 1, n_images: int = N_IMAGES) -> Task:
    """The recorded run of an animation as a task (computed by :func:`compute`; its DAE
    is the full-scale one where that is stored, else the profile's own)."""
    spec = _movie_eval(results, dataset, table, n_images,
                       full_scale_or_own_spec(results, dataset, table))
    return Task(f"animation/{spec.name}", {"evaluation": spec.inputs(), "version": VERSION},
                RCMovie, RC_FLOP, describe=f"the RC animation of {spec.name}")


# ------------------------------------------------------------------------------ drawing
def _reconstruction_rgb(mu: np.ndarray, color) -> np.ndarray:
    """(H, W, 3): a cluster's Bernoulli means drawn in its colour on white."""
    return 1.0 - np.asarray(mu, float)[..., None] * (1.0 - np.asarray(color)[None, None])


@dataclass(frozen=True)
class _Layout:
    """Where the parts of an animation frame go (inches): per image three large cells
    (image, truth, clusters), then the K reconstructions in a grid of at most
    :data:`RECON_COLUMNS` columns, as tall as a large cell; the AMI panel on the right."""

    big: float          # side of a large cell
    cell: float         # side of a reconstruction cell
    sub_cols: int
    width: float
    height: float
    left: float = 0.62
    gap: float = 0.04
    group_gap: float = 0.14
    right: float = 0.12
    ami_w: float = 1.35
    head: float = 0.5
    row_gap: float = 0.08

    def x_of(self, column: int) -> float:
        return self.left + column * (self.big + self.gap) + self.group_gap * (column >= 2)

    @property
    def recon_left(self) -> float:
        return self.left + 3 * self.big + 2 * self.gap + 2 * self.group_gap

    def top(self, row: int) -> float:
        return self.head + row * (self.big + self.row_gap)


def _layout(n: int, k: int) -> _Layout:
    sub_rows, sub_cols = -(-k // RECON_COLUMNS), min(k, RECON_COLUMNS)
    left, gap, group_gap, right, ami_w, ami_gap = 0.62, 0.04, 0.14, 0.12, 1.35, 0.55
    fixed = (left + right + ami_w + ami_gap + 2 * group_gap + 2 * gap + 3 * (sub_rows - 1)
             * gap + (sub_cols - 1) * gap)
    cell = min(0.8 / sub_rows, (8.0 - fixed) / (3 * sub_rows + sub_cols))
    big = sub_rows * cell + (sub_rows - 1) * gap
    head, foot, row_gap = 0.5, 0.45, 0.08
    recon_left = left + 3 * big + 2 * gap + 2 * group_gap
    width = recon_left + sub_cols * cell + (sub_cols - 1) * gap + ami_gap + ami_w + right
    height = head + n * big + (n - 1) * row_gap + foot
    return _Layout(big, cell, sub_cols, width, height)


def _image_rows(lay, g: _Layout, movie: RCMovie, blank, row_colors):
    """Per image: its picture, truth, the clusters' and reconstructions' images (to be
    redrawn per frame) and the text of its AMI."""
    from .plots import groups_rgb, show_rgb

    for c, text in ((0, "image"), (1, "truth"), (2, "clusters")):
        lay.text(g.x_of(c) + g.big / 2, g.head - 0.05, text, ha="center", va="bottom",
                 fontsize=8)
    lay.text(g.recon_left + (g.sub_cols * g.cell + (g.sub_cols - 1) * g.gap) / 2,
             g.head - 0.05, "each cluster's reconstruction", ha="center", va="bottom",
             fontsize=8)
    assign, recon, scores = [], [], []
    for j in range(movie.n_images):
        top = g.top(j)
        scores.append(lay.text(g.left - 0.08, top + g.big / 2, "", ha="right", va="center",
                               fontsize=7.5, color=row_colors[j]))
        show_rgb(lay.axes(g.x_of(0), top, g.big, g.big),
                 np.repeat(1.0 - movie.images[j][..., None], 3, axis=2))
        show_rgb(lay.axes(g.x_of(1), top, g.big, g.big),
                 groups_rgb(movie.images[j], movie.groups[j]))
        ax = lay.axes(g.x_of(2), top, g.big, g.big)
        show_rgb(ax, blank)
        assign.append(ax.images[0])
        row = []
        for c in range(movie.k):
            r, q = divmod(c, RECON_COLUMNS)
            ax = lay.axes(g.recon_left + q * (g.cell + g.gap), top + r * (g.cell + g.gap),
                          g.cell, g.cell)
            show_rgb(ax, blank)
            row.append(ax.images[0])
        recon.append(row)
    return assign, recon, scores


def _ami_panel(lay, g: _Layout, movie: RCMovie, row_colors):
    """The AMI of every image over the iterations; returns the current-iteration marker
    and dots (moved per frame)."""
    import matplotlib.pyplot as plt

    n, t_max = movie.n_images, movie.n_iters
    ax = lay.axes(g.width - g.right - g.ami_w, g.head, g.ami_w,
                  n * g.big + (n - 1) * g.row_gap)
    its = np.arange(t_max + 1)
    for j in range(n):
        ax.plot(its, movie.ami[j], color=row_colors[j], lw=1.2)
    marker = ax.axvline(0, color="0.3", lw=0.8, ls=(0, (3, 2)))
    dots = ax.scatter(np.zeros(n), movie.ami[:, 0], c=row_colors, s=14, zorder=3)
    ax.set_xlim(-0.3, t_max + 0.3)
    low = float(np.nanmin(movie.ami))
    ax.set_ylim(min(0.0, low) - 0.03, 1.03)
    ax.set_xlabel("iteration")
    ax.set_ylabel("AMI")
    ax.xaxis.set_major_locator(plt.MaxNLocator(nbins=4, integer=True))
    return marker, dots


def _figure(movie: RCMovie):
    """The figure of frame 0 and a function that redraws it for iteration t."""
    from .plots import InchLayout, assignment_rgb, cluster_colors, sequence_colors

    n, k, t_max = movie.n_images, movie.k, movie.n_iters
    colors = cluster_colors(k)
    blank = np.ones(movie.images.shape[1:] + (3,))
    g = _layout(n, k)
    lay = InchLayout(g.width, g.height)
    title = lay.text(g.width / 2, 0.06, "", ha="center", va="top", fontsize=10)
    row_colors = sequence_colors(n)
    assign, recon, scores = _image_rows(lay, g, movie, blank, row_colors)
    marker, dots = _ami_panel(lay, g, movie, row_colors)

    def update(t: int):
        title.set_text(f"{label(movie.dataset)}: {movie.e_step} RC, K = {k}, "
                       f"iteration {t} of {t_max}")
        for j in range(n):
            gamma = movie.gamma_history[t, j].astype(float)
            assign[j].set_data(assignment_rgb(movie.images[j], gamma))
            for c in range(k):
                recon[j][c].set_data(blank if t == 0 else _reconstruction_rgb(
                    movie.mu_history[t - 1, j, ..., c], colors[c]))
            scores[j].set_text(f"AMI\n{movie.ami[j, t]:.2f}")
        marker.set_xdata([t, t])
        dots.set_offsets(np.column_stack([np.full(n, t), movie.ami[:, t]]))
        return []

    update(0)
    return lay.fig, update


def gif(movie: RCMovie, fps: float = 2.0, hold: int = 3, dpi: int = 100) -> bytes:
    """The animation as GIF bytes: one frame per iteration, each drawn once, ``fps``
    frames a second, the first and the last shown ``hold`` frames longer (by their
    durations); at most :data:`MAX_BYTES` (drawn again at a lower resolution until it
    fits)."""
    if not fps > 0:
        raise ValueError(f"fps must be positive; got {fps!r}")
    hold = check_positive_int(hold, "hold", minimum=0)
    dpi = check_positive_int(dpi, "dpi", minimum=20)
    for resolution in (dpi, int(dpi * 0.8), int(dpi * 0.64), int(dpi * 0.5)):
        data = _gif_bytes(_frames(movie, resolution), fps, hold)
        if len(data) <= MAX_BYTES:
            return data
    raise RuntimeError(f"the animation of {movie.dataset} does not fit in {MAX_BYTES:,} "
                       f"bytes even at {resolution} dpi")


def _frames(movie: RCMovie, dpi: int) -> list:
    """Every iteration's picture (0 to T) as a PIL image, drawn at ``dpi``."""
    import matplotlib.pyplot as plt
    from PIL import Image

    from .plots import style

    frames = []
    with style():
        fig, update = _figure(movie)
        try:
            fig.set_dpi(dpi)
            for t in range(movie.n_iters + 1):
                update(t)
                fig.canvas.draw()
                frames.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba()))
                              .convert("RGB"))
        finally:
            plt.close(fig)
    return frames


def _gif_bytes(frames: list, fps: float, hold: int) -> bytes:
    """``frames`` as a looping GIF, the first and the last held ``hold`` frames longer."""
    import io

    step = 1000.0 / fps
    durations = [step] * len(frames)
    durations[0] = durations[-1] = step * (1 + hold)
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:],
                   duration=[round(d) for d in durations], loop=0)
    return out.getvalue()


@dataclass(frozen=True)
class RCGif(Record):
    """A drawn animation: the bytes of its GIF file (as uint8)."""

    data: np.ndarray


def gif_task(movie: RCMovie, **settings) -> Task:
    """The GIF of a recorded run (:func:`gif` with ``settings``) as a task, keyed by the
    run's content, the drawing's settings, the matplotlib version that draws it and
    :data:`DRAWING_VERSION`; its value is an :class:`RCGif`."""
    import functools

    import matplotlib

    arrays, fields = movie.to_record()
    fields = {k: v for k, v in fields.items() if k != "provenance"}
    inputs = {"movie": value_digest(fields, arrays), "settings": settings,
              "matplotlib": matplotlib.__version__, "version": DRAWING_VERSION}
    return Task(f"animation/{movie.dataset}-table{movie.table}-gif", inputs, RCGif,
                work=functools.partial(_draw, movie, settings), gpu=False,
                describe=f"the GIF of the RC animation of {movie.dataset}")


def _draw(movie: RCMovie, settings: dict, context) -> RCGif:
    return RCGif(np.frombuffer(gif(movie, **settings), np.uint8))


def stored_gif(results, movie: RCMovie, **settings) -> bytes:
    """:func:`gif`, drawn once and stored in ``results`` (:func:`gif_task`); where
    ``results`` only reads stored results and the GIF is not among them, drawn and not
    stored (drawing is not training)."""
    drawing = gif_task(movie, **settings)
    if not results.cache.may_compute and not results.has(drawing):
        return gif(movie, **settings)
    return results.get(drawing).data.tobytes()


def display(movie: RCMovie, results=None, **kwargs):
    """The GIF (:func:`gif`, keyword arguments passed on) as an ``IPython.display.Image``
    (mime type image/gif) for a notebook; with ``results``, drawn once and then loaded from
    its results."""
    from IPython.display import Image

    data = gif(movie, **kwargs) if results is None else stored_gif(results, movie, **kwargs)
    return Image(data=data, format="gif")

