"""The command line: ``python -m rc bind IMAGE.png --model multi_mnist --out groups.png``.

``bind`` runs reconstruction clustering with a stored trained DAE (:func:`rc.pretrained`,
nothing is trained) on an image of your own:

1. the PNG (or any image Pillow reads) is read and turned into grey levels in [0, 1]
   (colour by luminance; transparent pixels count as background; of an animated or
   multi-page image only the first frame, with a note saying so);
2. it is binarised: a pixel is on where its grey level is above ``--threshold`` (light
   objects on a dark background, like the data sets) or, with ``--ink dark``, below it;
3. its size must be the DAE's input size (e.g. 48x48 for Multi-MNIST); ``--resize``
   scales it to that size first (bilinear, before binarising) instead of stopping. The
   aspect ratio is not kept: an image of other proportions is stretched, and a note
   says so;
4. K (``--k``, else the data set's) may not exceed the number of on pixels;
5. RC runs (soft by default, ``--e-step hard``) for ``--iterations`` iterations from the
   random start of ``--seed``;
6. the image coloured by group (the book's cluster colours, soft assignments mixed) is
   written to ``--out`` and the per-pixel assignments with every setting used to
   ``--json`` (default: ``--out`` with the suffix ``.json``); neither may be the input
   image, nor the two the same file.

Problems with the input (a missing, empty or unreadable file, a wrong size, an image
that is all one value after binarising, more groups than on pixels, an output that
cannot be written or would overwrite the input) end the command with a one-line message
on stderr and exit status 1; usage errors exit with 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .datasets import DATASETS, dataset_info, label

__all__ = ["BindError", "binarise", "main", "read_grey"]

PROG = "python -m rc"
#: The grey level that separates on from off pixels unless ``--threshold`` says otherwise.
THRESHOLD = 0.5
#: Default magnification of the written picture (nearest neighbour).
SCALE = 8


class BindError(Exception):
    """A problem with the user's input or output, reported in one line."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (and the usual exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# ------------------------------------------------------------------------------ the image
def read_grey(path: Path | str, background: float = 0.0) -> np.ndarray:
    """The image at ``path`` as grey levels in [0, 1], (H, W) float64.

    Colour images are converted by luminance; transparent pixels are blended with
    ``background`` (the grey level of the background); of an animated or multi-page image
    the first frame is read. Raises :class:`BindError` for a missing, empty or unreadable
    file.
    """
    return _read(path, background).grey


class _Image(NamedTuple):
    grey: np.ndarray
    frames: int          # frames of an animated (or pages of a multi-page) image
    transparent: bool    # whether some pixel is (partly) transparent


def _read(path: Path | str, background: float) -> _Image:
    """:func:`read_grey`, with the frame count and whether the image has transparency."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise BindError(f"{path}: no such file")
    if path.is_dir():
        raise BindError(f"{path}: is a folder, not an image file")
    if path.stat().st_size == 0:
        raise BindError(f"{path}: the file is empty")
    try:
        with Image.open(path) as im:
            im.load()
            frames = int(getattr(im, "n_frames", 1))
            if im.width == 0 or im.height == 0:
                raise BindError(f"{path}: the image has no pixels ({im.width}x{im.height})")
            alpha = None
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P"
                                                   and "transparency" in im.info):
                im = im.convert("RGBA")
                alpha = np.asarray(im.getchannel("A"), dtype=np.float64) / 255.0
            if im.mode in ("I", "I;16", "I;16B", "I;16L"):
                arr = np.asarray(im, dtype=np.float64)
                grey = arr / (65535.0 if arr.max() > 255 else 255.0)
            elif im.mode == "F":
                grey = np.asarray(im, dtype=np.float64)
            else:
                grey = np.asarray(im.convert("L"), dtype=np.float64) / 255.0
    except BindError:
        raise
    except UnidentifiedImageError:
        raise BindError(f"{path}: not an image file that Pillow can read") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise BindError(f"{path}: the image cannot be decoded ({exc})") from None
    if not np.isfinite(grey).all():
        raise BindError(f"{path}: the image holds values that are not finite numbers")
    grey = np.clip(grey, 0.0, 1.0)
    if alpha is not None:
        grey = alpha * grey + (1.0 - alpha) * background
    return _Image(grey, frames, alpha is not None and bool((alpha < 1.0).any()))


def _resized(grey: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    im = Image.fromarray(grey.astype(np.float32), mode="F")
    return np.asarray(im.resize((shape[1], shape[0]), Image.Resampling.BILINEAR),
                      dtype=np.float64).clip(0.0, 1.0)


def binarise(grey: np.ndarray, threshold: float = THRESHOLD, ink: str = "light"
             ) -> np.ndarray:
    """On pixels (1.0) where ``grey`` is above ``threshold`` (``ink="light"``) or below it
    (``ink="dark"``), else 0.0; float32."""
    on = grey > threshold if ink == "light" else grey < threshold
    return on.astype(np.float32)


# ------------------------------------------------------------------------------ bind
def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Reconstruction clustering from the command "
                     "line, with the stored trained DAEs (rc.pretrained).")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    bind = commands.add_parser(
        "bind", help="group the pixels of an image of your own into objects",
        description="Bind the pixels of IMAGE into K objects with reconstruction "
                    "clustering and a stored trained DAE; write the image coloured by "
                    "group (PNG) and the per-pixel assignments (JSON).")
    bind.add_argument("image", type=Path, help="the image (PNG, or any format Pillow reads)")
    bind.add_argument("--model", default="multi_mnist", choices=DATASETS,
                      help="the data set whose DAE to use (default: multi_mnist, 48x48)")
    bind.add_argument("--table", type=int, default=1, choices=(1, 2),
                      help="1: the DAE trained on single objects (default); 2: on images "
                           "with several objects")
    bind.add_argument("--k", type=int, default=None,
                      help="number of groups, at most the number of on pixels (default: "
                           "the model's data set's K)")
    bind.add_argument("--out", type=Path, default=None,
                      help="the coloured picture, a .png, not IMAGE itself (default: "
                           "IMAGE-groups.png)")
    bind.add_argument("--json", type=Path, default=None,
                      help="the assignments, another file than --out and IMAGE (default: "
                           "--out with the suffix .json)")
    bind.add_argument("--threshold", type=float, default=THRESHOLD,
                      help=f"grey level in (0, 1) separating objects from background "
                           f"(default {THRESHOLD})")
    bind.add_argument("--ink", choices=("light", "dark"), default="light",
                      help="light: objects brighter than the background, as in the data "
                           "sets (default); dark: dark strokes on a light background")
    bind.add_argument("--resize", action="store_true",
                      help="scale the image to the model's input size (bilinear) instead "
                           "of stopping when the sizes differ; the aspect ratio is not "
                           "kept: an image of other proportions is stretched, with a note "
                           "on stderr")
    bind.add_argument("--e-step", choices=("soft", "hard"), default="soft",
                      help="soft assignments (default) or hard ones")
    bind.add_argument("--iterations", type=int, default=10,
                      help="RC iterations (default 10, the paper's)")
    bind.add_argument("--seed", type=int, default=0,
                      help="seed of RC's random initial assignments (default 0)")
    bind.add_argument("--scale", type=int, default=SCALE,
                      help=f"magnification of the written picture (default {SCALE})")
    bind.add_argument("--profile", default="full",
                      help="whose stored DAEs to use (default: full, the paper's "
                           "configurations at full scale)")
    bind.add_argument("--results", type=Path, default=None,
                      help="results folder holding PROFILE/ (default: $RC_RESULTS, else "
                           "the repository's results/)")
    bind.add_argument("--device", default="cpu", help="where to run (default: cpu)")
    return parser


def _check_settings(args) -> None:
    if not 0.0 < args.threshold < 1.0:
        raise BindError(f"--threshold must be between 0 and 1; got {args.threshold}")
    if args.k is not None and args.k < 1:
        raise BindError(f"--k must be a positive integer; got {args.k}")
    if args.iterations < 1:
        raise BindError(f"--iterations must be a positive integer; got {args.iterations}")
    if args.seed < 0:
        raise BindError(f"--seed must be a non-negative integer; got {args.seed}")
    if not 1 <= args.scale <= 64:
        raise BindError(f"--scale must be between 1 and 64; got {args.scale}")
    if args.table == 2 and args.model == "simple_superposition":
        raise BindError("--table 2: Simple Superposition has no DAE trained on several "
                        "objects; use --table 1")


def _outputs(args) -> tuple[Path, Path]:
    out = args.out or args.image.with_name(f"{args.image.stem}-groups.png")
    if out.suffix.lower() != ".png":
        raise BindError(f"--out {out}: the picture is written as PNG; give a name ending "
                        f"in .png")
    js = args.json or out.with_suffix(".json")
    for path, what in ((out, "--out"), (js, "--json")):
        if _same_file(path, args.image):
            raise BindError(f"{what} {path} is the input image; writing there would "
                            f"overwrite it: give another name")
    if _same_file(out, js):
        raise BindError(f"--out {out} and --json {js} are the same file; give --json "
                        f"another name")
    for path, what in ((out, "--out"), (js, "--json")):
        folder = path.parent if str(path.parent) else Path(".")
        if path.is_dir():
            raise BindError(f"{what} {path}: is a folder")
        if not folder.is_dir():
            raise BindError(f"{what} {path}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise BindError(f"{what} {path}: cannot write there (permission denied)")
    return out, js


def _same_file(a: Path, b: Path) -> bool:
    """Whether the paths ``a`` and ``b`` name one file (links resolved)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def _note(text: str) -> None:
    print(f"{PROG} bind: note: {text}", file=sys.stderr)


def _image(args, shape: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """The binarised image of the model's size, and the size of the file's image."""
    background = 0.0 if args.ink == "light" else 1.0
    image = _read(args.image, background)
    grey = image.grey
    if image.frames > 1:
        _note(f"{args.image} has {image.frames} frames (an animated or multi-page image); "
              f"only the first is bound")
    original = grey.shape
    if grey.shape != tuple(shape):
        if not args.resize:
            raise BindError(
                f"{args.image}: the image is {grey.shape[1]}x{grey.shape[0]} pixels but the "
                f"{label(args.model)} DAE takes {shape[1]}x{shape[0]}; draw it at that size "
                f"or pass --resize to scale it")
        if original[0] * shape[1] != original[1] * shape[0]:
            _note(f"--resize stretches the {original[1]}x{original[0]} image to "
                  f"{shape[1]}x{shape[0]} (the aspect ratio is not kept); pad it to the "
                  f"DAE's proportions first to keep the objects' shapes")
        grey = _resized(grey, shape)
    x = binarise(grey, args.threshold, args.ink)
    if x.min() == x.max():
        raise BindError(_nothing_to_bind(args, grey, bool(x.max()), image.transparent))
    if x.mean() > 0.5:  # objects rarely cover most of an image: likely inverted
        _note(f"{x.mean():.0%} of the pixels are on; if the objects are dark on a light "
              f"background, pass --ink dark")
    return x, original


def _nothing_to_bind(args, grey: np.ndarray, on: bool, transparent: bool) -> str:
    """The message for an image whose pixels are all on or all off, with the options that
    may help: a --threshold between its grey levels, the other --ink."""
    text = (f"{args.image}: after binarising at threshold {args.threshold} ({args.ink} ink) "
            f"every pixel is {'on' if on else 'off'}")
    lo, hi = float(grey.min()), float(grey.max())
    if lo == hi and not transparent:
        return f"{text}: the image is all one value, nothing to bind"
    hints = []
    if lo < hi:
        hints.append(f"its grey levels lie in [{lo:.3g}, {hi:.3g}]: pass a --threshold "
                     f"between them, e.g. --threshold {(lo + hi) / 2:.2g}")
    other, than = ("dark", "darker") if args.ink == "light" else ("light", "lighter")
    hints.append(f"pass --ink {other} if the objects are {than} than the background"
                 + (" (transparent pixels count as background)" if transparent else ""))
    return f"{text}; " + "; or ".join(hints)


def _check_k(args, k: int, x: np.ndarray) -> None:
    on = int(x.sum())
    if k > on:
        which = (f"--k {k}" if args.k is not None
                 else f"the default K of {label(args.model)}, {k},")
        raise BindError(f"{which} exceeds the number of on pixels of {args.image} ({on}, "
                        f"after binarising): RC cannot make more groups than there are "
                        f"pixels; give --k {on} or less")


def _picture(x: np.ndarray, gamma: np.ndarray, scale: int) -> np.ndarray:
    from .plots import assignment_rgb

    rgb = assignment_rgb(x, gamma)
    big = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
    return (big * 255.0 + 0.5).astype(np.uint8)


def _write(out: Path, js: Path, picture: np.ndarray, doc: dict) -> None:
    from PIL import Image

    from .storage import atomic_write, write_json

    try:
        atomic_write(out, lambda fh: Image.fromarray(picture).save(fh, format="PNG"))
        write_json(js, doc)
    except OSError as exc:
        raise BindError(f"cannot write the output ({exc.strerror or exc})") from None


def bind(args) -> str:
    """Run ``bind`` for parsed arguments; returns the summary line."""
    import warnings

    from .cache import MissingResultError
    from .clustering import reconstruction_clustering
    from .pretrained_daes import pretrained

    _check_settings(args)
    out, js = _outputs(args)
    info = dataset_info(args.model)
    x, original = _image(args, tuple(info.shape))
    k = info.k if args.k is None else args.k
    _check_k(args, k, x)
    try:
        model = pretrained(args.model, args.table, profile=args.profile, root=args.results,
                           device=args.device)
    except (MissingResultError, ValueError) as exc:
        raise BindError(str(exc)) from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = reconstruction_clustering(model.dae, x[None], k=k, n_iters=args.iterations,
                                        e_step=args.e_step, seed=args.seed)
    gamma = res.gamma[0]
    labels = np.where(x > 0, gamma.argmax(axis=-1), -1)
    sizes = [int((labels == j).sum()) for j in range(k)]
    doc = {
        "image": str(args.image), "image_size": [original[1], original[0]],
        "settings": {"threshold": args.threshold, "ink": args.ink, "resized": original
                     != tuple(info.shape), "k": k, "e_step": args.e_step,
                     "iterations": args.iterations, "seed": args.seed,
                     "init": res.config["init"]},
        "model": {"dataset": args.model, "table": args.table, "profile": model.profile,
                  "config": model.config.to_dict(), "training": model.spec.name,
                  "description": model.describe(),
                  "provenance": {key: model.provenance.get(key) for key in
                                 ("profile", "device", "git_commit", "created", "torch")}},
        "shape": [int(x.shape[0]), int(x.shape[1])],
        "on_pixels": int(x.sum()), "group_sizes": sizes,
        "labels": labels.tolist(),
        "labels_note": "per pixel (row-major): the group with the largest assignment, "
                       "-1 for background",
        "gamma": np.round(gamma, 4).tolist(),
        "gamma_note": "per pixel: the assignment probabilities of the K groups (soft RC; "
                      "one-hot for hard RC); background pixels carry no meaning",
        "log_likelihood": float(res.log_likelihood[0, -1]),
    }
    _write(out, js, _picture(x, gamma, args.scale), doc)
    return (f"bound the {int(x.sum())} on-pixels of {args.image} ({x.shape[1]}x{x.shape[0]}) "
            f"into K = {k} groups of {', '.join(map(str, sizes))} pixels ({args.e_step} RC, "
            f"{args.iterations} iterations, seed {args.seed}) with {model.describe()}; wrote "
            f"{out} and {js}")


def main(argv: list[str] | None = None) -> int:
    """The command line's entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "bind":
            print(bind(args))
    except BindError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0
