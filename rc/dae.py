"""The denoising autoencoder (DAE) of the paper and its training procedure.

One fully connected hidden layer, a linear output layer squashed by a logistic sigmoid
(the Bernoulli means), trained to undo salt-and-pepper noise with the binomial
cross-entropy, plain SGD, minibatches of 100 and early stopping (PROTOCOL.md).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from ._checks import as_binary_images, check_choice, check_positive_int

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


def resolve_device(device=None) -> torch.device:
    """``device`` as a torch.device; None picks CUDA when available, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class DAE(nn.Module):
    """Input -> hidden layer (relu | tanh | sigmoid) -> linear -> sigmoid Bernoulli means.

    Weights start Glorot-uniform (+-sqrt(6 / (fan_in + fan_out))) with zero biases, drawn
    from ``seed`` (or torch's global generator when ``seed`` is None). The paper does not
    give its initialisation; PyTorch's default (+-1/sqrt(fan_in), biases included) killed
    most ReLU units of the Bars DAE at Table 1's learning rate of 0.77 and RC failed
    (AMI 0.07), whereas Glorot reached 0.93 (see the library notes in the book).
    """

    def __init__(self, n_pixels: int, n_hidden: int, activation: str = "relu",
                 seed: int | None = None):
        super().__init__()
        n_pixels = check_positive_int(n_pixels, "n_pixels")
        n_hidden = check_positive_int(n_hidden, "n_hidden")
        activation = check_choice(str(activation).lower(), "activation", ACTIVATIONS)
        self.n_pixels, self.n_hidden, self.activation = n_pixels, n_hidden, activation
        self.encoder = nn.Linear(n_pixels, n_hidden)
        self.decoder = nn.Linear(n_hidden, n_pixels)
        self._act = ACTIVATIONS[activation]
        self.reset_parameters(seed)

    @property
    def config(self) -> dict:
        return {"n_pixels": self.n_pixels, "n_hidden": self.n_hidden,
                "activation": self.activation}

    @torch.no_grad()
    def reset_parameters(self, seed: int | None = None) -> None:
        """Fresh Glorot-uniform weights and zero biases, from ``seed`` if given."""
        g = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        for layer in (self.encoder, self.decoder):
            bound = math.sqrt(6.0 / (layer.in_features + layer.out_features))
            layer.weight.copy_((torch.rand(layer.weight.shape, generator=g) * 2 - 1) * bound)
            layer.bias.zero_()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden representation theta = f(x)."""
        if x.shape[-1] != self.n_pixels:
            raise ValueError(
                f"the DAE expects inputs with {self.n_pixels} pixels in the last "
                f"dimension; got a tensor of shape {tuple(x.shape)}"
            )
        return self._act(self.encoder(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-sigmoid outputs (used by the numerically stable training loss)."""
        return self.decoder(self.encode(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Bernoulli means mu = g(f(x)) in (0, 1)."""
        return torch.sigmoid(self.logits(x))


def salt_and_pepper(x: torch.Tensor, p: float, generator: torch.Generator | None = None
                    ) -> torch.Tensor:
    """Corrupt each pixel with probability ``p``: a corrupted pixel becomes 1 or 0 (1/2 each).

    One uniform draw per pixel decides both: u < p/2 -> 1, p/2 <= u < p -> 0, else kept.
    """
    if p <= 0:
        return x
    u = torch.rand(x.shape, generator=generator, device=x.device)
    return torch.where(u < p, (u < p / 2).to(x.dtype), x)


def bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binomial cross-entropy summed over pixels and averaged over the minibatch."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / target.shape[0]


@dataclass
class TrainHistory:
    """What happened while training: per-epoch losses (index 0 = before training)."""

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


def _flat_images(images) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim == 2:  # already flattened (N, n_pixels)
        arr = arr[:, :, None]
    return as_binary_images(arr).reshape(arr.shape[0], -1)


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


def train_dae(dae: DAE, images, *, learning_rate: float, noise: float,
              batch_size: int = 100, max_epochs: int = 500, patience: int = 10,
              val_fraction: float = 0.1, seed: int = 0, device=None,
              max_seconds: float | None = None, progress: bool = True) -> TrainHistory:
    """Train ``dae`` in place as in the paper and return its :class:`TrainHistory`.

    The first ``1 - val_fraction`` of ``images`` train, the rest validate. Each epoch
    visits the training images in a fresh random order, corrupting each minibatch with
    salt-and-pepper noise of probability ``noise``; the validation loss is measured on a
    fresh corruption of the validation images every epoch, as a noise layer in the
    network would (this stops training on heavily corrupted data earlier than a fixed
    corruption would, which on MNIST+Shape gives the better binding DAE).
    Training stops after ``patience`` epochs without a new best validation loss, after
    ``max_epochs``, after ``max_seconds`` of wall time (a budget for slow machines, not
    part of the paper's protocol), or when the loss becomes non-finite; the best weights
    are restored.
    Everything runs on ``device`` (default: CUDA if available) without host copies.
    """
    if not isinstance(dae, DAE):
        raise ValueError(f"train_dae needs an rc.DAE; got {type(dae).__name__}")
    x_all = _flat_images(images)
    if x_all.shape[1] != dae.n_pixels:
        raise ValueError(
            f"images have {x_all.shape[1]} pixels but the DAE expects {dae.n_pixels}"
        )
    if not (0.0 <= float(noise) < 1.0):
        raise ValueError(f"noise must be a probability in [0, 1); got {noise}")
    if not (float(learning_rate) > 0 and math.isfinite(float(learning_rate))):
        raise ValueError(f"learning_rate must be a positive number; got {learning_rate}")
    batch_size = check_positive_int(batch_size, "batch_size")
    max_epochs = check_positive_int(max_epochs, "max_epochs", minimum=0)
    patience = check_positive_int(patience, "patience")
    n_train = train_split(len(x_all), val_fraction)

    dev = resolve_device(device)
    dae.to(dev)
    x = torch.from_numpy(x_all).to(dev)
    x_train, x_val = x[:n_train], x[n_train:]
    gen = torch.Generator(device=dev).manual_seed(int(seed))
    opt = torch.optim.SGD(dae.parameters(), lr=float(learning_rate))

    @torch.no_grad()
    def val_loss() -> float:  # on a fresh corruption of the validation images
        x_val_noisy = salt_and_pepper(x_val, noise, gen)
        total = 0.0
        for i in range(0, len(x_val), 1000):
            total += float(bce_loss(dae.logits(x_val_noisy[i:i + 1000]), x_val[i:i + 1000])
                           ) * len(x_val[i:i + 1000])
        return total / len(x_val)

    hist = TrainHistory(device=str(dev), config={
        **dae.config, "learning_rate": float(learning_rate), "noise": float(noise),
        "batch_size": batch_size, "max_epochs": max_epochs, "patience": patience,
        "val_fraction": val_fraction, "seed": int(seed), "n_train": n_train,
        "n_val": len(x_val)})
    best_state = {k: v.detach().clone() for k, v in dae.state_dict().items()}
    hist.val_loss.append(val_loss())
    hist.train_loss.append(float("nan"))
    hist.best_val_loss = hist.val_loss[0]
    start = time.perf_counter()
    bar = tqdm(range(1, max_epochs + 1), disable=not progress, leave=False,
               desc=f"DAE {dae.n_hidden} {dae.activation}")
    hist.stopped = "max epochs"
    for epoch in bar:
        dae.train()
        order = torch.randperm(n_train, generator=gen, device=dev)
        total = torch.zeros((), device=dev)
        for i in range(0, n_train, batch_size):
            batch = x_train[order[i:i + batch_size]]
            loss = bce_loss(dae.logits(salt_and_pepper(batch, noise, gen)), batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(batch)
        hist.train_loss.append(float(total) / n_train)
        hist.val_loss.append(val_loss())
        hist.epochs = epoch
        current = hist.val_loss[-1]
        if not math.isfinite(current) or not math.isfinite(hist.train_loss[-1]):
            hist.stopped = "diverged"
            break
        if current < hist.best_val_loss:
            hist.best_val_loss, hist.best_epoch = current, epoch
            best_state = {k: v.detach().clone() for k, v in dae.state_dict().items()}
        elif epoch - hist.best_epoch >= patience:
            hist.stopped = "early stopping"
            break
        bar.set_postfix(val=f"{current:.2f}", best=f"{hist.best_val_loss:.2f}")
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            hist.stopped = "time limit"
            break
    bar.close()
    dae.load_state_dict(best_state)
    dae.eval()
    hist.seconds = time.perf_counter() - start
    return hist


def save_dae(path, dae: DAE, history: TrainHistory | None = None, **meta) -> Path:
    """Write the DAE's config, weights, optional training history and metadata to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "config": dae.config,
        "state_dict": {k: v.detach().cpu() for k, v in dae.state_dict().items()},
        "history": history.to_dict() if history is not None else None,
        # plain JSON types only, so that loading needs no pickled classes
        "meta": json.loads(json.dumps(meta, default=str)),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_dae(path, device=None) -> tuple[DAE, dict]:
    """Read a DAE saved by :func:`save_dae`; returns (dae, {"history": ..., "meta": ...})."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no saved DAE at {path}")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    dae = DAE(**payload["config"])
    dae.load_state_dict(payload["state_dict"])
    dae.to(resolve_device(device)).eval()
    return dae, {"history": payload.get("history"), "meta": payload.get("meta", {})}
