"""What determines each computation of the protocol: small frozen specifications.

A specification names every input of one computation: which images (:class:`DataSpec`),
which DAE configuration and training settings (:class:`TrainSpec`), which RC settings
(:class:`RCSpec`) and which evaluation (:class:`EvalSpec`). Each has an ``inputs()``
dictionary that also carries the version numbers of the code it depends on (the data
generator, the training procedure, RC, the score); the cache keys results by it
(:mod:`rc.cache`), so a change of any input or version gives a new result.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from . import clustering, metrics, training
from ._checks import check_choice, check_positive_int
from .dae import ACTIVATIONS, INITS
from .datasets import (
    ALL_DATASETS,
    GENERATOR_VERSION,
    SPLITS,
    dataset_info,
    load_dataset,
)

__all__ = ["DAEConfig", "DataSpec", "EvalSpec", "RCSpec", "TrainSpec"]


@dataclass(frozen=True)
class DataSpec:
    """The first ``n`` images of ``split`` of data set ``dataset``, generated from ``seed``."""

    dataset: str
    split: str
    n: int
    seed: int = 0

    def __post_init__(self):
        check_choice(self.dataset, "data set", ALL_DATASETS)
        check_choice(self.split, "split", SPLITS)
        size = dataset_info(self.dataset).split_sizes.get(self.split)
        if size is None:
            raise ValueError(f"data set {self.dataset!r} has no split {self.split!r}")
        check_positive_int(self.n, "n")
        if self.n > size:
            raise ValueError(f"n must be <= {size}, the size of {self.dataset}/{self.split}; "
                             f"got {self.n}")
        check_positive_int(self.seed, "seed", minimum=0)

    def inputs(self) -> dict:
        return {"dataset": self.dataset, "split": self.split, "n": self.n, "seed": self.seed,
                "generator_version": GENERATOR_VERSION}

    def load(self, cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(images, groups) of this specification (:func:`rc.load_dataset`)."""
        return load_dataset(self.dataset, self.split, seed=self.seed, n=self.n, cache=cache)


@dataclass(frozen=True)
class DAEConfig:
    """A DAE configuration of the random search: learning rate, width, activation, noise."""

    learning_rate: float
    n_hidden: int
    activation: str
    noise: float

    def __post_init__(self):
        lr = float(self.learning_rate)
        if not (lr > 0 and np.isfinite(lr)):
            raise ValueError(f"learning_rate must be a positive number; got {self.learning_rate}")
        if not 0.0 <= float(self.noise) < 1.0:
            raise ValueError(f"noise must be a probability in [0, 1); got {self.noise}")
        check_positive_int(self.n_hidden, "n_hidden")
        check_choice(self.activation, "activation", ACTIVATIONS)
        object.__setattr__(self, "learning_rate", lr)
        object.__setattr__(self, "noise", float(self.noise))
        object.__setattr__(self, "n_hidden", int(self.n_hidden))

    @classmethod
    def from_mapping(cls, m: Mapping) -> DAEConfig:
        """From any mapping (or object with attributes) holding the four fields."""
        get = (lambda k: m[k]) if isinstance(m, Mapping) else (lambda k: getattr(m, k))
        return cls(get("learning_rate"), get("n_hidden"), get("activation"), get("noise"))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def text(self) -> str:
        """One line: learning rate, hidden units and activation, noise."""
        return (f"{self.learning_rate:.4g}, {self.n_hidden} {self.activation}, "
                f"p = {self.noise:.1f}")


@dataclass(frozen=True)
class TrainSpec:
    """One DAE training: data, configuration, seed (initialisation and training stream),
    initialisation scheme (:data:`rc.dae.INITS`) and the training settings of
    :func:`rc.train_dae`."""

    data: DataSpec
    config: DAEConfig
    seed: int
    max_epochs: int = 500
    patience: int = 10
    batch_size: int = 100
    val_fraction: float = 0.1
    init: str = "brainstorm"

    def __post_init__(self):
        check_choice(self.init, "init", INITS)

    def inputs(self) -> dict:
        """Everything that determines the trained DAE. ``init`` appears only where it is
        not ``"glorot"``, so that Glorot trainings keep the keys they had before the
        scheme became a setting."""
        d = {"data": self.data.inputs(), "config": self.config.to_dict(),
             "seed": self.seed, "max_epochs": self.max_epochs, "patience": self.patience,
             "batch_size": self.batch_size, "val_fraction": self.val_fraction,
             "train_version": training.VERSION}
        if self.init != "glorot":
            d["init"] = self.init
        return d

    def member(self) -> dict:
        """This training as a member configuration of :func:`rc.train_population`."""
        return {**self.config.to_dict(), "seed": self.seed, "max_epochs": self.max_epochs,
                "init": self.init}

    @property
    def name(self) -> str:
        """A readable name: data set, split, width and activation, seed."""
        c = self.config
        return f"{self.data.dataset}-{self.data.split}-{c.n_hidden}{c.activation}-s{self.seed}"


@dataclass(frozen=True)
class RCSpec:
    """The settings of one RC run (:func:`rc.reconstruction_clustering`)."""

    k: int
    n_iters: int = 10
    e_step: str = "soft"
    init: str = "gaussian"
    seed: int = 0
    estimate_pi: bool = False
    likelihood: str = "bernoulli"
    sigma: float = 0.2

    def __post_init__(self):
        check_positive_int(self.k, "k")
        check_positive_int(self.n_iters, "n_iters", minimum=0)
        check_choice(self.e_step, "e_step", clustering.E_STEPS)
        check_choice(self.init, "init", clustering.INITS)
        check_positive_int(self.seed, "seed", minimum=0)
        check_choice(self.likelihood, "likelihood", clustering.LIKELIHOODS)
        if isinstance(self.sigma, bool) or not isinstance(self.sigma, (int, float)) \
                or not (0 < self.sigma < float("inf")):
            raise ValueError(f"sigma must be a positive number; got {self.sigma!r}")

    def inputs(self) -> dict:
        """The settings that determine the result: ``likelihood`` only where it is not the
        paper's Bernoulli, ``sigma`` only for the Gaussian (the only one that uses it), so
        that the keys of binary runs are those they had before grey levels existed."""
        d = {**dataclasses.asdict(self), "rc_version": clustering.VERSION}
        if self.likelihood == "bernoulli":
            del d["likelihood"]
        if self.likelihood != "gaussian":
            del d["sigma"]
        return d

    def run(self, model, images, **kwargs) -> clustering.RCResult:
        """RC with these settings on ``images`` (keyword arguments are passed on)."""
        return clustering.reconstruction_clustering(
            model, images, k=self.k, n_iters=self.n_iters, e_step=self.e_step,
            init=self.init, seed=self.seed, estimate_pi=self.estimate_pi,
            likelihood=self.likelihood, sigma=self.sigma, **kwargs)


@dataclass(frozen=True)
class EvalSpec:
    """RC with the DAE that ``training`` trains, on the images of ``data``, scored per image
    and iteration."""

    training: TrainSpec
    data: DataSpec
    rc: RCSpec
    average_method: str = "max"

    def __post_init__(self):
        check_choice(self.average_method, "average_method", metrics.AVERAGE_METHODS)

    def inputs(self) -> dict:
        return {"dae": self.training.inputs(), "data": self.data.inputs(), "rc": self.rc.inputs(),
                "average_method": self.average_method, "metrics_version": metrics.VERSION}

    @property
    def name(self) -> str:
        norm = "" if self.average_method == "max" else f"-{self.average_method}"
        return (f"{self.data.dataset}-{self.training.data.split}-k{self.rc.k}-{self.rc.e_step}"
                f"{norm}")
