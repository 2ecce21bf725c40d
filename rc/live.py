"""Live sessions: the book's chapters opened as notebooks (on Binder or at home).

Two things a reader of a live chapter needs:

* :func:`profile_line` (:func:`show_profile` displays it) — the one line at the top of
  every chapter that says which profile it runs, where that choice comes from (the
  chapter's parameters cell, a launch such as Binder's through ``RC_PROFILE``
  (:func:`rc.config.launch`), or the book's build through papermill) and how to change
  it;
* :func:`bind` — RC on one image of the reader's choice (a test image of a data set, a
  small drawing as a numpy array, or a PNG file) with the committed full-scale DAE of
  that data set, every iteration kept for the animation; seconds on one core, and
  nothing is ever trained::

      from rc import live
      run = live.bind("shapes", image=3, k=3)    # test image 3 of Shapes, K = 3
      run.show()                                  # the animation and the scores

Wrong inputs (an unknown data set, an image of the wrong size, K < 1, ...) raise
ValueError in one sentence that names the setting and what it takes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._checks import check_choice, check_positive_int
from .config import launched
from .datasets import DATASETS, dataset_info, label
from .report import Markdown

__all__ = ["LiveRun", "MAX_ITERS", "bind", "launch_origin", "missing_result",
           "profile_line", "show_profile"]

#: Most RC iterations :func:`bind` runs (more add frames, not insight, and time).
MAX_ITERS = 50


# ------------------------------------------------------------------------ the profile line
def _papermill_parameters() -> bool:
    """Whether papermill injected parameters into this kernel (its cell, which starts
    with ``# Parameters``, is in IPython's input history)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    history = shell.user_ns.get("In", []) if shell is not None else []
    return any(str(cell).startswith("# Parameters\n") for cell in history)


def launch_origin(profile: str, may_compute: bool) -> str:
    """Who chose ``(profile, may_compute)``: ``"papermill"`` (parameters injected by the book's
    build), ``"launch"`` (``RC_PROFILE``, :func:`rc.config.launch`) or ``"cell"`` (the parameters
    cell as written)."""
    if _papermill_parameters():
        return "papermill"
    last = launched()
    if last and (last["profile"], last["may_compute"]) == (profile, bool(may_compute)):
        return last["origin"]
    return "cell"


def profile_line(results) -> Markdown:
    """One line for the top of a chapter: the profile ``results`` runs, whether it computes
    what is missing or only reads stored results, where the choice comes from
    (:func:`launch_origin`) and how to change it."""
    name = results.profile.name
    may_compute = bool(results.cache.may_compute)
    origin = launch_origin(name, may_compute)
    what = ("computes what `results/" + name + "/` lacks" if may_compute
            else "reads the stored results only, nothing is trained")
    if origin == "papermill":
        source = f"chosen when this page was built (`make book PROFILE={name}`)"
        change = ("another profile: `make book PROFILE=ci|default|full|paper`, or "
                  "`profile` in the first cell of the notebook")
    elif origin == "launch":
        source = "chosen by the launch (`RC_PROFILE` in `binder/start`)"
        change = ('to change it, set `profile = "ci"` in the first cell and re-run: a toy '
                  "version in a minute or two, whose numbers mean nothing")
    else:
        source = "set in the first cell of this notebook"
        change = ("to change it, edit `profile` there (`ci`: a toy run in minutes; "
                  "`full`: the committed full-scale results)")
    return Markdown(f"**Profile `{name}`** ({what}): {source}; {change}.")


def show_profile(results) -> None:
    """Display :func:`profile_line` in a notebook (the first lines of every chapter).

    Where ``results`` only reads stored results and the book's build did not choose it (a
    launch, or a reader's notebook), a cell that needs a result that is not stored then
    says so in a few lines (:func:`missing_result`) instead of a traceback; in the
    book's build it still fails the run."""
    from IPython import get_ipython
    from IPython.display import display

    display(profile_line(results))
    shell = get_ipython()
    if shell is not None and not results.cache.may_compute \
            and launch_origin(results.profile.name, False) != "papermill":
        from .cache import MissingResultError

        shell.set_custom_exc((MissingResultError,), _missing_result_handler)


def missing_result(error: Exception) -> Markdown:
    """What a reader sees instead of the traceback of a
    :class:`~rc.cache.MissingResultError`: which result is not stored, and the smallest
    honest alternative."""
    what = str(error).split(" is not in ")[0].split(";")[0].strip()
    return Markdown(
        f"**Not stored: {what}.** This cell needs a result that is not committed with the "
        "book (computing it takes hours or more, see `make full` in the README), so it "
        'stops here; nothing was trained. To run a toy version in a minute or two, set '
        '`profile = "ci"` in the first cell and run the chapter again: its numbers say '
        "nothing about the paper.")


def _missing_result_handler(shell, etype, value, tb, tb_offset=None):
    from IPython.display import display

    display(missing_result(value))
    return []


# ------------------------------------------------------------------------ RC on one image
@dataclass(frozen=True)
class LiveRun:
    """What :func:`bind` did: the run, every iteration kept (``movie``, an
    :class:`rc.animation.RCMovie` of one image), where the image came from, what its
    "truth" is and how long RC took (``seconds``, loading and drawing excluded)."""

    movie: object
    source: str
    truth: str
    seconds: float

    @property
    def ami(self) -> float:
        """The AMI between the clusters and the truth after the last iteration."""
        return float(self.movie.ami[0, -1])

    @property
    def labels(self) -> np.ndarray:
        """(H, W) the cluster that holds each pixel at the end (-1: off pixels)."""
        gamma = self.movie.gamma_history[-1, 0].astype(np.float32)
        return np.where(self.movie.images[0] > 0.5, gamma.argmax(-1), -1)

    def summary(self) -> Markdown:
        """One sentence: what ran on what, and how well it bound it (no time: the same
        inputs give the same sentence)."""
        m = self.movie
        ami = "undefined (no object pixels)" if np.isnan(self.ami) else f"{self.ami:.2f}"
        return Markdown(
            f"{m.e_step.capitalize()} RC with K = {m.k} for {m.n_iters} iterations on "
            f"{self.source}, with {m.dae_text}: AMI against {self.truth} {ami}.")

    def gif(self, fps: float = 2.0, hold: int = 3, dpi: int = 80) -> bytes:
        """The animation as GIF bytes (:func:`rc.animation.gif`, at a lower resolution
        than the book's: a few seconds)."""
        from .animation import gif

        return gif(self.movie, fps=fps, hold=hold, dpi=dpi)

    def show(self) -> None:
        """Display the summary and the animation in a notebook."""
        from IPython.display import Image, display

        display(self.summary())
        display(Image(data=self.gif(), format="gif"))


_DAES: dict = {}


def _dae(dataset: str, table: int, results):
    """The DAE that runs RC, loaded once per session: the committed full-scale one
    (:func:`rc.pretrained`); with ``results``, :func:`rc.pretrained_daes.full_scale_or_own` (the
    full-scale one under its results folder where stored, else its profile's own)."""
    from .pretrained_daes import full_scale_or_own, pretrained

    key = (dataset, table) if results is None else (dataset, table, str(results.cache.root),
                                                 results.profile)
    if key not in _DAES:
        _DAES[key] = (pretrained(dataset, table, device="cpu") if results is None
                      else full_scale_or_own(results, dataset, table))
    return _DAES[key]


def _from_test_set(dataset: str, index, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    from .datasets import load_dataset

    size = dataset_info(dataset).split_sizes["test"]
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) \
            or not 0 <= index < size:
        raise ValueError(f"image must be the index of a test image of {label(dataset)} "
                         f"(0 to {size - 1}), a 2-D array or a PNG path; got {index!r}")
    images, groups = load_dataset(dataset, "test", seed=seed, n=int(index) + 1)
    return images[-1], groups[-1], f"test image {int(index)} of {label(dataset)}"


def _drawn(image, dataset: str, threshold: float, ink: str) -> tuple[np.ndarray, str]:
    """A drawing (array or image file) as a binary (H, W) image of the DAE's size."""
    from .cli import BindError, binarise, read_grey

    shape = tuple(dataset_info(dataset).shape)
    if isinstance(image, (str, Path)):
        try:
            grey = read_grey(image)
        except BindError as exc:
            raise ValueError(str(exc)) from None
        source = f"the image {Path(image).name}"
    else:
        try:
            grey = np.asarray(image, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"image must be a test image's index, a 2-D array of numbers "
                             f"or a PNG path; got {type(image).__name__}") from None
        if grey.ndim != 2:
            raise ValueError(f"a drawn image must be a 2-D array (height, width) of "
                             f"{shape[0]}x{shape[1]} for {label(dataset)}; got shape "
                             f"{grey.shape}")
        if not np.isfinite(grey).all() or grey.min() < 0 or grey.max() > 1:
            raise ValueError("a drawn image's values must be numbers from 0 (off) to 1 (on)")
        source = "your drawing"
    if grey.shape != shape:
        raise ValueError(f"the DAE of {label(dataset)} takes {shape[0]}x{shape[1]} images; "
                         f"the image is {grey.shape[0]}x{grey.shape[1]}")
    return binarise(grey, threshold, ink), source


def _chosen_image(dataset: str, image, groups, threshold: float, ink: str):
    """The binary image to bind, its groups, where it comes from, what its groups are and
    its index for the random start."""
    if isinstance(image, (int, np.integer)) and not isinstance(image, bool):
        if groups is not None:
            raise ValueError("groups is for a drawing; a test image has its own")
        x, truth_groups, source = _from_test_set(dataset, image, 0)
        truth, image_id = "its true objects", int(image)
    elif isinstance(image, bool) or image is None:
        raise ValueError(f"image must be a test image's index, a 2-D array or a PNG path; "
                         f"got {image!r}")
    else:
        x, source = _drawn(image, dataset, threshold, ink)
        image_id = 0
        if groups is None:
            from scipy import ndimage

            truth_groups = ndimage.label(x > 0.5, structure=np.ones((3, 3)))[0]
            truth = "its connected ink regions (a drawing has no true objects)"
        else:
            truth_groups = np.asarray(groups)
            if truth_groups.shape != x.shape or not np.issubdtype(truth_groups.dtype,
                                                                   np.integer):
                raise ValueError(f"groups must be integers of the image's shape {x.shape}")
            truth = "the groups you gave"
    if not (x > 0.5).any():
        raise ValueError(f"{source} has no on pixels: nothing to bind")
    return x, truth_groups, source, truth, image_id


def bind(dataset: str = "shapes", image=0, k: int | None = None, n_iters: int = 10, *,
         table: int = 1, e_step: str | None = None, seed: int = 0, groups=None,
         threshold: float = 0.5, ink: str = "light", results=None) -> LiveRun:
    """RC on one image with the stored Table ``table`` DAE of ``dataset``.

    Parameters
    ----------
    dataset : str
        One of :data:`rc.DATASETS`: whose DAE runs RC (and whose test set ``image``
        indexes).
    image : int, array_like or path
        The index of a test image of ``dataset``; or a drawing, a 2-D array of values in
        [0, 1] (on where above ``threshold``, or below it with ``ink="dark"``) of the
        data set's image size (28x28, 48x48 for Multi-MNIST, 20x20 for Simple
        Superposition); or the path of an image file of that size (read as
        ``python -m rc bind`` reads it).
    k : int, optional
        Clusters (default: the data set's number of objects); at least 1 and at most the
        image's on pixels.
    n_iters : int
        RC iterations, 1 to :data:`MAX_ITERS`.
    table : int
        1: the DAE trained on single objects (soft RC); 2: on several (hard RC).
    e_step : str, optional
        ``"soft"`` or ``"hard"`` (default: the table's).
    seed : int
        Seed of the random start (image index ``image`` for a test image, 0 otherwise).
    groups : array_like, optional
        The true objects of a drawing (H, W ints, 0 background); default its connected
        ink regions (8-neighbourhood), a stand-in since a drawing has no truth.
    results : rc.Results, optional
        Without it the DAE is the committed full-scale one (:func:`rc.pretrained`);
        with it, that one where the folder of ``results`` holds it, else the profile's
        own (:func:`rc.pretrained_daes.full_scale_or_own`, trained first if missing and
        ``results`` may compute).

    Returns
    -------
    LiveRun
        The run (every iteration), for :meth:`LiveRun.show`.

    Raises
    ------
    ValueError
        A bad input, named in one sentence.
    rc.cache.MissingResultError
        The DAE is not stored (nothing is trained here).
    """
    from . import animation
    from .clustering import E_STEPS, reconstruction_clustering

    check_choice(dataset, "data set", DATASETS)
    n_iters = check_positive_int(n_iters, "n_iters")
    if n_iters > MAX_ITERS:
        raise ValueError(f"n_iters must be at most {MAX_ITERS}; got {n_iters}")
    if k is not None:
        k = check_positive_int(k, "k")
    check_choice(ink, "ink", ("light", "dark"))
    if e_step is not None:
        check_choice(e_step, "e_step", E_STEPS)
    seed = check_positive_int(seed, "seed", minimum=0)
    x, truth_groups, source, truth, image_id = _chosen_image(dataset, image, groups,
                                                             threshold, ink)
    stored = _dae(dataset, table, results)
    k, on = stored.k if k is None else k, int((x > 0.5).sum())
    if k > on:
        raise ValueError(f"k must be at most the image's {on} on pixels; got {k}")
    e_step = e_step or stored.e_step
    start = time.perf_counter()
    res = reconstruction_clustering(stored.dae, x[None], k=k, n_iters=n_iters, e_step=e_step,
                                    seed=seed, groups=truth_groups[None], keep_history=True,
                                    image_ids=np.array([image_id]))
    seconds = time.perf_counter() - start
    movie = animation.RCMovie(
        dataset, int(table), np.array([image_id]), x[None], truth_groups[None].astype(np.int64),
        res.gamma_history.astype(np.float16), res.mu_history.astype(np.float16), res.ami,
        k, e_step, stored.profile, stored.describe(), {"profile": stored.profile})
    return LiveRun(movie, source, truth, seconds)
