"""The one cost model of the project: FLOPs of every kind of network and training.

Every compute cap (:func:`epochs_within`, the budget rule of every network of the book),
every task's cost (:mod:`rc.tasks`) and the protocol's projections (:mod:`rc.protocol`)
count FLOPs here:

* :func:`dae_image_flop` — one training image through the paper's DAE (10·D·H);
* :func:`conv_image_flop` — the same for the convolutional DAE of :mod:`rc.beyond.conv`;
* :func:`unrolled_rc_image_flop` — the same through RC unrolled in training
  (:mod:`rc.beyond.rc_training`);
* :func:`training_flop` — ``epochs`` epochs of any of them on ``n_images`` (the
  validation part at the forward pass's share);
* :func:`train_flop` — a :class:`~rc.specs.TrainSpec`'s training;
* :func:`estimated_epochs` / :func:`measured_epochs` — the epochs early stopping gave in a
  measurement (``rc/epoch_counts.json``, written by ``benchmarks/epoch_counts.py``);
* :func:`population_seconds` — a population training simulated epoch by epoch on a GPU.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .datasets import dataset_info
from .storage import read_json
from .training import train_split

__all__ = ["DEFAULT_EPOCHS", "RC_FLOP", "conv_image_flop", "dae_image_flop",
           "epochs_within", "estimated_epochs", "measured_epochs", "population_seconds",
           "train_flop", "training_flop", "unrolled_rc_image_flop"]

#: Epochs assumed per training where no measurement applies.
DEFAULT_EPOCHS = 100
#: FLOPs assumed for a step of RC runs or an element's own computations (about 1 TFLOP).
RC_FLOP = 1e12
#: The share of a training image's FLOPs that a validation image costs (the forward pass).
FORWARD_SHARE = 0.4
_COUNTS = Path(__file__).with_name("epoch_counts.json")

#: The convolutional DAE of rc.beyond.conv: kernel 5, two strided layers, a dense code.
CONV_KERNEL = 5


def dae_image_flop(n_pixels: int, n_hidden: int) -> float:
    """FLOPs of one training image through the paper's DAE: its two D x H products forward
    (2 FLOPs per multiply-add: 4 D H) and backward (the weight gradients of both layers and
    the hidden units' gradient: 6 D H)."""
    return 10.0 * n_pixels * n_hidden


def conv_image_flop(shape: tuple[int, int], channels: tuple[int, int], n_hidden: int
                    ) -> float:
    """FLOPs of one training image through the convolutional DAE (two 5x5 convolutions
    of stride 2 with ``channels``, a dense code of ``n_hidden`` units; encoder and
    decoder, forward and backward, about 3x the forward), in the units of
    :func:`dae_image_flop`, so that both DAEs get the same budget."""
    h, w = shape
    c1, c2 = channels
    q = (h // 4) * (w // 4)
    k2 = CONV_KERNEL * CONV_KERNEL
    macs = (h // 2) * (w // 2) * c1 * k2 + q * c2 * c1 * k2 + q * c2 * n_hidden
    return 2.0 * 3.0 * 2.0 * macs


def unrolled_rc_image_flop(dataset: str, n_hidden: int, n_iters: int) -> float:
    """FLOPs of one training image through RC unrolled for ``n_iters`` iterations: K
    passes of the DAE per iteration, forward and backward (:func:`dae_image_flop` each)."""
    info = dataset_info(dataset)
    return dae_image_flop(info.shape[0] * info.shape[1], n_hidden) * info.k * n_iters


def epochs_within(tflop: float | None, max_epochs: int, image_flop: float,
                  n_train: int) -> int:
    """The one budget rule of the project: the epochs (at least 1, at most ``max_epochs``)
    that fit into ``tflop`` TFLOP of training when one training image costs
    ``image_flop`` FLOPs and an epoch visits ``n_train`` images. None: no cap."""
    if tflop is None:
        return max_epochs
    return int(max(1, min(max_epochs, tflop * 1e12 // (image_flop * n_train))))


def training_flop(image_flop: float, n_images: int, epochs: float,
                  val_fraction: float = 0.1) -> float:
    """FLOPs of ``epochs`` epochs on ``n_images``: the training part at ``image_flop`` per
    image, the validation part at the forward pass's share of it (4 of 10)."""
    n_train = train_split(n_images, val_fraction)
    return epochs * image_flop * (n_train + FORWARD_SHARE * (n_images - n_train))


def train_flop(spec, epochs: float) -> float:
    """FLOPs of the training of a :class:`~rc.specs.TrainSpec` for ``epochs`` epochs
    (capped by its ``max_epochs``)."""
    info = dataset_info(spec.data.dataset)
    image_flop = dae_image_flop(info.shape[0] * info.shape[1], spec.config.n_hidden)
    return training_flop(image_flop, spec.data.n, min(epochs, spec.max_epochs),
                         spec.val_fraction)


def _count_rows() -> list[dict]:
    """The rows of the epoch-count measurement, ``rc/epoch_counts.json`` (package data,
    installed with rc). A missing or unreadable file is an error: the cost model never
    silently falls back to :data:`DEFAULT_EPOCHS` for every training."""
    try:
        return read_json(_COUNTS)["rows"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(
            f"the cost model's epoch counts cannot be read from {_COUNTS} ({exc}); they "
            f"are package data of rc: reinstall rc, or measure them again with "
            f"`python benchmarks/epoch_counts.py --write`") from None


def measured_epochs(dataset: str, table: int, study: str) -> list[int]:
    """Every run's epochs in the measurement (its largest size), or [DEFAULT_EPOCHS]."""
    rows = _count_rows()
    match = [r for r in rows if (r["dataset"], r["table"], r["kind"]) == (dataset, table, study)]
    return max(match, key=lambda r: r["n_images"])["epochs"] if match else [DEFAULT_EPOCHS]


def estimated_epochs(dataset: str, table: int, study: str) -> float:
    """Mean epochs early stopping gave in the measurement (largest size measured);
    :data:`DEFAULT_EPOCHS` where nothing was measured for the data set and table."""
    return float(np.mean(measured_epochs(dataset, table, study)))


def population_seconds(specs: list, groups: list[list[int]], measured: list[int],
                       tflops: float, step_overhead: float) -> float:
    """Seconds of a population training of the :class:`~rc.specs.TrainSpec` ``specs``
    (one data set), trained in ``groups`` (lists of indices into ``specs``).

    Each member trains for the epochs of a run of the measurement (member i gets the
    i-th measured count, cyclically), a group's minibatch step takes the longer of
    ``step_overhead`` seconds (launching its kernels) and its FLOPs (padding to the
    widest member included) at ``tflops`` TFLOP/s, and members leave their group when
    they stop.
    """
    info = dataset_info(specs[0].data.dataset)
    d = info.shape[0] * info.shape[1]
    n_train = train_split(specs[0].data.n, specs[0].val_fraction)
    steps_per_epoch = -(-n_train // specs[0].batch_size)
    seconds = 0.0
    for group in groups:
        epochs = np.array([min(measured[i % len(measured)], specs[i].max_epochs)
                           for i in group])
        width = max(specs[i].config.n_hidden for i in group)
        for e in range(1, int(epochs.max()) + 1):
            active = int((epochs >= e).sum())
            flop = dae_image_flop(d, width) * n_train * active
            seconds += max(steps_per_epoch * step_overhead, flop / (tflops * 1e12))
    return seconds
