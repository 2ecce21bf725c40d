"""The one training loop of the project: DAEs trained as in the paper, one or many at once.

:func:`train_dae` trains one DAE; :func:`train_population` trains many side by side (the
random searches' ~1,700 small networks). Both run the same code: a single DAE is a
population of one. Members with the same architecture (hidden units, activation) form a
*group* whose parameters are stacked,

    W1 (M, D, H)   b1 (M, 1, H)   W2 (M, H, D)   b2 (M, 1, D),

and one batched matrix product (``torch.baddbmm`` / ``torch.bmm``) serves all M members
of a minibatch step. The members stay independent: each has its own learning rate, noise
level, early stopping, best-weights snapshot and random stream.

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
"""
from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from ._checks import as_binary_images, as_unit_images, check_choice, check_positive_int
from .dae import ACTIVATIONS, DAE, INITS, resolve_device, salt_and_pepper
from .storage import CorruptFileError, json_digest, read_npz, read_npz_doc, write_npz

__all__ = ["CHECKPOINT_SECONDS", "CONFIG_KEYS", "GROUPINGS", "VERSION", "DeadlineReached",
           "StoppingStep", "TrainHistory", "checkpoint_progress", "groups_to_train",
           "members_at_once", "population_groups",
           "reconstruction_loss", "stopping_rule", "train_module", "train_dae",
           "train_population", "train_split"]

#: Version of the training procedure; part of every cached DAE's key. Bump it when a change
#: alters what training produces (e.g. the order of random draws or the stopping rule).
VERSION = 1

#: Keys every member configuration must have. ``"max_epochs"`` may be added to override
#: the population's ``max_epochs`` for one member (e.g. a compute cap that depends on the
#: architecture) and ``"init"`` to choose its initialisation (:data:`rc.dae.INITS`,
#: default ``"brainstorm"``); other keys are ignored.
CONFIG_KEYS = ("learning_rate", "noise", "n_hidden", "activation", "seed")


#: Largest number of elements of one (members, images, units) temporary of the
#: validation pass (64 MB of float32); the validation images are processed in chunks.
_VAL_ELEMENTS = 1 << 24
#: Noise values drawn per member at once (16 MB of float32): whole minibatches, at least one.
_NOISE_BLOCK = 1 << 22


#: Seconds of training between two writes of a resumable training's checkpoint.
CHECKPOINT_SECONDS = 600.0


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


def flat_images(images, grey: bool = False) -> np.ndarray:
    """Binary images (N, H, W), or already flattened (N, D), as float32 (N, D); with
    ``grey``, images with grey levels in [0, 1]."""
    arr = np.asarray(images)
    if arr.ndim == 2:  # already flattened (N, n_pixels)
        arr = arr[:, :, None]
    check = as_unit_images if grey else as_binary_images
    return np.ascontiguousarray(check(arr).reshape(arr.shape[0], -1))


def train_split(n_images: int, val_fraction: float) -> int:
    """How many of ``n_images`` train (the first ones); the rest validate."""
    if not (0.0 < val_fraction < 1.0):
        raise ValueError(f"val_fraction must be in (0, 1); got {val_fraction}")
    n_train = int(n_images * (1.0 - val_fraction))
    if n_train < 1 or n_train >= n_images:
        raise ValueError(
            f"{n_images} images cannot be split into training and validation parts "
            f"with val_fraction={val_fraction}"
        )
    return n_train


#: Called as ``on_member_done(index, dae, history)`` when member ``index`` has finished.
MemberCallback = Callable[[int, DAE, TrainHistory], None]


# ---------------------------------------------------------------------------- configs
def _member_config(cfg: Any, i: int, max_epochs: int) -> dict:
    """Validated, normalised copy of ``configs[i]`` (clear ValueErrors otherwise)."""
    if not isinstance(cfg, Mapping):
        raise ValueError(f"configs[{i}] must be a dict; got {type(cfg).__name__}")
    missing = [k for k in CONFIG_KEYS if k not in cfg]
    if missing:
        raise ValueError(f"configs[{i}] lacks {missing}; every member needs {list(CONFIG_KEYS)}")
    try:
        lr, noise = float(cfg["learning_rate"]), float(cfg["noise"])
    except (TypeError, ValueError):
        raise ValueError(f"configs[{i}]: learning_rate and noise must be numbers; got "
                         f"{cfg['learning_rate']!r} and {cfg['noise']!r}") from None
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"configs[{i}]: learning_rate must be a positive number; got {lr}")
    if not (0.0 <= noise < 1.0):
        raise ValueError(f"configs[{i}]: noise must be a probability in [0, 1); got {noise}")
    n_hidden = check_positive_int(cfg["n_hidden"], f"configs[{i}] n_hidden")
    activation = check_choice(str(cfg["activation"]).lower(), f"configs[{i}] activation",
                              ACTIVATIONS)
    seed = cfg["seed"]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"configs[{i}]: seed must be an integer >= 0; got {seed!r}")
    cap = check_positive_int(cfg.get("max_epochs", max_epochs), f"configs[{i}] max_epochs",
                             minimum=0)
    init = check_choice(str(cfg.get("init", "brainstorm")).lower(), f"configs[{i}] init",
                        INITS)
    return {"learning_rate": lr, "noise": noise, "n_hidden": n_hidden,
            "activation": activation, "seed": int(seed), "max_epochs": cap, "init": init}


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


# ---------------------------------------------------------------------------- maths
def _act_backward(activation: str, h: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``grad`` (w.r.t. the activation output ``h``) -> gradient w.r.t. its input.

    The kernels autograd itself calls for relu / tanh / sigmoid, so the result is the same
    bit for bit.
    """
    if activation == "relu":
        return torch.ops.aten.threshold_backward(grad, h, 0)
    if activation == "tanh":
        return torch.ops.aten.tanh_backward(grad, h)
    return torch.ops.aten.sigmoid_backward(grad, h)


#: The activations of a group: (activation, first member, end) ranges over its members.
Ranges = list[tuple[str, int, int]]


def _hidden(ranges: Ranges, pre: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Hidden activations, each member's own; padded units (``mask`` 0) are held at 0."""
    if len(ranges) == 1:
        h = ACTIVATIONS[ranges[0][0]](pre)
    else:
        h = torch.empty_like(pre)
        for act, a, b in ranges:
            h[a:b] = ACTIVATIONS[act](pre[a:b])
    return h if mask is None else h.mul_(mask)


def _hidden_backward(ranges: Ranges, h: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Gradient w.r.t. the pre-activations, each member with its own activation."""
    if len(ranges) == 1:
        return _act_backward(ranges[0][0], h, grad)
    out = torch.empty_like(grad)
    for act, a, b in ranges:
        out[a:b] = _act_backward(act, h[a:b], grad[a:b])
    return out


def _sgd_step(params: list[torch.Tensor], ranges: Ranges, x_noisy: torch.Tensor,
              x_clean: torch.Tensor, neg_lr: torch.Tensor,
              mask: torch.Tensor | None = None) -> torch.Tensor:
    """One SGD step of every member on its minibatch; returns the members' losses (M,).

    ``x_noisy`` / ``x_clean`` are (M, B, D); the loss of a member is the cross-entropy
    summed over pixels and averaged over its B images; ``neg_lr`` is (M, 1, 1). With a
    ``mask`` (M, 1, H) of padded hidden units, those units output 0, so their weights
    receive zero gradients and stay 0.
    """
    w1, b1, w2, b2 = params
    n = x_clean.shape[1]
    h = _hidden(ranges, torch.baddbmm(b1, x_noisy, w1), mask)  # (M, B, H)
    z = torch.baddbmm(b2, h, w2)                                   # (M, B, D) logits
    loss = F.binary_cross_entropy_with_logits(z, x_clean, reduction="none").sum((1, 2)) / n
    g_z = torch.sigmoid(z).sub_(x_clean).mul_(1.0 / n)            # dL/dz
    g_pre = _hidden_backward(ranges, h, torch.bmm(g_z, w2.transpose(1, 2)))
    w2.addcmul_(torch.bmm(h.transpose(1, 2), g_z), neg_lr)
    b2.addcmul_(g_z.sum(1, keepdim=True), neg_lr)
    w1.addcmul_(torch.bmm(x_noisy.transpose(1, 2), g_pre), neg_lr)
    b1.addcmul_(g_pre.sum(1, keepdim=True), neg_lr)
    return loss


def _val_losses(params: list[torch.Tensor], ranges: Ranges, x_val: torch.Tensor,
                val_noisy: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean validation loss of every member (M,), float64, from its corrupted inputs."""
    w1, b1, w2, b2 = params
    m, (n_val, d), h = w1.shape[0], x_val.shape, w1.shape[2]
    chunk = max(1, min(1000, _VAL_ELEMENTS // (m * max(d, h))))
    total = torch.zeros(m, dtype=torch.float64, device=x_val.device)
    for i in range(0, n_val, chunk):
        xn = val_noisy[:, i:i + chunk].to(x_val.dtype)
        z = torch.baddbmm(b2, _hidden(ranges, torch.baddbmm(b1, xn, w1), mask), w2)
        target = x_val[i:i + chunk].expand_as(z)
        total += F.binary_cross_entropy_with_logits(z, target, reduction="none"
                                                    ).sum((1, 2)).double()
    return total / n_val


# ---------------------------------------------------------------------------- training
class _Group:
    """Stacked state of the members of one group still training.

    Members narrower than the group's widest hold zeros in their extra hidden units,
    masked to stay zero; members of mixed activations are ordered by activation, and each
    activation is applied to its range of members.
    """

    def __init__(self, members: list[int], cfgs: list[dict], daes: list[DAE],
                 x_val: torch.Tensor, batch_size: int, dev: torch.device):
        self.members = list(members)
        self.cfgs = [cfgs[m] for m in members]
        self.daes = daes
        self.widths = [d.n_hidden for d in daes]
        width = max(self.widths)

        def t(values):
            return torch.tensor(values, dtype=torch.float32, device=dev).view(-1, 1, 1)

        def pad(x, dim):  # zero-pad the hidden dimension ``dim`` of one member to ``width``
            extra = width - x.shape[dim]
            if not extra:
                return x
            shape = list(x.shape)
            shape[dim] = extra
            return torch.cat([x, x.new_zeros(shape)], dim)

        with torch.no_grad():
            self.params = [
                torch.stack([pad(d.encoder.weight.t(), 1) for d in daes]).to(dev),  # W1 (M,D,H)
                torch.stack([pad(d.encoder.bias, 0) for d in daes]).unsqueeze(1).to(dev),
                torch.stack([pad(d.decoder.weight.t(), 0) for d in daes]).to(dev),  # W2 (M,H,D)
                torch.stack([d.decoder.bias for d in daes]).unsqueeze(1).to(dev),  # b2 (M,1,D)
            ]
        self.mask = None
        if len(set(self.widths)) > 1:
            self.mask = (torch.arange(width, device=dev)[None, None, :]
                         < torch.tensor(self.widths, device=dev)[:, None, None]).float()
        self.best = [p.clone() for p in self.params]
        self.neg_lr = t([-c["learning_rate"] for c in self.cfgs])
        self.noise = t([c["noise"] for c in self.cfgs])
        self.noise_half = t([c["noise"] / 2 for c in self.cfgs])  # as salt_and_pepper's p / 2
        self.gens = [torch.Generator(device=dev).manual_seed(c["seed"]) for c in self.cfgs]
        self.batch_size, self.dev = batch_size, dev
        self.binary_val = bool(((x_val == 0) | (x_val == 1)).all())
        self._set_ranges()
        d = self.params[0].shape[1]
        #: minibatches whose noise is drawn at once: a function of the image size only, so
        #: that a member's random stream does not depend on its group
        self.block_steps = max(1, _NOISE_BLOCK // (batch_size * d))
        self._new_noise_buffer()

    @property
    def name(self) -> str:
        acts = "/".join(a for a, _, _ in self.ranges)
        widths = sorted(set(self.widths))
        return f"{widths[0] if len(widths) == 1 else f'{widths[0]}-{widths[-1]}'} {acts}"

    def _set_ranges(self) -> None:
        acts = [c["activation"] for c in self.cfgs]
        if acts != sorted(acts, key=list(ACTIVATIONS).index):
            raise ValueError("internal error: a group's members must be sorted by activation")
        self.ranges: Ranges = []
        for j, act in enumerate(acts):
            if self.ranges and self.ranges[-1][0] == act:
                self.ranges[-1] = (act, self.ranges[-1][1], j + 1)
            else:
                self.ranges.append((act, j, j + 1))

    def _new_noise_buffer(self) -> None:
        # ones: members without noise draw nothing and their u must never be < p = 0
        d = self.params[0].shape[1]
        self.uniform = torch.ones(len(self.members), self.block_steps * self.batch_size, d,
                            device=self.dev)
        self.noisy = [j for j, c in enumerate(self.cfgs) if c["noise"] > 0]

    def epoch(self, x_train: torch.Tensor) -> torch.Tensor:
        """One epoch of every member; returns their mean training losses (M,), float64.

        Each member's noise is drawn for ``block_steps`` minibatches at a time from its own
        generator (one call per member and block instead of one per minibatch); on the CPU
        this gives exactly the numbers of one draw per minibatch.
        """
        n_train, bs = x_train.shape[0], self.batch_size
        order = torch.stack([torch.randperm(n_train, generator=g, device=self.dev)
                             for g in self.gens])
        total = torch.zeros(len(self.members), device=self.dev)
        starts = list(range(0, n_train, bs))
        for b0 in range(0, len(starts), self.block_steps):
            block = starts[b0:b0 + self.block_steps]
            count = min(n_train, block[-1] + bs) - block[0]   # images in this block
            for j in self.noisy:
                self.uniform[j, :count].uniform_(0.0, 1.0, generator=self.gens[j])
            for i in block:
                batch = x_train[order[:, i:i + bs]]           # (M, B, D), one gather
                n = batch.shape[1]
                if self.noisy:
                    u = self.uniform[:, i - block[0]:i - block[0] + n]
                    noisy = torch.where(u < self.noise, (u < self.noise_half).to(batch.dtype),
                                        batch)
                else:
                    noisy = batch
                total += _sgd_step(self.params, self.ranges, noisy, batch, self.neg_lr,
                                   self.mask) * n
        return total.double() / n_train

    def val_losses(self, x_val: torch.Tensor) -> torch.Tensor:
        """Validation losses (M,) on a fresh corruption of ``x_val`` per member, drawn from
        each member's stream as train_dae draws it (binary, kept as bool)."""
        noisy = [salt_and_pepper(x_val, c["noise"], g) for c, g in zip(self.cfgs, self.gens)]
        # binary inputs are kept as bool (a quarter of the memory); grey levels as they are
        val_noisy = torch.stack([v.bool() for v in noisy] if self.binary_val else noisy)
        return _val_losses(self.params, self.ranges, x_val, val_noisy, self.mask)

    def snapshot(self, positions: list[int]) -> None:
        """Current weights of the members at ``positions`` become their best weights."""
        if positions:
            idx = torch.tensor(positions, device=self.dev)
            for best, p in zip(self.best, self.params):
                best.index_copy_(0, idx, p.index_select(0, idx))

    def best_dae(self, j: int) -> DAE:
        """The member at position ``j`` as an ``rc.DAE`` with its best weights, eval mode."""
        dae = self.daes[j].to(self.dev)
        h = self.widths[j]
        w1, b1, w2, b2 = (b[j] for b in self.best)
        with torch.no_grad():
            dae.encoder.weight.copy_(w1[:, :h].t())
            dae.encoder.bias.copy_(b1[0, :h])
            dae.decoder.weight.copy_(w2[:h].t())
            dae.decoder.bias.copy_(b2[0])
        return dae.eval()

    def keep(self, positions: list[int]) -> None:
        """Drop every member but those at ``positions`` (compacting the stacked tensors)."""
        idx = torch.tensor(positions, dtype=torch.long, device=self.dev)

        def sel(t):
            return t.index_select(0, idx)
        self.params, self.best = [sel(p) for p in self.params], [sel(b) for b in self.best]
        self.neg_lr, self.noise, self.noise_half = (sel(self.neg_lr), sel(self.noise),
                                                  sel(self.noise_half))
        if self.mask is not None:
            self.mask = sel(self.mask)
        for name in ("members", "cfgs", "daes", "gens", "widths"):
            setattr(self, name, [getattr(self, name)[j] for j in positions])
        self._set_ranges()
        self._new_noise_buffer()


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


class _Checkpoint:
    """The state of a single training (a :class:`_Group` of one) at the end of an epoch,
    in one ``.npz`` file: written atomically every ``every`` seconds, read back to resume.

    ``fingerprint`` names the training (configuration, split, images, device); a file that
    names another training is refused with a ValueError rather than resumed.
    """

    def __init__(self, path: Path, fingerprint: str, every: float):
        self.path, self.fingerprint, self.every = Path(path), fingerprint, every
        self.saved_at = time.perf_counter()

    def due(self) -> bool:
        """Whether ``every`` seconds have passed since the last write (or the start)."""
        return time.perf_counter() - self.saved_at >= self.every

    def save(self, group: _Group, hist: TrainHistory, epoch: int, seconds: float) -> None:
        """Write the group's weights, best weights and stream after ``epoch``."""
        arrays = {f"param{i}": p.cpu().numpy() for i, p in enumerate(group.params)}
        arrays.update({f"best{i}": b.cpu().numpy() for i, b in enumerate(group.best)})
        arrays["stream"] = group.gens[0].get_state().numpy()
        write_npz(self.path, arrays, {"fingerprint": self.fingerprint, "epoch": epoch,
                                      "seconds": seconds, "history": hist.to_dict()})
        self.saved_at = time.perf_counter()

    def restore(self, group: _Group, hists: list[TrainHistory], member: int
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


def _fingerprint(x_all: np.ndarray, cfg: dict, n_train: int, batch_size: int,
                 patience: int, dev: torch.device) -> str:
    """What identifies a single training for its checkpoint: its settings, images, device."""
    images = hashlib.sha256(x_all.data).hexdigest()  # flat_images made it contiguous
    return json_digest({"config": cfg, "n_train": n_train, "batch_size": batch_size,
                        "patience": patience, "images": images, "shape": x_all.shape,
                        "device": dev.type, "version": VERSION})


def _train_group(group, cfgs: list[dict], hists: list[TrainHistory], x_train: torch.Tensor,
                 x_val: torch.Tensor, *, patience: int, max_seconds: float | None,
                 progress: bool, finish: Callable[[int, DAE, TrainHistory], None],
                 deadline: float | None = None, checkpoint: _Checkpoint | None = None
                 ) -> None:
    """The loop of every training: epochs, validation, early stopping, history.

    ``group`` does the arithmetic (a :class:`_Group` of batched DAEs, or a
    :class:`_ModuleGroup` of one autograd-trained module): ``epoch(x_train)`` and
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
        group = _Group(members, cfgs, [daes[m] for m in members], x_val, batch_size, dev)
        _train_group(group, cfgs, hists, x_train, x_val, patience=patience,
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
                    batch_size: int, patience: int, dev: torch.device) -> _Checkpoint:
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
    return _Checkpoint(path, _fingerprint(x_all, cfgs[0], n_train, batch_size, patience, dev),
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
    cfgs = [_member_config(c, i, max_epochs) for i, c in enumerate(configs)]
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


# ---------------------------------------------------------------------------- any module
#: ``loss(model, x_noisy, x_clean) -> scalar``: the training loss of :func:`train_module`.
ModuleLoss = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def reconstruction_loss(model: torch.nn.Module, x_noisy: torch.Tensor,
                        x_clean: torch.Tensor) -> torch.Tensor:
    """The DAE's loss: binomial cross-entropy of ``model.logits(x_noisy)`` against the
    clean images, summed over pixels and averaged over the minibatch."""
    return F.binary_cross_entropy_with_logits(model.logits(x_noisy), x_clean,
                                              reduction="sum") / x_clean.shape[0]


class _ModuleGroup:
    """One autograd-trained module with the interface of :class:`_Group` (a group of one),
    so that it shares the training loop (:func:`_train_group`)."""

    def __init__(self, model: torch.nn.Module, cfg: dict, loss: ModuleLoss,
                 batch_size: int, dev: torch.device, optimizer: str = "sgd"):
        self.members, self.cfgs, self.daes = [0], [cfg], [model]
        self.model, self.loss, self.batch_size, self.dev = model.to(dev), loss, batch_size, dev
        self.name = type(model).__name__
        self.gens = [torch.Generator(device=dev).manual_seed(cfg["seed"])]
        make = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
        self.opt = make(model.parameters(), lr=cfg["learning_rate"])
        self.best = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def epoch(self, x_train: torch.Tensor) -> torch.Tensor:
        gen, noise = self.gens[0], self.cfgs[0]["noise"]
        n_train = x_train.shape[0]
        order = torch.randperm(n_train, generator=gen, device=self.dev)
        total = torch.zeros((), device=self.dev)
        self.model.train()
        with torch.enable_grad():
            for i in range(0, n_train, self.batch_size):
                batch = x_train[order[i:i + self.batch_size]]
                loss = self.loss(self.model, salt_and_pepper(batch, noise, gen), batch)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                total += loss.detach() * len(batch)
        self.model.eval()
        return (total.double() / n_train).reshape(1)

    def val_losses(self, x_val: torch.Tensor) -> torch.Tensor:
        noisy = salt_and_pepper(x_val, self.cfgs[0]["noise"], self.gens[0])
        total = 0.0
        for i in range(0, len(x_val), 500):
            total += float(self.loss(self.model, noisy[i:i + 500], x_val[i:i + 500])
                           ) * len(x_val[i:i + 500])
        return torch.tensor([total / len(x_val)], dtype=torch.float64)

    def snapshot(self, positions: list[int]) -> None:
        if positions:
            self.best = {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def best_dae(self, j: int) -> torch.nn.Module:
        self.model.load_state_dict(self.best)
        return self.model.eval()

    def keep(self, positions: list[int]) -> None:  # a group of one never shrinks
        pass


#: Optimisers of :func:`train_module`.
OPTIMIZERS = ("sgd", "adam")


def train_module(model: torch.nn.Module, images, *, learning_rate: float, noise: float,
                 loss: ModuleLoss = reconstruction_loss, batch_size: int = 100,
                 max_epochs: int = 500, patience: int = 10, val_fraction: float = 0.1,
                 seed: int = 0, device=None, progress: bool = True,
                 deadline: float | None = None, grey: bool = False,
                 optimizer: str = "sgd") -> TrainHistory:
    """Train any ``torch.nn.Module`` in place with the paper's procedure and loop.

    The loop of :func:`train_dae` (the same corruption, minibatches, validation on fresh
    corruptions, early stopping and best weights; :func:`_train_group`), with autograd and
    ``torch.optim.SGD`` (the paper's plain SGD; or Adam) for the step, so that models other
    than the fully connected DAE (e.g. :class:`rc.beyond.conv.ConvDAE`) and other losses
    (e.g. through unrolled RC, :mod:`rc.beyond.rc_training`) train the same way.

    Parameters
    ----------
    model : torch.nn.Module
        Maps a (B, D) batch to outputs the ``loss`` understands; with the default loss it
        needs a ``logits(x)`` method (pre-sigmoid outputs).
    images : array_like, shape (N, H, W) or (N, D)
        Training images (binary, or grey levels in [0, 1] with ``grey``).
    learning_rate, noise : float
        Step size and salt-and-pepper probability.
    loss : callable
        ``loss(model, x_noisy, x_clean)`` -> scalar tensor.
    batch_size, max_epochs, patience, val_fraction, seed, device, progress, deadline, grey
        As for :func:`train_dae`.
    optimizer : {"sgd", "adam"}
        Plain SGD (the paper's) or Adam with its default betas.

    Returns
    -------
    TrainHistory
    """
    check_choice(optimizer, "optimizer", OPTIMIZERS)
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"train_module needs a torch.nn.Module; got {type(model).__name__}")
    if not callable(loss):
        raise ValueError("loss must be callable as loss(model, x_noisy, x_clean)")
    x_all = flat_images(images, grey)
    expected = getattr(model, "n_pixels", None)
    if expected is not None and expected != x_all.shape[1]:
        raise ValueError(f"images have {x_all.shape[1]} pixels but the model expects {expected}")
    cfg = _member_config({"learning_rate": learning_rate, "noise": noise,
                          "n_hidden": getattr(model, "n_hidden", 1), "activation": "relu",
                          "seed": seed}, 0, check_positive_int(max_epochs, "max_epochs",
                                                               minimum=0))
    batch_size = check_positive_int(batch_size, "batch_size")
    patience = check_positive_int(patience, "patience")
    n_train = train_split(len(x_all), val_fraction)
    dev = resolve_device(device)
    x = torch.from_numpy(x_all).to(dev)
    hist = TrainHistory(device=str(dev), config={
        "model": type(model).__name__, "optimizer": optimizer,
        "learning_rate": cfg["learning_rate"],
        "noise": cfg["noise"], "batch_size": batch_size, "max_epochs": cfg["max_epochs"],
        "patience": patience, "val_fraction": val_fraction, "seed": cfg["seed"],
        "n_train": n_train, "n_val": len(x_all) - n_train})
    group = _ModuleGroup(model, cfg, loss, batch_size, dev, optimizer)
    _train_group(group, [cfg], [hist], x[:n_train], x[n_train:], patience=patience,
                 max_seconds=None, progress=progress, finish=lambda *a: None,
                 deadline=deadline)
    return hist
