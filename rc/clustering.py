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
from functools import lru_cache

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
        g = np.broadcast_to(ramps, (len(ids), k, h * w))
    else:
        g = np.empty((len(ids), k, h * w))
        for row, i in enumerate(ids):
            rng = np.random.default_rng([int(seed), int(i)])
            if init == "gaussian":
                g[row] = np.abs(rng.standard_normal((k, h * w)))
            else:
                g[row] = rng.uniform(0.25, 0.75, size=(k, h * w))
    g = g / np.maximum(g.sum(axis=1, keepdims=True), np.finfo(np.float64).tiny)
    return g.astype(np.float32)


@lru_cache(maxsize=4)
def _initial_gamma_memo(k: int, ids: bytes, shape: tuple[int, int], init: str, seed: int
                        ) -> np.ndarray:
    """:func:`initial_gamma` remembered for the last few calls (read-only): the runs of a
    search or a loss study all start from the same assignments of the same images."""
    g = initial_gamma(k, np.frombuffer(ids, dtype=np.int64), shape, init, seed)
    g.flags.writeable = False
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

    ``dae`` is any module or callable mapping a (B, H*W) float batch in [0, 1] to
    Bernoulli means of the same shape (an :class:`rc.DAE`, or your own autoencoder).
    ``groups`` (N, H, W) adds per-iteration AMI and confidence (see :func:`rc.score`).
    Images are processed in chunks of ``batch_size`` (default: bounded memory) on the
    model's device. The initial assignments of image i come from the stream (``seed``,
    ``image_ids[i]``) on the CPU (default ids 0..N-1), so results do not depend on the
    chunk size or the device beyond float rounding, and re-running a subset of images
    with their ids (e.g. with ``keep_history``) reproduces their runs.

    Parameters
    ----------
    dae : torch.nn.Module or callable
        Maps a (B, H*W) batch to Bernoulli means of the same shape.
    images : array_like, shape (N, H, W)
        Binary images.
    k : int
        Number of clusters, at most the number of pixels of an image.
    n_iters : int
        RC iterations (R-step then E-step).
    e_step : {"soft", "hard"}
        Posterior assignments, or their one-hot argmax (K-means-like).
    init : {"gaussian", "uniform", "spatial"}
        Initial assignments (:func:`initial_gamma`).
    estimate_pi : bool
        Re-estimate the mixing coefficients after every E-step (else uniform).
    seed : int
        Seed of the initial assignments.
    groups : array_like, shape (N, H, W), optional
        True groups: adds AMI and confidence after every iteration.
    keep_history : bool
        Keep the assignments and reconstructions of every iteration.
    average_method : str
        Normaliser of the AMI (``"max"``: the paper's).
    image_ids : array_like of int, optional
        The images' indices for their random starts (default ``0..N-1``).
    batch_size : int, optional
        Images per chunk (default: chunks of bounded memory).
    device : str or torch.device, optional
        Where to run (default: the model's device).
    progress : bool
        Show a progress bar over chunks.
    likelihood : str
        The pixel likelihood (:data:`LIKELIHOODS`): ``"bernoulli"`` (the paper's; binary
        images) or, for grey levels in [0, 1], ``"cross_entropy"``,
        ``"continuous_bernoulli"`` or ``"gaussian"`` (:func:`pixel_log_prob`).
    sigma : float
        Standard deviation of the ``"gaussian"`` likelihood.

    Returns
    -------
    RCResult
        Final assignments, log-likelihood traces, mixing coefficients, and the scores and
        histories asked for.
    """
    check_choice(likelihood, "likelihood", LIKELIHOODS)
    if not (float(sigma) > 0 and math.isfinite(float(sigma))):
        raise ValueError(f"sigma must be a positive number; got {sigma!r}")
    x_np = as_binary_images(images) if likelihood == "bernoulli" else as_unit_images(images)
    n, h, w = x_np.shape
    d = h * w
    k = check_positive_int(k, "k")
    if k > d:
        raise ValueError(f"k must be at most the number of pixels of an image ({h} x {w} = "
                         f"{d}); got k={k}")
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
    if image_ids is None:
        image_ids = np.arange(n)
    image_ids = np.asarray(image_ids)
    if image_ids.shape != (n,) or not np.issubdtype(image_ids.dtype, np.integer):
        raise ValueError(f"image_ids must be {n} integers, one per image; got {image_ids!r}")
    dev = _model_info(dae, d, device)
    if batch_size is None:  # keep one chunk's (B, K, D) tensors around 32 MB each
        batch_size = max(1, min(n, (8 << 20) // (k * d)))
    batch_size = check_positive_int(batch_size, "batch_size")
    hard = e_step == "hard"

    gamma_out = np.empty((n, k, d), np.float32)
    ll = np.empty((n, 2 * n_iters + 1), np.float64)
    pi_out = np.empty((n, k), np.float32)
    g_hist = np.empty((n_iters + 1, n, k, d), np.float32) if keep_history else None
    mu_hist = np.empty((n_iters, n, k, d), np.float32) if keep_history else None
    scored = groups is not None
    ami = np.empty((n, n_iters + 1)) if scored else None
    conf = np.empty((n, n_iters + 1)) if scored else None

    def record_scores(sl, step, gamma):
        if scored:  # only argmax and max of gamma leave the device
            top, labels = gamma.max(dim=1)
            ami[sl, step], conf[sl, step] = score_argmax(
                groups[sl], labels.cpu().numpy(), top.cpu().numpy(), average_method)

    chunks = range(0, n, batch_size)
    was_training = getattr(dae, "training", False)
    if isinstance(dae, torch.nn.Module):
        dae.eval()
    try:
        with torch.no_grad():
            for start in tqdm(chunks, disable=not progress, desc=f"RC K={k}", leave=False):
                sl = slice(start, min(start + batch_size, n))
                b = sl.stop - sl.start
                x = torch.from_numpy(x_np[sl].reshape(b, d)).to(dev)
                gamma = torch.tensor(_initial_gamma_memo(k, image_ids[sl].astype(np.int64).tobytes(),
                                                         (h, w), init, int(seed)), device=dev)
                pi = torch.full((b, k), 1.0 / k, device=dev)
                # before the first iteration mu = 0.5 everywhere
                if likelihood == "bernoulli":
                    ll[sl, 0] = (gamma.sum(1) * np.log(0.5)).sum(1).cpu().numpy()
                else:
                    half = torch.full((b, k, d), 0.5, device=dev)
                    ll[sl, 0] = _weighted_sum(gamma, pixel_log_prob(x, half, likelihood,
                                                                    sigma)).cpu().numpy()
                record_scores(sl, 0, gamma)
                if keep_history:
                    g_hist[0, sl] = gamma.cpu().numpy()
                for t in range(n_iters):
                    # R-step: one forward pass for all b * k partial images
                    partial = (gamma * x[:, None, :]).reshape(b * k, d)
                    mu = dae(partial)
                    if t == 0 and start == 0:
                        _check_output(mu, (b * k, d))
                    mu = mu.reshape(b, k, d)
                    log_p = pixel_log_prob(x, mu, likelihood, sigma)
                    ll[sl, 2 * t + 1] = _weighted_sum(gamma, log_p).cpu().numpy()
                    # E-step
                    gamma = posterior(log_p, pi if estimate_pi else None, hard)
                    if estimate_pi:
                        pi = gamma.mean(dim=2)
                    ll[sl, 2 * t + 2] = _weighted_sum(gamma, log_p).cpu().numpy()
                    record_scores(sl, t + 1, gamma)
                    if keep_history:
                        g_hist[t + 1, sl] = gamma.cpu().numpy()
                        mu_hist[t, sl] = mu.cpu().numpy()
                gamma_out[sl] = gamma.cpu().numpy()
                pi_out[sl] = pi.cpu().numpy()
    finally:
        if isinstance(dae, torch.nn.Module) and was_training:
            dae.train()

    def to_image_layout(a: np.ndarray) -> np.ndarray:  # (..., N, K, D) -> (..., N, H, W, K)
        return np.moveaxis(a, -2, -1).reshape(*a.shape[:-2], h, w, k)

    return RCResult(
        gamma=to_image_layout(gamma_out), log_likelihood=ll, pi=pi_out, ami=ami,
        confidence=conf,
        gamma_history=to_image_layout(g_hist) if keep_history else None,
        mu_history=to_image_layout(mu_hist) if keep_history else None,
        config={"k": k, "n_iters": n_iters, "e_step": e_step, "init": init,
                "likelihood": likelihood, "sigma": float(sigma),
                "estimate_pi": bool(estimate_pi), "seed": int(seed),
                "average_method": average_method, "device": str(dev)},
    )

