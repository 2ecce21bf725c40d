"""Training any ``torch.nn.Module`` with the paper's procedure: the loop of
:mod:`rc.training_loop` with autograd and a ``torch.optim`` optimiser for the step."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from ._checks import check_choice, check_positive_int
from .dae import resolve_device, salt_and_pepper
from .training_inputs import flat_images, member_config, train_split
from .training_loop import TrainHistory, train_group

__all__ = ["OPTIMIZERS", "ModuleLoss", "reconstruction_loss", "train_module"]

#: ``loss(model, x_noisy, x_clean) -> scalar``: the training loss of :func:`train_module`.
ModuleLoss = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def reconstruction_loss(model: torch.nn.Module, x_noisy: torch.Tensor,
                        x_clean: torch.Tensor) -> torch.Tensor:
    """The DAE's loss: binomial cross-entropy of ``model.logits(x_noisy)`` against the
    clean images, summed over pixels and averaged over the minibatch."""
    return F.binary_cross_entropy_with_logits(model.logits(x_noisy), x_clean,
                                              reduction="sum") / x_clean.shape[0]


class _ModuleGroup:
    """One autograd-trained module with the interface of
    :class:`~rc.batched_dae.DAEGroup` (a group of one), so that it shares the training loop
    (:func:`~rc.training_loop.train_group`)."""

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

    The loop of :func:`~rc.training.train_dae` (the same corruption, minibatches,
    validation on fresh corruptions, early stopping and best weights;
    :func:`~rc.training_loop.train_group`), with autograd and ``torch.optim.SGD`` (the
    paper's plain SGD; or Adam) for the step, so that models other than the fully connected
    DAE (e.g. :class:`rc.beyond.conv.ConvDAE`) and other losses (e.g. through unrolled RC,
    :mod:`rc.beyond.rc_training`) train the same way.

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
        As for :func:`~rc.training.train_dae`.
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
    cfg = member_config({"learning_rate": learning_rate, "noise": noise,
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
    train_group(group, [cfg], [hist], x[:n_train], x[n_train:], patience=patience,
                 max_seconds=None, progress=progress, finish=lambda *a: None,
                 deadline=deadline)
    return hist
