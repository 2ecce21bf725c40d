"""The loop of every training: epochs, validation, the early-stopping rule, the history
of losses and the checkpoint file that makes a single training resumable.

:func:`train_group` drives a group that does the arithmetic (the batched DAEs of
:class:`rc.batched_dae.DAEGroup`, or the one autograd-trained module of
:mod:`rc.module_training`) and decides, after every epoch, which members stop.
"""
from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from .batched_dae import DAEGroup
from .dae import DAE
from .storage import CorruptFileError, json_digest, read_npz, read_npz_doc, write_npz

__all__ = ["VERSION", "Checkpoint", "DeadlineReached", "StoppingStep", "TrainHistory",
           "checkpoint_progress", "fingerprint", "stopping_rule", "train_group"]

#: Version of the training procedure; part of every cached DAE's key. Bump it when a change
#: alters what training produces (e.g. the order of random draws or the stopping rule).
VERSION = 1


class DeadlineReached(RuntimeError):
    """Training stopped at a deadline; finished members were handed over, the rest dropped."""


@dataclass
class TrainHistory:
    """What happened while training: per-epoch losses (index 0 = before training).

    Attributes
    ----------
    train_loss, val_loss : list of float
        Mean training and validation loss per epoch (``train_loss[0]`` is NaN).
    best_epoch : int
        The epoch of the kept weights; ``best_val_loss`` its validation loss.
    epochs : int
        Epochs trained.
    seconds : float
        Wall time.
    stopped : str
        "early stopping", "max epochs", "time limit" or "diverged".
    device : str
        Where it trained.
    config : dict
        The training's settings.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    epochs: int = 0
    seconds: float = 0.0
    stopped: str = ""  # "early stopping", "max epochs", "time limit" or "diverged"
    device: str = "cpu"
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


class StoppingStep(NamedTuple):
    """What :func:`stopping_rule` decides after an epoch."""

    improved: bool   # a new best validation loss: keep these weights
    stop: str        # why training stops now ("" to go on)


def stopping_rule(epoch: int, train_loss: float, val_loss: float, best_val_loss: float,
                  best_epoch: int, patience: int, out_of_time: bool = False) -> StoppingStep:
    """The paper's early stopping, after epoch ``epoch`` (>= 1) of one network.

    A non-finite loss stops training ("diverged"). A validation loss below the best so
    far is an improvement. Otherwise training stops once ``patience`` epochs have passed
    since the best one ("early stopping"). A network that goes on past its wall-time
    limit stops too ("time limit"). (``max_epochs`` is checked by the caller.)
    """
    if not (math.isfinite(val_loss) and math.isfinite(train_loss)):
        return StoppingStep(False, "diverged")
    improved = val_loss < best_val_loss
    if not improved and epoch - best_epoch >= patience:
        return StoppingStep(False, "early stopping")
    return StoppingStep(improved, "time limit" if out_of_time else "")


class Checkpoint:
    """The state of a single training (a :class:`~rc.batched_dae.DAEGroup` of one) at the
    end of an epoch, in one ``.npz`` file: written atomically every ``every`` seconds, read
    back to resume.

    ``fingerprint`` names the training (configuration, split, images, device); a file that
    names another training is refused with a ValueError rather than resumed.
    """

    def __init__(self, path: Path, fingerprint: str, every: float):
        self.path, self.fingerprint, self.every = Path(path), fingerprint, every
        self.saved_at = time.perf_counter()

    def due(self) -> bool:
        """Whether ``every`` seconds have passed since the last write (or the start)."""
        return time.perf_counter() - self.saved_at >= self.every

    def save(self, group: DAEGroup, hist: TrainHistory, epoch: int, seconds: float) -> None:
        """Write the group's weights, best weights and stream after ``epoch``."""
        arrays = {f"param{i}": p.cpu().numpy() for i, p in enumerate(group.params)}
        arrays.update({f"best{i}": b.cpu().numpy() for i, b in enumerate(group.best)})
        arrays["stream"] = group.gens[0].get_state().numpy()
        write_npz(self.path, arrays, {"fingerprint": self.fingerprint, "epoch": epoch,
                                      "seconds": seconds, "history": hist.to_dict()})
        self.saved_at = time.perf_counter()

    def restore(self, group: DAEGroup, hists: list[TrainHistory], member: int
                ) -> tuple[int, float] | None:
        """Load the file into ``group`` and ``hists[member]``: (epoch, seconds trained),
        or None when there is no file."""
        if not self.path.exists():
            return None
        try:
            arrays, doc = read_npz(self.path)
            epoch, seconds, history = doc["epoch"], doc["seconds"], doc["history"]
            found = doc["fingerprint"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CorruptFileError(f"the training checkpoint {self.path} cannot be read "
                                   f"({exc}); remove it to train from the start") from None
        if found != self.fingerprint:
            raise ValueError(f"the training checkpoint {self.path} belongs to another "
                             "training (other settings, images or device); remove it or "
                             "choose another file")
        with torch.no_grad():
            for i, (p, b) in enumerate(zip(group.params, group.best)):
                p.copy_(torch.from_numpy(arrays[f"param{i}"]))
                b.copy_(torch.from_numpy(arrays[f"best{i}"]))
        group.gens[0].set_state(torch.from_numpy(arrays["stream"]))
        hists[member] = TrainHistory(**history)
        return int(epoch), float(seconds)


def checkpoint_progress(path: str | Path) -> dict:
    """How far the unfinished training behind a checkpoint file got: ``epoch`` (the last
    one finished), ``seconds`` trained, ``best_epoch`` and ``best_val_loss``."""
    try:
        doc = read_npz_doc(path)
        history = doc["history"]
        return {"epoch": int(doc["epoch"]), "seconds": float(doc["seconds"]),
                "best_epoch": int(history["best_epoch"]),
                "best_val_loss": float(history["best_val_loss"])}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"the training checkpoint {path} cannot be read ({exc})"
                               ) from None


def fingerprint(x_all: np.ndarray, cfg: dict, n_train: int, batch_size: int,
                 patience: int, dev: torch.device) -> str:
    """What identifies a single training for its checkpoint: its settings, images, device."""
    images = hashlib.sha256(x_all.data).hexdigest()  # flat_images made it contiguous
    return json_digest({"config": cfg, "n_train": n_train, "batch_size": batch_size,
                        "patience": patience, "images": images, "shape": x_all.shape,
                        "device": dev.type, "version": VERSION})


def train_group(group, cfgs: list[dict], hists: list[TrainHistory], x_train: torch.Tensor,
                 x_val: torch.Tensor, *, patience: int, max_seconds: float | None,
                 progress: bool, finish: Callable[[int, DAE, TrainHistory], None],
                 deadline: float | None = None, checkpoint: Checkpoint | None = None
                 ) -> None:
    """The loop of every training: epochs, validation, early stopping, history.

    ``group`` does the arithmetic (a :class:`~rc.batched_dae.DAEGroup` of batched DAEs, or a
    group of one autograd-trained module, :mod:`rc.module_training`): ``epoch(x_train)`` and
    ``val_losses(x_val)`` return per-member losses, ``snapshot``, ``best_dae`` and ``keep``
    manage the members. ``finish(index, model, history)`` receives each member as it stops.
    Past ``deadline`` (a ``time.monotonic()`` value), :class:`DeadlineReached` is raised
    after the current epoch; members that have not finished are dropped. A ``checkpoint``
    (a group of one) is resumed if its file exists and written at epoch ends when due.
    """
    members = list(group.members)
    resumed = checkpoint.restore(group, hists, members[0]) if checkpoint else None
    if resumed is None:
        with torch.no_grad():
            val0 = group.val_losses(x_val).tolist()
        for m, v in zip(group.members, val0):
            hists[m].val_loss.append(v)
            hists[m].train_loss.append(float("nan"))
            hists[m].best_val_loss = v
        epoch, seconds = 0, 0.0
    else:
        epoch, seconds = resumed[0] + 1, resumed[1]
    start = time.perf_counter() - seconds
    cap = max(cfgs[m]["max_epochs"] for m in members)
    bar = tqdm(total=cap, initial=min(epoch, cap), disable=not progress, leave=False,
               desc=f"DAEs {group.name} x{len(members)}")
    while True:
        # decide who stops after `epoch` (epoch 0: only members with max_epochs 0)
        stopped, improved = [], []
        if epoch > 0:
            with torch.no_grad():
                train = group.epoch(x_train)
                val = group.val_losses(x_val)
            losses = torch.stack([train, val]).cpu().tolist()  # the epoch's one host copy
            out_of_time = max_seconds is not None and time.perf_counter() - start > max_seconds
            for j, (m, tl, vl) in enumerate(zip(group.members, *losses)):
                h = hists[m]
                h.train_loss.append(tl)
                h.val_loss.append(vl)
                h.epochs = epoch
                step = stopping_rule(epoch, tl, vl, h.best_val_loss, h.best_epoch, patience,
                                     out_of_time)
                if step.improved:
                    h.best_val_loss, h.best_epoch = vl, epoch
                    improved.append(j)
                if step.stop:
                    h.stopped = step.stop
                    stopped.append(j)
            group.snapshot(improved)
            bar.update(1)
        for j, m in enumerate(group.members):
            if not hists[m].stopped and epoch >= cfgs[m]["max_epochs"]:
                hists[m].stopped = "max epochs"
                stopped.append(j)
        done = set(stopped)
        for j in sorted(done):
            m = group.members[j]
            hists[m].seconds = time.perf_counter() - start
            finish(m, group.best_dae(j), hists[m])
        remaining = [j for j in range(len(group.members)) if j not in done]
        if not remaining:
            break
        if stopped:
            group.keep(remaining)
        bar.set_postfix(active=len(remaining),
                        best=f"{min(hists[m].best_val_loss for m in group.members):.2f}")
        if checkpoint is not None and checkpoint.due():
            checkpoint.save(group, hists[members[0]], epoch, time.perf_counter() - start)
        if deadline is not None and time.monotonic() > deadline:
            bar.close()
            raise DeadlineReached(f"the deadline passed with {len(remaining)} members of a "
                                  "group still training; finished members were handed over")
        epoch += 1
    bar.close()
