"""The denoising autoencoder (DAE) of the paper: the model, its corruption, loss and files.

One fully connected hidden layer, a linear output layer squashed by a logistic sigmoid
(the Bernoulli means), trained (in :mod:`rc.training`) to undo salt-and-pepper noise with
the binomial cross-entropy (the book's protocol page, book/protocol.md).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._checks import check_choice, check_number, check_positive_int
from .storage import read_npz, read_npz_doc, write_npz

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}

#: Initialisation schemes of :class:`DAE`: the authors' (their framework brainstorm's
#: ``DenseSqrtFanInOut`` per activation, Gaussian biases) and plain Glorot-uniform.
INITS = ("brainstorm", "glorot")

#: brainstorm's scale of ``DenseSqrtFanInOut`` per activation (weights uniform in
#: +-scale / sqrt(fan_in + fan_out)); "linear" is the output projection before the sigmoid.
BRAINSTORM_SCALE = {"relu": math.sqrt(12.0), "tanh": math.sqrt(6.0),
                    "sigmoid": 4.0 * math.sqrt(6.0), "linear": 1.0}
#: Standard deviation of brainstorm's fallback Gaussian, which initialises the biases.
BRAINSTORM_BIAS_STD = 0.1


#: The most weights and biases a :class:`DAE` may have (4 GB as float32): far beyond any
#: DAE of the paper (Multi-MNIST's, the largest, has 4.6 million), and a size that a
#: mistyped width reaches long before the allocator fails.
MAX_PARAMETERS = 10**9

#: Seeds of the initial weights are torch's: 64-bit unsigned integers.
SEED_LIMIT = 2**64


def check_seed(seed, name: str = "seed") -> int:
    """``seed`` as an int, raising ValueError unless it is an integer in [0, 2**64) (not a
    bool): what a torch generator takes, and non-negative as every seed of ``rc``."""
    seed = check_positive_int(seed, name, minimum=0)
    if seed >= SEED_LIMIT:
        raise ValueError(f"{name} must be < 2**64 (a torch generator's seed); got {seed}")
    return seed


def n_parameters(n_pixels: int, n_hidden: int) -> int:
    """Weights and biases of a DAE with ``n_pixels`` inputs and ``n_hidden`` hidden units."""
    return 2 * n_pixels * n_hidden + n_hidden + n_pixels


def _check_size(n_pixels: int, n_hidden: int) -> None:
    count = n_parameters(n_pixels, n_hidden)
    if count > MAX_PARAMETERS:
        raise ValueError(
            f"a DAE with n_pixels={n_pixels} and n_hidden={n_hidden} would have {count:,} "
            f"parameters ({_bytes(4 * count)} as float32); at most {MAX_PARAMETERS:,} "
            f"({_bytes(4 * MAX_PARAMETERS)}) are allowed")


def _bytes(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000


#: The kinds of device the project runs on.
DEVICE_TYPES = ("cpu", "cuda", "mps")


def resolve_device(device=None) -> torch.device:
    """``device`` as a torch.device; None picks CUDA when available, else the CPU.

    Raises ValueError naming the problem for anything but ``"cpu"``, ``"cuda"``,
    ``"cuda:N"`` or ``"mps"`` (a string or a torch.device), or for a device this machine
    does not have.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise ValueError(f"device must be a string such as 'cpu' or 'cuda:0', or a "
                         f"torch.device; got {device!r}")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        dev = None
    if dev is None or dev.type not in DEVICE_TYPES:
        raise ValueError(f"unknown device {str(device)!r}; expected 'cpu', 'cuda', "
                         "'cuda:N' or 'mps'")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r} asked for, but CUDA is not available "
                             "on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r} asked for, but this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' asked for, but MPS is not available on this machine")
    return dev


class DAE(nn.Module):
    """Input -> hidden layer (relu | tanh | sigmoid) -> linear -> sigmoid Bernoulli means.

    The paper does not give its initialisation. ``init="brainstorm"`` (the default) is the
    authors': their code built the DAE with brainstorm 0.5's ``create_net_from_spec``,
    which draws each weight matrix uniformly in +-scale / sqrt(fan_in + fan_out), with
    scale sqrt(12) for a ReLU layer, sqrt(6) for tanh, 4 sqrt(6) for sigmoid and 1 for the
    linear output projection (:data:`BRAINSTORM_SCALE`), and every bias from a Gaussian
    with standard deviation 0.1. ``init="glorot"`` is the scheme this project used
    before: Glorot-uniform (scale sqrt(6) for every layer) with zero biases. (PyTorch's
    own default, +-1/sqrt(fan_in), killed most ReLU units of the Bars DAE at Table 1's
    learning rate of 0.77.) Draws come from ``seed`` (or torch's global generator when
    ``seed`` is None) in the order: encoder weights, decoder weights, then (brainstorm
    only) encoder and decoder biases.

    Parameters
    ----------
    n_pixels : int
        Input and output size (H * W).
    n_hidden : int
        Hidden units.
    activation : {"relu", "tanh", "sigmoid"}
        Activation of the hidden layer.
    seed : int, optional
        Seed of the initial weights, an integer in [0, 2**64).
    init : {"brainstorm", "glorot"}
        Initialisation scheme (see above).

    Raises
    ------
    ValueError
        A bad argument, or a network of more than :data:`MAX_PARAMETERS` weights and
        biases (checked before any memory is taken).
    """

    def __init__(self, n_pixels: int, n_hidden: int, activation: str = "relu",
                 seed: int | None = None, init: str = "brainstorm"):
        super().__init__()
        n_pixels = check_positive_int(n_pixels, "n_pixels")
        n_hidden = check_positive_int(n_hidden, "n_hidden")
        activation = check_choice(str(activation).lower(), "activation", ACTIVATIONS)
        _check_size(n_pixels, n_hidden)
        if seed is not None:
            seed = check_seed(seed)
        init = check_choice(str(init).lower(), "init", INITS)
        self.n_pixels, self.n_hidden, self.activation = n_pixels, n_hidden, activation
        self.encoder = nn.Linear(n_pixels, n_hidden)
        self.decoder = nn.Linear(n_hidden, n_pixels)
        self._act = ACTIVATIONS[activation]
        self.reset_parameters(seed, init)

    @property
    def config(self) -> dict:
        return {"n_pixels": self.n_pixels, "n_hidden": self.n_hidden,
                "activation": self.activation}

    @torch.no_grad()
    def reset_parameters(self, seed: int | None = None, init: str = "brainstorm") -> None:
        """Fresh weights and biases by scheme ``init`` (see the class doc), from ``seed``."""
        init = check_choice(str(init).lower(), "init", INITS)
        g = torch.Generator().manual_seed(check_seed(seed)) if seed is not None else None
        layers = ((self.encoder, self.activation), (self.decoder, "linear"))
        for layer, act in layers:
            fans = layer.in_features + layer.out_features
            bound = (BRAINSTORM_SCALE[act] / math.sqrt(fans) if init == "brainstorm"
                     else math.sqrt(6.0 / fans))
            layer.weight.copy_((torch.rand(layer.weight.shape, generator=g) * 2 - 1) * bound)
        for layer, _ in layers:
            if init == "brainstorm":
                layer.bias.copy_(torch.randn(layer.bias.shape, generator=g)
                                 * BRAINSTORM_BIAS_STD)
            else:
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

    Parameters
    ----------
    x : torch.Tensor
        Binary images (any shape). A numpy array is refused: convert it with
        ``torch.from_numpy`` (or ``torch.as_tensor``) first.
    p : float
        Corruption probability, a number in [0, 1] (training takes noise in [0, 1));
        0 returns ``x`` itself and draws nothing.
    generator : torch.Generator, optional
        Source of the uniform draws (on ``x``'s device).

    Returns
    -------
    torch.Tensor
        The corrupted copy.

    Raises
    ------
    ValueError
        ``x`` is not a tensor, or ``p`` is not a finite number in [0, 1].
    """
    if not isinstance(x, torch.Tensor):
        hint = (" (convert it with torch.from_numpy)" if isinstance(x, np.ndarray) else "")
        raise ValueError(f"x must be a torch.Tensor; got {type(x).__module__}."
                         f"{type(x).__name__}{hint}")
    p = check_number(p, "p", minimum=0.0, maximum=1.0)
    if p <= 0:
        return x
    u = torch.rand(x.shape, generator=generator, device=x.device)
    return torch.where(u < p, (u < p / 2).to(x.dtype), x)


def bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binomial cross-entropy summed over pixels and averaged over the minibatch."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / target.shape[0]


def save_dae(path, dae: DAE, history=None, **meta) -> Path:
    """Write the DAE's config, weights, optional training history and metadata to ``path``.

    The file is an ``.npz`` (:func:`rc.storage.write_npz`): one array per weight tensor and
    a JSON part, readable without ``rc`` or pickles; it is written atomically.

    Parameters
    ----------
    path : str or Path
        The file to write.
    dae : DAE
        The network.
    history : TrainHistory or dict, optional
        How it was trained.
    **meta
        Any JSON-able values to store beside it.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OSError
        ``path`` is a folder or cannot be written; the message names ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot save the DAE to {path}: it is a folder; give a file "
                                f"name such as {path / 'dae.npz'}")
    above = next((f for f in path.parents if f.exists()), None)
    if above is not None and not above.is_dir():
        raise NotADirectoryError(f"cannot save the DAE to {path}: {above} is a file, not a "
                                 f"folder")
    arrays, doc = dae_record(dae)
    doc["history"] = history.to_dict() if hasattr(history, "to_dict") else history
    doc["meta"] = meta
    try:
        return write_npz(path, arrays, doc)
    except OSError as exc:  # its message would name the temporary file, not the target
        raise OSError(exc.errno, f"cannot save the DAE to {path}: "
                                 f"{exc.strerror or exc}") from None


def dae_record(dae: DAE) -> tuple[dict[str, np.ndarray], dict]:
    """The DAE as (weight arrays, JSON-able config): what :func:`dae_from_record` reads."""
    arrays = {k: v.detach().cpu().numpy() for k, v in dae.state_dict().items()}
    return arrays, {"config": dae.config}


def dae_from_record(arrays: dict[str, np.ndarray], doc: dict, device=None) -> DAE:
    """Rebuild a DAE (eval mode, on ``device``) from :func:`dae_record`'s output."""
    dae = DAE(**doc["config"])
    dae.load_state_dict({k: torch.from_numpy(np.array(arrays[k])) for k in dae.state_dict()})
    return dae.to(resolve_device(device)).eval()


def load_dae(path, device=None) -> tuple[DAE, dict]:
    """Read a DAE saved by :func:`save_dae`.

    Parameters
    ----------
    path : str or Path
        The file.
    device : str or torch.device, optional
        Where to put the network (default: CUDA if available).

    Returns
    -------
    dae : DAE
        In evaluation mode.
    info : dict
        ``{"history": ..., "meta": ...}`` as saved.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no saved DAE at {path}")
    _check_dae_file(path)
    arrays, doc = read_npz(path)
    return dae_from_record(arrays, doc, device), {"history": doc.get("history"),
                                                  "meta": doc.get("meta", {})}


def _check_dae_file(path: Path) -> None:
    """Raise ValueError naming ``path`` unless it is a file of :func:`save_dae`: an
    ``.npz`` whose JSON part holds the DAE's config. An entry of the results cache (a
    trained DAE of :class:`rc.Results`) is told apart, with the call that loads it."""
    not_ours = f"{path} is not a DAE file written by rc.save_dae"
    if path.is_dir():
        raise ValueError(f"{not_ours}: it is a folder")
    try:
        doc = read_npz_doc(path)
    except Exception as exc:  # noqa: BLE001 - whatever numpy makes of a foreign file
        raise ValueError(f"{not_ours} (not a readable .npz archive: "
                         f"{type(exc).__name__})") from None
    if isinstance(doc, dict) and isinstance(doc.get("config"), dict):
        return
    record = doc.get("record") if isinstance(doc, dict) else None
    if isinstance(record, dict) and "name" in record:
        raise ValueError(f"{path} is the entry {record['name']!r} of the results store "
                         f"(the cache of rc.Results), not a file written by rc.save_dae; "
                         f"{_how_to_load(path, record)}")
    raise ValueError(f"{not_ours} (it holds no DAE config)")


def _how_to_load(path: Path, record: dict) -> str:
    """How to load the trained DAE of a cache entry of the results store."""
    data = (record.get("inputs") or {}).get("data") or {}
    table = {"train_single": 1, "train_multi": 2}.get(data.get("split"))
    if not str(record["name"]).startswith("dae/") or table is None:
        return ("load stored results through rc.Results(profile, may_compute=False) or "
                "rc.pretrained(dataset, table)")
    folder = path.resolve().parent.parent  # <results>/<profile>/dae/<entry>.npz
    args = [repr(data.get("dataset")), str(table)]
    if folder.name != "full":  # rc.pretrained's default: the committed full-scale results
        args += [f"profile={folder.name!r}", f"root={str(folder.parent)!r}"]
    return (f"load a stored Table {table} DAE with rc.pretrained({', '.join(args)}), "
            f"which returns it with its training history and provenance")
