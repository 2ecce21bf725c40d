"""Train a population of DAEs at once: the random search's many small networks, batched.

The paper's random search trains ~1,700 small DAEs. Trained one by one, each spends most
of its time on per-minibatch overhead (Python, kernel launches) rather than arithmetic.
:func:`train_population` trains many of them side by side instead: members with the same
architecture (hidden units, activation) form a *group* whose parameters are stacked,

    W1 (M, D, H)   b1 (M, 1, H)   W2 (M, H, D)   b2 (M, 1, D),

and one batched matrix product (``torch.baddbmm`` / ``torch.bmm``) serves all M members
of a minibatch step. The members stay independent: each has its own learning rate, noise
level, early stopping, best-weights snapshot and random stream.

Each member reproduces :func:`rc.dae.train_dae` run alone with the same configuration and
seed, up to float rounding (batched products sum in a different order):

* its weights start as ``DAE(D, n_hidden, activation, seed=seed)``'s;
* its own ``torch.Generator`` seeded with ``seed`` is used in train_dae's order: the
  validation corruption before training, then per epoch one ``randperm``, per minibatch
  one salt-and-pepper draw and a fresh validation corruption (no draws when
  ``noise == 0``, as in :func:`rc.dae.salt_and_pepper`);
* its loss is the binomial cross-entropy summed over pixels and averaged over the
  minibatch, minimised by plain SGD; the gradients are written out by hand (the exact
  formulas autograd uses), which saves the autograd graph on every step;
* epoch 0 is the validation loss before training; training stops after ``patience``
  epochs without a new best validation loss ("early stopping"), at ``max_epochs``
  ("max epochs"), after ``max_seconds`` ("time limit") or when a loss is not finite
  ("diverged"); the best weights are kept.

A member that stops leaves its group (the stacked tensors are compacted), so finished
members cost nothing, and is handed to ``on_member_done`` right away, so that a
resumable search can persist it before the rest of the group finishes.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from ._checks import check_choice, check_positive_int
from .dae import (ACTIVATIONS, DAE, TrainHistory, _flat_images, resolve_device,
                  salt_and_pepper, train_split)

__all__ = ["CONFIG_KEYS", "population_groups", "train_population"]

#: Keys every member configuration must have. ``"max_epochs"`` may be added to override
#: the population's ``max_epochs`` for one member (e.g. a compute cap that depends on the
#: architecture); other keys are ignored.
CONFIG_KEYS = ("learning_rate", "noise", "n_hidden", "activation", "seed")

#: Called as ``on_member_done(index, dae, history)`` when member ``index`` has finished.
MemberCallback = Callable[[int, DAE, TrainHistory], None]

#: Largest number of elements of one (members, images, units) temporary of the
#: validation pass (64 MB of float32); the validation images are processed in chunks.
_VAL_ELEMENTS = 1 << 24


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
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"configs[{i}]: seed must be an integer; got {seed!r}")
    cap = check_positive_int(cfg.get("max_epochs", max_epochs), f"configs[{i}] max_epochs",
                             minimum=0)
    return {"learning_rate": lr, "noise": noise, "n_hidden": n_hidden,
            "activation": activation, "seed": int(seed), "max_epochs": cap}


def population_groups(configs: Sequence[Mapping[str, Any]], max_members: int | None = None
                      ) -> list[list[int]]:
    """Indices of ``configs`` trained together: one group per (n_hidden, activation).

    Groups come in the order of their first member; a group larger than ``max_members``
    is split into consecutive sub-groups of at most that many members.
    """
    if max_members is not None:
        max_members = check_positive_int(max_members, "max_members")
    by_arch: dict[tuple[int, str], list[int]] = {}
    for i, cfg in enumerate(configs):
        key = (int(cfg["n_hidden"]), str(cfg["activation"]).lower())
        by_arch.setdefault(key, []).append(i)
    groups = []
    for members in by_arch.values():
        step = max_members or len(members)
        groups += [members[j:j + step] for j in range(0, len(members), step)]
    return groups


# ---------------------------------------------------------------------------- maths
def _act_backward_(activation: str, h: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``grad`` (w.r.t. the activation output ``h``) -> gradient w.r.t. its input, in place.

    The formulas of autograd's relu / tanh / sigmoid backward, written with the output.
    """
    if activation == "relu":
        return grad.masked_fill_(h <= 0, 0.0)
    if activation == "tanh":
        return grad.mul_(1 - h * h)
    return grad.mul_((1 - h) * h)  # sigmoid


def _sgd_step(params: list[torch.Tensor], activation: str, x_noisy: torch.Tensor,
              x_clean: torch.Tensor, neg_lr: torch.Tensor) -> torch.Tensor:
    """One SGD step of every member on its minibatch; returns the members' losses (M,).

    ``x_noisy`` / ``x_clean`` are (M, B, D); the loss of a member is the cross-entropy
    summed over pixels and averaged over its B images; ``neg_lr`` is (M, 1, 1).
    """
    w1, b1, w2, b2 = params
    n = x_clean.shape[1]
    h = ACTIVATIONS[activation](torch.baddbmm(b1, x_noisy, w1))   # (M, B, H)
    z = torch.baddbmm(b2, h, w2)                                   # (M, B, D) logits
    loss = F.binary_cross_entropy_with_logits(z, x_clean, reduction="none").sum((1, 2)) / n
    g_z = torch.sigmoid(z).sub_(x_clean).mul_(1.0 / n)            # dL/dz
    g_pre = _act_backward_(activation, h, torch.bmm(g_z, w2.transpose(1, 2)))
    w2.addcmul_(torch.bmm(h.transpose(1, 2), g_z), neg_lr)
    b2.addcmul_(g_z.sum(1, keepdim=True), neg_lr)
    w1.addcmul_(torch.bmm(x_noisy.transpose(1, 2), g_pre), neg_lr)
    b1.addcmul_(g_pre.sum(1, keepdim=True), neg_lr)
    return loss


def _val_losses(params: list[torch.Tensor], activation: str, x_val: torch.Tensor,
                val_noisy: torch.Tensor) -> torch.Tensor:
    """Mean validation loss of every member (M,), float64, from its corrupted inputs."""
    w1, b1, w2, b2 = params
    m, (n_val, d), h = w1.shape[0], x_val.shape, w1.shape[2]
    chunk = max(1, min(1000, _VAL_ELEMENTS // (m * max(d, h))))
    total = torch.zeros(m, dtype=torch.float64, device=x_val.device)
    for i in range(0, n_val, chunk):
        xn = val_noisy[:, i:i + chunk].to(x_val.dtype)
        z = torch.baddbmm(b2, ACTIVATIONS[activation](torch.baddbmm(b1, xn, w1)), w2)
        target = x_val[i:i + chunk].expand_as(z)
        total += F.binary_cross_entropy_with_logits(z, target, reduction="none"
                                                    ).sum((1, 2)).double()
    return total / n_val


# ---------------------------------------------------------------------------- training
class _Group:
    """Stacked state of the members of one (n_hidden, activation) group still training."""

    def __init__(self, members: list[int], cfgs: list[dict], daes: list[DAE],
                 x_val: torch.Tensor, batch_size: int, dev: torch.device):
        self.members = list(members)
        self.cfgs = [cfgs[m] for m in members]
        self.daes = daes
        self.activation = self.cfgs[0]["activation"]
        t = lambda values: torch.tensor(values, dtype=torch.float32, device=dev).view(-1, 1, 1)
        with torch.no_grad():
            self.params = [
                torch.stack([d.encoder.weight.t() for d in daes]).to(dev),         # W1 (M,D,H)
                torch.stack([d.encoder.bias for d in daes]).unsqueeze(1).to(dev),  # b1 (M,1,H)
                torch.stack([d.decoder.weight.t() for d in daes]).to(dev),         # W2 (M,H,D)
                torch.stack([d.decoder.bias for d in daes]).unsqueeze(1).to(dev),  # b2 (M,1,D)
            ]
        self.best = [p.clone() for p in self.params]
        self.neg_lr = t([-c["learning_rate"] for c in self.cfgs])
        self.p = t([c["noise"] for c in self.cfgs])
        self.p_half = t([c["noise"] / 2 for c in self.cfgs])  # as salt_and_pepper's p / 2
        self.gens = [torch.Generator(device=dev).manual_seed(c["seed"]) for c in self.cfgs]
        self.batch_size, self.dev = batch_size, dev
        self._new_noise_buffer()

    def _new_noise_buffer(self) -> None:
        # ones: members without noise draw nothing and their u must never be < p = 0
        self.u = torch.ones(len(self.members), self.batch_size, self.params[0].shape[1],
                            device=self.dev)
        self.noisy = [j for j, c in enumerate(self.cfgs) if c["noise"] > 0]

    def epoch(self, x_train: torch.Tensor) -> torch.Tensor:
        """One epoch of every member; returns their mean training losses (M,), float64."""
        n_train = x_train.shape[0]
        order = torch.stack([torch.randperm(n_train, generator=g, device=self.dev)
                             for g in self.gens])
        total = torch.zeros(len(self.members), device=self.dev)
        for i in range(0, n_train, self.batch_size):
            batch = x_train[order[:, i:i + self.batch_size]]        # (M, B, D), one gather
            n = batch.shape[1]
            if self.noisy:
                u = self.u[:, :n]
                for j in self.noisy:
                    u[j].uniform_(0.0, 1.0, generator=self.gens[j])  # = salt_and_pepper's rand
                noisy = torch.where(u < self.p, (u < self.p_half).to(batch.dtype), batch)
            else:
                noisy = batch
            total += _sgd_step(self.params, self.activation, noisy, batch, self.neg_lr) * n
        return total.double() / n_train

    def val_losses(self, x_val: torch.Tensor) -> torch.Tensor:
        """Validation losses (M,) on a fresh corruption of ``x_val`` per member, drawn from
        each member's stream as train_dae draws it (binary, kept as bool)."""
        val_noisy = torch.stack([salt_and_pepper(x_val, c["noise"], g).bool()
                                 for c, g in zip(self.cfgs, self.gens)])
        return _val_losses(self.params, self.activation, x_val, val_noisy)

    def snapshot(self, positions: list[int]) -> None:
        """Current weights of the members at ``positions`` become their best weights."""
        if positions:
            idx = torch.tensor(positions, device=self.dev)
            for best, p in zip(self.best, self.params):
                best.index_copy_(0, idx, p.index_select(0, idx))

    def best_dae(self, j: int) -> DAE:
        """The member at position ``j`` as an ``rc.DAE`` with its best weights, eval mode."""
        dae = self.daes[j].to(self.dev)
        w1, b1, w2, b2 = (b[j] for b in self.best)
        with torch.no_grad():
            dae.encoder.weight.copy_(w1.t())
            dae.encoder.bias.copy_(b1[0])
            dae.decoder.weight.copy_(w2.t())
            dae.decoder.bias.copy_(b2[0])
        return dae.eval()

    def keep(self, positions: list[int]) -> None:
        """Drop every member but those at ``positions`` (compacting the stacked tensors)."""
        idx = torch.tensor(positions, dtype=torch.long, device=self.dev)
        sel = lambda t: t.index_select(0, idx)
        self.params, self.best = [sel(p) for p in self.params], [sel(b) for b in self.best]
        self.neg_lr, self.p, self.p_half = sel(self.neg_lr), sel(self.p), sel(self.p_half)
        for name in ("members", "cfgs", "daes", "gens"):
            setattr(self, name, [getattr(self, name)[j] for j in positions])
        self._new_noise_buffer()


def _train_group(members: list[int], cfgs: list[dict], hists: list[TrainHistory],
                 x_train: torch.Tensor, x_val: torch.Tensor, *, batch_size: int,
                 patience: int, max_seconds: float | None, dev: torch.device,
                 progress: bool, finish: Callable[[int, DAE, TrainHistory], None]) -> None:
    """Train one group; ``finish(index, dae, history)`` receives each member as it stops."""
    d = x_train.shape[1]
    daes = [DAE(d, cfgs[m]["n_hidden"], cfgs[m]["activation"], seed=cfgs[m]["seed"])
            for m in members]
    group = _Group(members, cfgs, daes, x_val, batch_size, dev)
    with torch.no_grad():
        val0 = group.val_losses(x_val).tolist()
    for m, v in zip(group.members, val0):
        hists[m].val_loss.append(v)
        hists[m].train_loss.append(float("nan"))
        hists[m].best_val_loss = v
    start = time.perf_counter()
    cap = max(cfgs[m]["max_epochs"] for m in members)
    bar = tqdm(total=cap, disable=not progress, leave=False,
               desc=f"DAEs {cfgs[members[0]]['n_hidden']} {group.activation} x{len(members)}")
    epoch = 0
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
                if not (math.isfinite(vl) and math.isfinite(tl)):
                    h.stopped = "diverged"
                elif vl < h.best_val_loss:
                    h.best_val_loss, h.best_epoch = vl, epoch
                    improved.append(j)
                elif epoch - h.best_epoch >= patience:
                    h.stopped = "early stopping"
                if not h.stopped and out_of_time:
                    h.stopped = "time limit"
                if h.stopped:
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
        epoch += 1
    bar.close()


def train_population(images, configs: Sequence[Mapping[str, Any]], *, batch_size: int = 100,
                     max_epochs: int = 500, patience: int = 10, val_fraction: float = 0.1,
                     device=None, max_members: int | None = None,
                     max_seconds: float | None = None, progress: bool = True,
                     on_member_done: MemberCallback | None = None
                     ) -> list[tuple[DAE, TrainHistory]]:
    """Train one DAE per configuration on ``images``, many at once; see the module doc.

    ``configs[i]`` holds ``learning_rate``, ``noise``, ``n_hidden``, ``activation`` and
    ``seed`` (initialisation and training stream, as ``train_dae(DAE(..., seed=s), ...,
    seed=s)``), optionally ``max_epochs`` (overrides the argument for that member). All
    members train on the same binary ``images`` (N, H, W) with the same split, batch size
    and patience. Members of one (n_hidden, activation) group train side by side, at
    most ``max_members`` at a time (None: the whole group; lower it to bound memory);
    groups train one after the other. ``max_seconds`` bounds each (sub-)group's wall time.

    ``on_member_done(index, dae, history)`` is called as soon as member ``index`` has
    stopped. Returns ``(dae, history)`` per configuration, in the order of ``configs``:
    ``rc.DAE`` modules with the best weights, in eval mode, on ``device`` (default: CUDA
    if available), and :class:`TrainHistory` objects filled as :func:`rc.train_dae`
    fills them, except that ``seconds`` is the wall time of the member's (sub-)group
    from the start of training until the member stopped.
    """
    if isinstance(configs, Mapping) or not isinstance(configs, Sequence):
        raise ValueError(f"configs must be a list of dicts; got {type(configs).__name__}")
    if len(configs) == 0:
        raise ValueError("configs is empty: a population needs at least one member")
    x_all = _flat_images(images)
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
    n_train = train_split(len(x_all), val_fraction)

    dev = resolve_device(device)
    x = torch.from_numpy(x_all).to(dev)
    x_train, x_val = x[:n_train], x[n_train:]
    d = x_all.shape[1]
    hists = [TrainHistory(device=str(dev), config={
        "n_pixels": d, "n_hidden": c["n_hidden"], "activation": c["activation"],
        "learning_rate": c["learning_rate"], "noise": c["noise"], "batch_size": batch_size,
        "max_epochs": c["max_epochs"], "patience": patience, "val_fraction": val_fraction,
        "seed": c["seed"], "n_train": n_train, "n_val": len(x_val)}) for c in cfgs]
    results: list[tuple[DAE, TrainHistory] | None] = [None] * len(cfgs)

    def finish(index: int, dae: DAE, hist: TrainHistory) -> None:
        results[index] = (dae, hist)
        if on_member_done is not None:
            on_member_done(index, dae, hist)

    for members in population_groups(cfgs, max_members):
        _train_group(members, cfgs, hists, x_train, x_val, batch_size=batch_size,
                     patience=patience, max_seconds=max_seconds, dev=dev,
                     progress=progress, finish=finish)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]
