"""Training DAEs as in the paper, one or many at once: the public entry points, the checks
of their arguments and the grouping of a population.

:func:`train_dae` trains one DAE; :func:`train_population` trains many side by side (the
random searches' ~1,700 small networks). Both run the same code: a single DAE is a
population of one. Members with the same architecture (hidden units, activation) form a
*group* whose parameters are stacked, so that one batched matrix product serves all
members of a minibatch step (:mod:`rc.batched_dae`). The members stay independent: each
has its own learning rate, noise level, early stopping, best-weights snapshot and random
stream.

The procedure (Appendix B of the paper; the book's protocol page, book/protocol.md), for
every member:

* its weights start as ``DAE(D, n_hidden, activation, seed=seed)``'s (or as a given DAE's);
* its own ``torch.Generator`` seeded with ``seed`` draws, in this order: the validation
  corruption before training, then per epoch one ``randperm`` of the training images,
  per minibatch one salt-and-pepper draw (:func:`rc.dae.salt_and_pepper`; none when
  ``noise == 0``) and a fresh corruption of the validation images;
* its loss is the binomial cross-entropy summed over pixels and averaged over the
  minibatch, minimised by plain SGD; the gradients are written out by hand with the very
  kernels autograd would call (``aten::*_backward``), so that a member's weights equal
  those of an autograd training of an ``nn.Module`` bit for bit on the CPU, without
  building an autograd graph on every step;
* epoch 0 is the validation loss before training; training stops after ``patience``
  epochs without a new best validation loss ("early stopping"), at ``max_epochs``
  ("max epochs"), after ``max_seconds`` ("time limit") or when a loss is not finite
  ("diverged"); the best weights are kept.

A member that stops leaves its group (the stacked tensors are compacted), so finished
members cost nothing, and is handed to ``on_member_done`` right away, so that a
resumable search can persist it before the rest of the group finishes.

On a CPU, members train one at a time unless ``max_members`` says otherwise
(:func:`members_at_once`). A member's arithmetic is then that of its own training alone,
whatever else is trained and in which order, so that a stored run depends on its
configuration only: on a CPU with AVX-512, MKL's batched products round differently
with the size of the batch, and a validation loss summed over a group's stacked outputs
does on any CPU. Batching brought nothing on a 2-core CPU anyway (0.92x, measured by
``benchmarks/bench_population.py``). On a GPU, where it pays, groups train side by side;
a caller that must store values independent of the order of work trains whole groups
of its plan (:func:`groups_to_train`).

A single training can be made resumable (``checkpoint``, a file): at the end of an epoch,
every :data:`CHECKPOINT_SECONDS`, its weights, best weights, random stream and history
are written there, and a training given the same file starts where the last one stopped,
so that hours of training survive a killed process. The resumed training equals the
uninterrupted one bit for bit; the file is removed when the training ends.

The public functions live here; :func:`train_module` (:mod:`rc.module_training`) trains
any ``torch.nn.Module`` with autograd. Both drive the loop of :mod:`rc.training_loop`
(epochs, stopping rule, checkpoints), whose arithmetic for DAEs is :mod:`rc.batched_dae`;
:mod:`rc.training_inputs` checks images, split and member configurations.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._checks import check_choice, check_positive_int
from .batched_dae import DAEGroup
from .dae import ACTIVATIONS, DAE, resolve_device
from .module_training import reconstruction_loss, train_module
from .storage import CorruptFileError
from .training_inputs import CONFIG_KEYS, flat_images, member_config, train_split
from .training_loop import (
    VERSION,
    Checkpoint,
    DeadlineReached,
    StoppingStep,
    TrainHistory,
    checkpoint_progress,
    fingerprint,
    stopping_rule,
    train_group,
)

__all__ = ["CHECKPOINT_SECONDS", "CONFIG_KEYS", "GROUPINGS", "VERSION", "DeadlineReached",
           "StoppingStep", "TrainHistory", "checkpoint_progress", "groups_to_train",
           "members_at_once", "population_groups",
           "reconstruction_loss", "stopping_rule", "train_module", "train_dae",
           "train_population", "train_split"]

#: Seconds of training between two writes of a resumable training's checkpoint.
CHECKPOINT_SECONDS = 600.0


#: Called as ``on_member_done(index, dae, history)`` when member ``index`` has finished.
MemberCallback = Callable[[int, DAE, TrainHistory], None]


#: How a population is split into groups trained side by side: one group per
#: (width, activation), per activation (widths padded), or one group for all.
GROUPINGS = ("architecture", "activation", "all")


def members_at_once(device, max_members: int | None = None) -> int | None:
    """How many members of a group train side by side on ``device``: ``max_members`` if
    given, else one on a CPU (the module doc says why) and the whole group on a GPU."""
    if max_members is not None:
        return check_positive_int(max_members, "max_members")
    return 1 if resolve_device(device).type == "cpu" else None


def groups_to_train(configs: Sequence[Mapping[str, Any]], wanted: Sequence[int], device=None,
                    grouping: str = "architecture") -> list[int]:
    """Indices of ``configs`` to train so that the members ``wanted`` get the values they
    would get in a training of all ``configs``: every member of each group (of the whole
    plan, :func:`population_groups`) that holds a wanted member, in the order of
    ``configs``. On a CPU (one member at a time) that is ``wanted`` itself."""
    wanted = set(wanted)
    groups = population_groups(configs, members_at_once(device), grouping)
    return sorted(i for g in groups if wanted.intersection(g) for i in g)


def population_groups(configs: Sequence[Mapping[str, Any]], max_members: int | None = None,
                      grouping: str = "architecture") -> list[list[int]]:
    """Indices of ``configs`` trained together, per ``grouping`` (:data:`GROUPINGS`):
    ``"architecture"``, one group per (n_hidden, activation); ``"activation"``, one per
    activation, narrower members padded to the widest; ``"all"``, a single group of mixed
    activations and padded widths, ordered by activation.

    Groups come in the order of their first member (members of a group in the order of
    ``configs``, except that ``"all"`` sorts them by activation); a group larger than
    ``max_members`` is split into consecutive sub-groups of at most that many members.
    """
    if max_members is not None:
        max_members = check_positive_int(max_members, "max_members")
    check_choice(grouping, "grouping", GROUPINGS)
    by_key: dict[tuple, list[int]] = {}
    for i, cfg in enumerate(configs):
        act = str(cfg["activation"]).lower()
        key = {"architecture": (int(cfg["n_hidden"]), act), "activation": (act,),
               "all": ()}[grouping]
        by_key.setdefault(key, []).append(i)
    groups = []
    for members in by_key.values():
        if grouping == "all":
            order = {a: r for r, a in enumerate(ACTIVATIONS)}
            members = sorted(members, key=lambda i: (order[str(configs[i]["activation"])
                                                           .lower()], i))
        step = max_members or len(members)
        groups += [members[j:j + step] for j in range(0, len(members), step)]
    return groups


def train_population(images, configs: Sequence[Mapping[str, Any]], *, batch_size: int = 100,
                     max_epochs: int = 500, patience: int = 10, val_fraction: float = 0.1,
                     device=None, max_members: int | None = None,
                     max_seconds: float | None = None, progress: bool = True,
                     on_member_done: MemberCallback | None = None,
                     initial: Sequence[DAE] | None = None, grouping: str = "architecture",
                     deadline: float | None = None, grey: bool = False,
                     checkpoint: str | Path | None = None,
                     checkpoint_seconds: float | None = None
                     ) -> list[tuple[DAE, TrainHistory]]:
    """Train one DAE per configuration on ``images``, many at once; see the module doc.

    Members of a group (:func:`population_groups`) train side by side, at most
    ``max_members`` at a time (:func:`members_at_once`: one on a CPU), groups one after
    the other, sharing images, split, batch size and patience.

    Parameters
    ----------
    images : array_like, shape (N, H, W) or (N, D)
        Binary training images (grey levels in [0, 1] with ``grey``: soft targets, while
        salt-and-pepper noise still sets pixels to 0 or 1).
    configs : list of dict
        Per member: ``learning_rate``, ``noise``, ``n_hidden``, ``activation`` and
        ``seed`` (initialisation and training stream, as ``train_dae(DAE(..., seed=s),
        ..., seed=s)``); optionally ``max_epochs`` and ``init`` (:data:`CONFIG_KEYS`).
    batch_size, max_epochs, patience, val_fraction, device, progress, grey
        As for :func:`train_dae`.
    max_members : int, optional
        Largest (sub-)group trained at once (None: :func:`members_at_once`).
    max_seconds : float, optional
        Wall-time limit of each (sub-)group.
    on_member_done : callable, optional
        ``on_member_done(index, dae, history)`` as soon as member ``index`` has stopped.
    initial : list of DAE, optional
        The members' starting modules instead of fresh seeded DAEs, trained in place.
    grouping : {"architecture", "activation", "all"}
        Which members share batched products (padded: fewer, larger ones, for a GPU).
    deadline : float, optional
        A ``time.monotonic()`` value past which :class:`DeadlineReached` ends training
        after the epoch; finished members were handed over, the others are dropped.
    checkpoint, checkpoint_seconds : str or Path, float, optional
        A file that makes a single training resumable (module doc), and seconds between
        its writes (default :data:`CHECKPOINT_SECONDS`).

    Returns
    -------
    list of (DAE, TrainHistory)
        Per configuration, in the order of ``configs``: the DAEs with their best weights,
        in eval mode, and histories as :func:`train_dae` fills them, except that
        ``seconds`` is the wall time of the member's (sub-)group until it stopped.
    """
    x_all = flat_images(images, grey)
    batch_size, patience, max_members, cfgs = _checked_population_args(
        configs, batch_size, max_epochs, patience, max_members, max_seconds, on_member_done)
    n_train = train_split(len(x_all), val_fraction)
    daes = _initial_daes(initial, cfgs, x_all.shape[1])
    dev = resolve_device(device)
    max_members = members_at_once(dev, max_members)
    x = torch.from_numpy(x_all).to(dev)
    x_train, x_val = x[:n_train], x[n_train:]
    hists = [TrainHistory(device=str(dev), config=_history_config(
        c, x_all.shape, n_train, batch_size, patience, val_fraction)) for c in cfgs]
    results: list[tuple[DAE, TrainHistory] | None] = [None] * len(cfgs)

    def finish(index: int, dae: DAE, hist: TrainHistory) -> None:
        results[index] = (dae, hist)
        if on_member_done is not None:
            on_member_done(index, dae, hist)

    saver = None if checkpoint is None else _checkpoint_for(
        checkpoint, checkpoint_seconds, x_all, cfgs, n_train, batch_size, patience, dev)
    for members in population_groups(cfgs, max_members, grouping):
        group = DAEGroup(members, cfgs, [daes[m] for m in members], x_val, batch_size, dev)
        train_group(group, cfgs, hists, x_train, x_val, patience=patience,
                     max_seconds=max_seconds, progress=progress, finish=finish,
                     deadline=deadline, checkpoint=saver)
    if saver is not None:
        saver.path.unlink(missing_ok=True)  # the training ended: nothing to resume
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def _history_config(cfg: dict, shape: tuple, n_train: int, batch_size: int, patience: int,
                    val_fraction: float) -> dict:
    """The settings a member's :class:`TrainHistory` records."""
    return {"n_pixels": shape[1], "n_hidden": cfg["n_hidden"],
            "activation": cfg["activation"], "learning_rate": cfg["learning_rate"],
            "noise": cfg["noise"], "batch_size": batch_size, "max_epochs": cfg["max_epochs"],
            "patience": patience, "val_fraction": val_fraction, "seed": cfg["seed"],
            "n_train": n_train, "n_val": shape[0] - n_train}


def _checkpoint_for(path, seconds, x_all: np.ndarray, cfgs: list[dict], n_train: int,
                    batch_size: int, patience: int, dev: torch.device) -> Checkpoint:
    """The checkpoint of :func:`train_population`'s single training, its settings checked."""
    if len(cfgs) != 1:
        raise ValueError(f"a checkpoint resumes a single training; this population has "
                         f"{len(cfgs)} configurations")
    seconds = CHECKPOINT_SECONDS if seconds is None else seconds
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise ValueError(f"checkpoint_seconds must be a number >= 0; got {seconds!r}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"checkpoint must be a file, not the folder {path}")
    return Checkpoint(path, fingerprint(x_all, cfgs[0], n_train, batch_size, patience, dev),
                       float(seconds))


def _checked_population_args(configs, batch_size, max_epochs, patience, max_members,
                             max_seconds, on_member_done) -> tuple[int, int, int | None, list]:
    """The validated settings of :func:`train_population` and its members' configurations
    (clear ValueErrors)."""
    if isinstance(configs, Mapping) or not isinstance(configs, Sequence):
        raise ValueError(f"configs must be a list of dicts; got {type(configs).__name__}")
    if len(configs) == 0:
        raise ValueError("configs is empty: a population needs at least one member")
    batch_size = check_positive_int(batch_size, "batch_size")
    max_epochs = check_positive_int(max_epochs, "max_epochs", minimum=0)
    patience = check_positive_int(patience, "patience")
    if max_members is not None:
        max_members = check_positive_int(max_members, "max_members")
    if max_seconds is not None and not float(max_seconds) > 0:
        raise ValueError(f"max_seconds must be positive or None; got {max_seconds}")
    if on_member_done is not None and not callable(on_member_done):
        raise ValueError("on_member_done must be callable or None")
    cfgs = [member_config(c, i, max_epochs) for i, c in enumerate(configs)]
    return batch_size, patience, max_members, cfgs


def _initial_daes(initial, cfgs: list[dict], d: int) -> list[DAE]:
    """The members' starting modules: the given ones (checked) or fresh seeded DAEs."""
    if initial is None:
        return [DAE(d, c["n_hidden"], c["activation"], seed=c["seed"], init=c["init"])
                for c in cfgs]
    if len(initial) != len(cfgs):
        raise ValueError(f"initial must hold one DAE per configuration ({len(cfgs)}); "
                         f"got {len(initial)}")
    for i, (dae, c) in enumerate(zip(initial, cfgs)):
        if not isinstance(dae, DAE):
            raise ValueError(f"training needs an rc.DAE; got {type(dae).__name__}")
        if dae.n_pixels != d:
            raise ValueError(f"images have {d} pixels but the DAE expects {dae.n_pixels}")
        if (dae.n_hidden, dae.activation) != (c["n_hidden"], c["activation"]):
            raise ValueError(f"initial[{i}] is a {dae.n_hidden}-unit {dae.activation} DAE but "
                             f"configs[{i}] asks for {c['n_hidden']} {c['activation']} units")
    return list(initial)


def train_dae(dae: DAE, images, *, learning_rate: float, noise: float,
              batch_size: int = 100, max_epochs: int = 500, patience: int = 10,
              val_fraction: float = 0.1, seed: int = 0, device=None,
              max_seconds: float | None = None, progress: bool = True,
              deadline: float | None = None, grey: bool = False,
              checkpoint: str | Path | None = None,
              checkpoint_seconds: float | None = None) -> TrainHistory:
    """Train ``dae`` in place as in the paper and return its :class:`TrainHistory`.

    A population of one (:func:`train_population`) that starts from ``dae``'s current
    weights. The first ``1 - val_fraction`` of ``images`` (binary, (N, H, W)) train, the
    rest validate. Each epoch visits the training images in a fresh random order,
    corrupting each minibatch of ``batch_size`` with salt-and-pepper noise of probability
    ``noise``; the validation loss is measured on a fresh corruption of the validation
    images every epoch, as a noise layer in the network would (this stops training on
    heavily corrupted data earlier than a fixed corruption would, which on MNIST+Shape
    gives the better binding DAE). Training stops after ``patience`` epochs without a new
    best validation loss, after ``max_epochs``, after ``max_seconds`` of wall time (a
    budget for slow machines, not part of the paper's protocol), or when the loss becomes
    non-finite; the best weights are restored. Everything runs on ``device`` (default:
    CUDA if available); ``seed`` seeds the random stream of corruption and ordering.
    Past ``deadline`` (a ``time.monotonic()`` value) it raises :class:`DeadlineReached`.

    Parameters
    ----------
    dae : rc.DAE
        The network, trained in place (and moved to ``device``).
    images : array (N, H, W) or (N, D)
        Binary training images.
    learning_rate, noise : float
        SGD step size (> 0) and salt-and-pepper probability in [0, 1).
    batch_size : int
        Images per minibatch.
    max_epochs, patience : int
        Stopping rule: at most ``max_epochs``; stop after ``patience`` epochs without a
        new best validation loss.
    val_fraction : float
        The last fraction of ``images`` that validates.
    seed : int
        Seed of the corruption and ordering stream.
    device : str or torch.device, optional
        Where to train (default: CUDA if available).
    max_seconds : float, optional
        Wall-time limit.
    progress : bool
        Progress bar.
    deadline : float, optional
        ``time.monotonic()`` value after which training stops with an error.
    grey : bool
        The images hold grey levels in [0, 1] instead of 0 and 1.
    checkpoint, checkpoint_seconds : str or Path, float, optional
        A file that makes the training resumable (see the module doc), written every
        ``checkpoint_seconds`` (default :data:`CHECKPOINT_SECONDS`).

    Returns
    -------
    TrainHistory
        Losses per epoch, best epoch, why training stopped, wall time, configuration.
    """
    if not isinstance(dae, DAE):
        raise ValueError(f"train_dae needs an rc.DAE; got {type(dae).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer; got {seed!r}")
    config = {"learning_rate": learning_rate, "noise": noise, "n_hidden": dae.n_hidden,
              "activation": dae.activation, "seed": int(seed)}
    try:
        [(_, history)] = train_population(
            images, [config], batch_size=batch_size, max_epochs=max_epochs,
            patience=patience, val_fraction=val_fraction, device=device,
            max_seconds=max_seconds, progress=progress, initial=[dae], deadline=deadline,
            grey=grey, checkpoint=checkpoint, checkpoint_seconds=checkpoint_seconds)
    except CorruptFileError:
        raise
    except ValueError as exc:  # name the arguments of this function, not configs[0]
        raise ValueError(str(exc).replace("configs[0]: ", "").replace("configs[0] ", "")
                         ) from None
    return history

