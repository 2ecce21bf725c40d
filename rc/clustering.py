"""Reconstruction clustering (RC): EM-like binding of pixels with a denoising autoencoder.

Every image is modelled as K objects; each pixel belongs to one of them (latent z).
RC alternates an R-step, where the autoencoder reconstructs each cluster's partial
image gamma_k * x (eq. 5), and an E-step, where each pixel is re-assigned by the
posterior of eq. 7 (soft) or its argmax (hard). All images and all clusters of a chunk
go through the autoencoder in one batched forward pass per iteration.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from ._checks import as_binary_images, as_unit_images, check_choice, check_positive_int
from .dae import resolve_device
from .metrics import score_argmax

#: Version of RC (initialisation, R- and E-steps, traces); part of every cached result's key.
VERSION = 1
E_STEPS = ("soft", "hard")
#: Pixel likelihoods: the paper's Bernoulli (binary images) and three for grey levels
#: (rc.beyond.grey): the cross-entropy of a DAE trained on grey targets (unnormalised),
#: the continuous Bernoulli (normalised) and a Gaussian of fixed standard deviation.
LIKELIHOODS = ("bernoulli", "cross_entropy", "continuous_bernoulli", "gaussian")
#: Their display names (tables, figures, the book's prose).
LIKELIHOOD_LABELS = {"bernoulli": "Bernoulli", "cross_entropy": "cross-entropy",
                     "continuous_bernoulli": "continuous Bernoulli", "gaussian": "Gaussian"}
INITS = ("gaussian", "uniform", "spatial")
CLIP = 1e-6  # mu is clipped to [CLIP, 1 - CLIP] before taking logs


@dataclass
class RCResult:
    """Outcome of :func:`reconstruction_clustering` for N images of H x W pixels.

    gamma: (N, H, W, K) final assignments; log_likelihood: (N, 2 * n_iters + 1), the
    initial value then one after every R-step and every E-step; pi: (N, K) final mixing
    coefficients. With ``groups``: ami and confidence (N, n_iters + 1), for the initial
    gamma and after every E-step. With ``keep_history``: gamma_history (n_iters + 1, N, H,
    W, K) and mu_history (n_iters, N, H, W, K), the DAE outputs of every R-step.

    Attributes
    ----------
    gamma : ndarray, shape (N, H, W, K)
        Final assignments.
    log_likelihood : ndarray, shape (N, 2 * n_iters + 1)
        The traced log-likelihood.
    pi : ndarray, shape (N, K)
        Final mixing coefficients.
    ami, confidence : ndarray, shape (N, n_iters + 1), or None
        Scores per iteration (given ``groups``).
    gamma_history, mu_history : ndarray or None
        Assignments and reconstructions of every iteration (given ``keep_history``).
    config : dict
        The settings of the run.
    """

    gamma: np.ndarray
    log_likelihood: np.ndarray
    pi: np.ndarray
    ami: np.ndarray | None = None
    confidence: np.ndarray | None = None
    gamma_history: np.ndarray | None = None
    mu_history: np.ndarray | None = None
    config: dict = field(default_factory=dict)

    @property
    def labels(self) -> np.ndarray:
        """Hard cluster index of every pixel, (N, H, W)."""
        return self.gamma.argmax(axis=-1)


def initial_gamma(k: int, image_ids, shape: tuple[int, int], init: str, seed: int = 0
                  ) -> np.ndarray:
    """Initial assignments (len(image_ids), K, H*W), float32, summing to one over K.

    gaussian: ``|n| / sum_j |n_j|`` with n ~ N(0, 1) per pixel and cluster (the paper's);
    uniform: U(0.25, 0.75) normalised; spatial: a fixed, seed-free partition of the image
    into K overlapping linear ramps along the columns (hat functions). The random inits
    of image ``i`` come from its own stream ``(seed, i)``, so a run on a subset of images
    (or in other chunks, or on another device) starts exactly as in the full run.
    """
    h, w = shape
    ids = np.asarray(image_ids, dtype=np.int64).reshape(-1)
    if init == "spatial":
        u = np.broadcast_to(np.linspace(0.0, 1.0, w), (h, w)).reshape(-1)
        if k == 1:
            ramps = np.ones((1, h * w))
        else:
            centres = np.linspace(0.0, 1.0, k)[:, None]
            ramps = np.maximum(0.0, 1.0 - np.abs(u[None, :] - centres) * (k - 1))
        g = np.broadcast_to(_normalised(ramps).astype(np.float32), (len(ids), k, h * w))
        return np.ascontiguousarray(g)
    # image by image, in float64 then float32 (the same operations, element by element, as
    # on the whole (N, K, H*W) array at once, without its three float64 copies)
    g = np.empty((len(ids), k, h * w), np.float32)
    for row, i in enumerate(ids):
        rng = np.random.default_rng([int(seed), int(i)])
        if init == "gaussian":
            draw = np.abs(rng.standard_normal((k, h * w)))
        else:
            draw = rng.uniform(0.25, 0.75, size=(k, h * w))
        g[row] = _normalised(draw)
    return g


def _normalised(g: np.ndarray) -> np.ndarray:
    """``g`` (K, D), float64, divided by its sum over K (in place)."""
    return np.divide(g, np.maximum(g.sum(axis=0, keepdims=True), np.finfo(np.float64).tiny),
                     out=g)


#: The initial assignments that :func:`_initial_gamma_memo` keeps, most recently used
#: last, and the bytes they may take in all (a chunk of RC takes up to 32 MB).
_gamma_memo: dict[tuple, np.ndarray] = {}
_GAMMA_MEMO_BYTES = 64 << 20


def _initial_gamma_memo(k: int, ids: bytes, shape: tuple[int, int], init: str, seed: int
                        ) -> np.ndarray:
    """:func:`initial_gamma` remembered for the last few calls, within
    :data:`_GAMMA_MEMO_BYTES` (read-only): the runs of a search or a loss study all start
    from the same assignments of the same images."""
    key = (k, ids, tuple(shape), init, seed)
    g = _gamma_memo.pop(key, None)
    if g is None:
        g = initial_gamma(k, np.frombuffer(ids, dtype=np.int64), shape, init, seed)
        g.flags.writeable = False
    if g.nbytes <= _GAMMA_MEMO_BYTES:
        _gamma_memo[key] = g
        while sum(v.nbytes for v in _gamma_memo.values()) > _GAMMA_MEMO_BYTES:
            del _gamma_memo[next(iter(_gamma_memo))]
    return g


def bernoulli_log_prob(x: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """log P(x | mu) per pixel and cluster: x log mu + (1 - x) log(1 - mu), mu clipped.

    x: (B, D) binary; mu: (B, K, D). Returns (B, K, D). For binary x this is the log of
    p = (1 - x) + (2x - 1) mu (mu where x = 1, 1 - mu where x = 0) clipped to
    [CLIP, 1 - CLIP], the same as clipping mu first; three passes over (B, K, D).
    """
    xb = x[:, None, :]
    p = torch.addcmul(1.0 - xb, 2.0 * xb - 1.0, mu)
    return p.clamp_(CLIP, 1.0 - CLIP).log_()


def pixel_log_prob(x: torch.Tensor, mu: torch.Tensor, likelihood: str = "bernoulli",
                   sigma: float = 0.2) -> torch.Tensor:
    """log P(x_i | mu_ik) per pixel and cluster, (B, K, D), for x (B, D) and mu (B, K, D).

    ``bernoulli``: x binary (:func:`bernoulli_log_prob`); ``cross_entropy``:
    x log mu + (1 - x) log(1 - mu) for x in [0, 1] (the training loss of a DAE on grey
    targets; not a normalised density); ``continuous_bernoulli``: that plus log C(mu),
    C(mu) = 2 artanh(1 - 2 mu) / (1 - 2 mu) (2 at mu = 1/2), which normalises it over
    x in [0, 1]; ``gaussian``: log N(x; mu, sigma^2). mu is clipped to [CLIP, 1 - CLIP].
    """
    if likelihood == "bernoulli":
        return bernoulli_log_prob(x, mu)
    xb = x[:, None, :]
    m = mu.clamp(CLIP, 1.0 - CLIP)
    if likelihood == "gaussian":
        return (-0.5 * ((xb - m) / sigma) ** 2 - math.log(sigma * math.sqrt(2 * math.pi)))
    log_p = xb * torch.log(m) + (1.0 - xb) * torch.log1p(-m)
    if likelihood == "continuous_bernoulli":
        t = 1.0 - 2.0 * m
        near = t.abs() < 1e-3  # the limit 2 (1 + t^2 / 3) of 2 artanh(t) / t near t = 0
        safe = torch.where(near, torch.full_like(t, 0.5), t)
        log_c = torch.where(near, math.log(2.0) + t * t / 3.0,
                            torch.log(2.0 * torch.atanh(safe) / safe))
        log_p = log_p + log_c
    return log_p


def _weighted_sum(gamma: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """sum over k and i of gamma * log_p for every image, as one batched dot product."""
    b = gamma.shape[0]
    return torch.bmm(gamma.reshape(b, 1, -1), log_p.reshape(b, -1, 1)).reshape(b)


def posterior(log_p: torch.Tensor, pi: torch.Tensor | None, hard: bool = False) -> torch.Tensor:
    """Posterior of z (eq. 7): gamma_ik proportional to pi_k P(x_i | mu_ik), over dim 1.

    log_p: (B, K, D); pi: (B, K), or None for uniform pi (which cancels). ``hard``
    returns the one-hot of the argmax instead.
    """
    log_post = log_p if pi is None else log_p + torch.log(pi)[:, :, None]
    if hard:
        idx = log_post.argmax(dim=1, keepdim=True)
        return torch.zeros_like(log_post).scatter_(1, idx, 1.0)
    return torch.softmax(log_post, dim=1)


def _model_info(model, n_pixels: int, device):
    """Device to run ``model`` on, and a clear error if it is not usable for these images."""
    if not callable(model):
        raise ValueError(f"the model must be callable (e.g. an rc.DAE); got {type(model).__name__}")
    expected = getattr(model, "n_pixels", None)
    if expected is None and hasattr(model, "encoder") and hasattr(model.encoder, "in_features"):
        expected = model.encoder.in_features
    if expected is not None and expected != n_pixels:
        raise ValueError(
            f"the images have {n_pixels} pixels but the DAE expects {expected}; "
            "use a DAE trained on images of this size"
        )
    if device is None and isinstance(model, torch.nn.Module):
        params = list(model.parameters())
        device = params[0].device if params else None
    return resolve_device(device) if device is not None else torch.device("cpu")


def _check_output(mu: torch.Tensor, expected_shape: tuple[int, int]) -> None:
    if not isinstance(mu, torch.Tensor) or tuple(mu.shape) != expected_shape:
        shape = tuple(mu.shape) if hasattr(mu, "shape") else type(mu).__name__
        raise ValueError(
            f"the model must map a (B, n_pixels) batch to Bernoulli means of the same "
            f"shape {expected_shape}; it returned {shape}"
        )
    lo, hi = float(mu.min()), float(mu.max())
    if not (0.0 <= lo and hi <= 1.0):
        raise ValueError(
            f"the model must return Bernoulli means in [0, 1]; got values in [{lo:.3g}, "
            f"{hi:.3g}] (does it return logits? apply a sigmoid)"
        )


def reconstruction_clustering(
    dae, images, k: int, n_iters: int = 10, e_step: str = "soft", init: str = "gaussian",
    estimate_pi: bool = False, seed: int = 0, groups=None, keep_history: bool = False,
    average_method: str = "max", image_ids=None, batch_size: int | None = None,
    device=None, progress: bool = False, likelihood: str = "bernoulli", sigma: float = 0.2,
) -> RCResult:
    """Run RC with ``k`` clusters for ``n_iters`` iterations on binary ``images`` (N, H, W).

    Images are processed in chunks on the model's device. The initial assignments of
    image i come from the stream (``seed``, ``image_ids[i]``) on the CPU, so results do
    not depend on the chunk size or the device beyond float rounding, and re-running a
    subset of images with their ids reproduces their runs.

    Parameters
    ----------
    dae : torch.nn.Module or callable
        Maps a (B, H*W) float batch in [0, 1] to Bernoulli means of the same shape (an
        :class:`rc.DAE`, or your own autoencoder).
    images : array_like, shape (N, H, W)
        Binary images (grey levels in [0, 1] for the other likelihoods).
    k, n_iters : int
        Clusters (at most the pixels of an image) and iterations (R-step then E-step).
    e_step : {"soft", "hard"}
        Posterior assignments or their one-hot argmax (K-means-like).
    init : {"gaussian", "uniform", "spatial"}
        Initial assignments (:func:`initial_gamma`), drawn from ``seed``.
    estimate_pi : bool
        Re-estimate the mixing coefficients after every E-step (else uniform).
    groups : array_like, shape (N, H, W), optional
        True groups: adds AMI (normalised by ``average_method``; ``"max"``, the paper's)
        and confidence after every iteration (:func:`rc.score`).
    keep_history : bool
        Keep the assignments and reconstructions of every iteration.
    image_ids : array_like of int, optional
        The images' indices for their random starts (default ``0..N-1``).
    batch_size, device, progress
        Images per chunk (default: bounded memory), where to run (default: the model's
        device), a progress bar over chunks.
    likelihood, sigma
        The pixel likelihood (:data:`LIKELIHOODS`, :func:`pixel_log_prob`):
        ``"bernoulli"`` (the paper's; binary images) or, for grey levels,
        ``"cross_entropy"``, ``"continuous_bernoulli"`` or ``"gaussian"`` (with standard
        deviation ``sigma``).

    Returns
    -------
    RCResult
        Final assignments, log-likelihood traces, mixing coefficients, scores, histories.
    """
    x_np, groups, image_ids, k, n_iters, seed = _checked_inputs(
        images, k, n_iters, e_step, init, seed, groups, image_ids, likelihood, sigma)
    n, h, w = x_np.shape
    d = h * w
    dev = _model_info(dae, d, device)
    if batch_size is None:  # keep one chunk's (B, K, D) tensors around 32 MB each
        batch_size = max(1, min(n, (8 << 20) // (k * d)))
    batch_size = check_positive_int(batch_size, "batch_size")
    out = _Outputs(n, k, d, n_iters, keep_history, groups, average_method)
    run = _ChunkRun(dae, k, n_iters, e_step == "hard", estimate_pi, likelihood, sigma, dev)
    was_training = getattr(dae, "training", False)
    if isinstance(dae, torch.nn.Module):
        dae.eval()
    try:
        with torch.no_grad():
            for start in tqdm(range(0, n, batch_size), disable=not progress,
                              desc=f"RC K={k}", leave=False):
                sl = slice(start, min(start + batch_size, n))
                ids = image_ids[sl].astype(np.int64).tobytes()
                gamma = torch.tensor(_initial_gamma_memo(k, ids, (h, w), init, seed),
                                     device=dev)
                x = torch.from_numpy(x_np[sl].reshape(sl.stop - sl.start, d)).to(dev)
                run(x, gamma, out, sl, check_output=start == 0)
    finally:
        if isinstance(dae, torch.nn.Module) and was_training:
            dae.train()
    config = {"k": k, "n_iters": n_iters, "e_step": e_step, "init": init,
              "likelihood": likelihood, "sigma": float(sigma),
              "estimate_pi": bool(estimate_pi), "seed": seed,
              "average_method": average_method, "device": str(dev)}
    return out.result((h, w), config)


def _checked_inputs(images, k, n_iters, e_step, init, seed, groups, image_ids, likelihood,
                    sigma):
    """The validated inputs of :func:`reconstruction_clustering` (clear ValueErrors)."""
    check_choice(likelihood, "likelihood", LIKELIHOODS)
    if not (float(sigma) > 0 and math.isfinite(float(sigma))):
        raise ValueError(f"sigma must be a positive number; got {sigma!r}")
    x_np = as_binary_images(images) if likelihood == "bernoulli" else as_unit_images(images)
    n, h, w = x_np.shape
    k = check_positive_int(k, "k")
    if k > h * w:
        raise ValueError(f"k must be at most the number of pixels of an image ({h} x {w} = "
                         f"{h * w}); got k={k}")
    n_iters = check_positive_int(n_iters, "n_iters", minimum=0)
    check_choice(e_step, "e_step", E_STEPS)
    check_choice(init, "init", INITS)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != x_np.shape:
            raise ValueError(
                f"groups must have the images' shape {x_np.shape}; got {groups.shape}"
            )
    image_ids = np.arange(n) if image_ids is None else np.asarray(image_ids)
    if image_ids.shape != (n,) or not np.issubdtype(image_ids.dtype, np.integer):
        raise ValueError(f"image_ids must be {n} integers, one per image; got {image_ids!r}")
    return x_np, groups, image_ids, k, n_iters, int(seed)


class _Outputs:
    """The arrays RC fills chunk by chunk (images in the first axis of each).

    The assignments (and histories) are kept as (..., N, D, K), the layout of the result
    (N, H, W, K), so that the result is a view of them rather than a second copy.
    """

    def __init__(self, n, k, d, n_iters, keep_history, groups, average_method):
        self.k, self.groups, self.average_method = k, groups, average_method
        self.gamma = np.empty((n, d, k), np.float32)
        self.ll = np.empty((n, 2 * n_iters + 1), np.float64)
        self.pi = np.empty((n, k), np.float32)
        self.g_hist = np.empty((n_iters + 1, n, d, k), np.float32) if keep_history else None
        self.mu_hist = np.empty((n_iters, n, d, k), np.float32) if keep_history else None
        self.ami = np.empty((n, n_iters + 1)) if groups is not None else None
        self.conf = np.empty((n, n_iters + 1)) if groups is not None else None

    def step(self, sl: slice, t: int, gamma: torch.Tensor, mu: torch.Tensor | None) -> None:
        """The assignments after iteration ``t`` (0: the initial ones): scores (only the
        argmax and max of gamma leave the device) and history."""
        if self.ami is not None:
            top, labels = gamma.max(dim=1)
            self.ami[sl, t], self.conf[sl, t] = score_argmax(
                self.groups[sl], labels.cpu().numpy(), top.cpu().numpy(),
                self.average_method)
        if self.g_hist is not None:
            self.g_hist[t, sl] = _by_pixel(gamma)
            if mu is not None:
                self.mu_hist[t - 1, sl] = _by_pixel(mu)

    def result(self, shape: tuple[int, int], config: dict) -> RCResult:
        def to_image_layout(a: np.ndarray) -> np.ndarray:  # (..., N, D, K) -> (..., N, H, W, K)
            return a.reshape(*a.shape[:-2], *shape, self.k)

        keep = self.g_hist is not None
        return RCResult(
            gamma=to_image_layout(self.gamma), log_likelihood=self.ll, pi=self.pi,
            ami=self.ami, confidence=self.conf,
            gamma_history=to_image_layout(self.g_hist) if keep else None,
            mu_history=to_image_layout(self.mu_hist) if keep else None, config=config)


class _ChunkRun:
    """RC on one chunk of images: the initial likelihood, then R- and E-steps."""

    def __init__(self, dae, k, n_iters, hard, estimate_pi, likelihood, sigma, dev):
        self.dae, self.k, self.n_iters, self.hard = dae, k, n_iters, hard
        self.estimate_pi, self.likelihood, self.sigma, self.dev = (estimate_pi, likelihood,
                                                                   sigma, dev)

    def __call__(self, x: torch.Tensor, gamma: torch.Tensor, out: _Outputs, sl: slice,
                 check_output: bool) -> None:
        b, d = x.shape
        k = self.k
        pi = torch.full((b, k), 1.0 / k, device=self.dev)
        # before the first iteration mu = 0.5 everywhere
        if self.likelihood == "bernoulli":
            out.ll[sl, 0] = (gamma.sum(1) * np.log(0.5)).sum(1).cpu().numpy()
        else:
            half = torch.full((b, k, d), 0.5, device=self.dev)
            out.ll[sl, 0] = _weighted_sum(gamma, pixel_log_prob(x, half, self.likelihood,
                                                                self.sigma)).cpu().numpy()
        out.step(sl, 0, gamma, None)
        for t in range(self.n_iters):
            # R-step: one forward pass for all b * k partial images
            mu = self.dae((gamma * x[:, None, :]).reshape(b * k, d))
            if t == 0 and check_output:
                _check_output(mu, (b * k, d))
            mu = mu.reshape(b, k, d)
            log_p = pixel_log_prob(x, mu, self.likelihood, self.sigma)
            out.ll[sl, 2 * t + 1] = _weighted_sum(gamma, log_p).cpu().numpy()
            # E-step
            gamma = posterior(log_p, pi if self.estimate_pi else None, self.hard)
            if self.estimate_pi:
                pi = gamma.mean(dim=2)
            out.ll[sl, 2 * t + 2] = _weighted_sum(gamma, log_p).cpu().numpy()
            out.step(sl, t + 1, gamma, mu)
            del mu, log_p  # before the next R-step makes their successors
        out.gamma[sl] = _by_pixel(gamma)
        out.pi[sl] = pi.cpu().numpy()


def _by_pixel(a: torch.Tensor) -> np.ndarray:
    """A chunk's (B, K, D) tensor as a (B, D, K) array (a view of its values)."""
    return np.moveaxis(a.cpu().numpy(), 1, 2)

