"""The trained DAEs of Tables 1 and 2, loaded from stored results without training.

``rc.pretrained("multi_mnist")`` returns the DAE that the ``full`` profile trained with
the paper's published Table 1 configuration for Multi-MNIST, read from the committed
results (``results/full`` of the repository, or ``$RC_RESULTS/full``), together with its
configuration, training record and provenance. Nothing is ever trained here: a DAE that
is not stored raises :class:`~rc.cache.MissingResultError` naming the entry and the
command that computes it (``make full``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._checks import check_choice
from .cache import MissingResultError
from .config import Profile, get_profile
from .datasets import DATASETS, dataset_info, label
from .pipeline import TABLES, Results
from .specs import DAEConfig, RCSpec, TrainSpec
from .training import TrainHistory

__all__ = ["FULL_SCALE", "Pretrained", "full_scale_or_own", "full_scale_or_own_spec", "pretrained"]

#: Profiles whose table DAEs are trained at the paper's scale.
FULL_SCALE = ("full", "paper")


@dataclass
class Pretrained:
    """A stored trained DAE of Table 1 or 2 and everything known about it.

    Attributes
    ----------
    dae : rc.DAE
        The network, in evaluation mode.
    dataset : str
        The data set it was trained on.
    table : int
        1 (single-object training, soft RC) or 2 (multi-object training, hard RC).
    config : DAEConfig
        Learning rate, hidden units, activation and noise.
    spec : TrainSpec
        The whole training specification (data, seed, epochs, patience, ...).
    history : TrainHistory
        Its training record: losses per epoch, best epoch, why it stopped.
    provenance : dict
        Where it was trained: profile, device, versions, commit, time.
    profile : str
        The profile whose results hold it (``"full"`` by default).
    source : str
        Where its configuration comes from (e.g. "the paper's Table 1").
    """

    dae: object
    dataset: str
    table: int
    config: DAEConfig
    spec: TrainSpec
    history: TrainHistory
    provenance: dict
    profile: str
    source: str

    @property
    def k(self) -> int:
        """The number of clusters RC uses on this data set."""
        return dataset_info(self.dataset).k

    @property
    def e_step(self) -> str:
        """The E-step of its table: soft for Table 1, hard for Table 2."""
        return TABLES[self.table].e_step

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) of the images it takes."""
        return tuple(dataset_info(self.dataset).shape)

    def rc_spec(self, k: int | None = None, n_iters: int = 10, e_step: str | None = None,
                seed: int = 0) -> RCSpec:
        """RC settings for this DAE: its data set's K and its table's E-step by default."""
        return RCSpec(k=self.k if k is None else k, n_iters=n_iters,
                      e_step=e_step or self.e_step, seed=seed)

    def describe(self) -> str:
        """One line: which DAE, its configuration, its training and where it is from."""
        h = self.history
        return (f"the {self.profile}-profile Table {self.table} DAE of {label(self.dataset)} "
                f"({self.config.text()}; {self.source}), trained on {self.spec.data.n:,} "
                f"images of {self.spec.data.split} for {h.epochs} epochs (best epoch "
                f"{h.best_epoch}, {h.stopped}) on {self.provenance.get('device', '?')}")


def pretrained(dataset: str, table: int = 1, *, profile: str | Profile = "full",
               root: Path | str | None = None, device=None) -> Pretrained:
    """The stored trained DAE of Table ``table`` for ``dataset``, without training.

    Parameters
    ----------
    dataset : str
        One of :data:`rc.DATASETS`.
    table : int
        1: trained on single objects (the paper's Table 1, soft RC); 2: trained on images
        with several objects (Table 2, hard RC; Simple Superposition has none). An int:
        ``1.0`` or ``True`` is refused.
    profile : str or Profile
        Whose results to read; ``"full"`` (default) holds the paper's published
        configurations trained at the paper's scale.
    root : path, optional
        The results folder (default :func:`rc.pipeline.results_dir`: ``$RC_RESULTS``, else
        the repository's ``results/``).
    device : str or torch.device, optional
        Where to put the network (default: CUDA if available).

    Returns
    -------
    Pretrained

    Raises
    ------
    ValueError
        An unknown data set or table.
    MissingResultError
        The DAE is not stored; the message names the entry and how to compute it.
    """
    check_choice(dataset, "data set", DATASETS)
    if (isinstance(table, (bool, np.bool_)) or not isinstance(table, (int, np.integer))
            or table not in TABLES):  # 1.0 == 1, but a float is no table number
        raise ValueError(f"table must be 1 (single-object training) or 2 (multi-object "
                         f"training), as an int; got {table!r}")
    results = Results(get_profile(profile), may_compute=False, progress=False, root=root,
                   device=device)
    try:
        config, _, source = results.table_config(dataset, table)
        spec = results.table_spec(dataset, table)
        trained = results.trained(spec)
    except MissingResultError as exc:
        raise MissingResultError(
            f"no stored {results.profile.name}-profile DAE of Table {table} for "
            f"{label(dataset)}: {exc}; or point RC_RESULTS at a results folder that holds "
            f"{results.profile.name}/") from None
    return Pretrained(trained.dae, dataset, int(table), config, spec, trained.history,
                      dict(trained.provenance), results.profile.name, source)


def full_scale_or_own_spec(results: Results, dataset: str, table: int = 1) -> TrainSpec:
    """The training of the DAE that :func:`full_scale_or_own` gives, known without
    loading or training it: the full-scale one's where that is stored, else the table DAE's
    of the profile of ``results``."""
    if results.profile.name not in FULL_SCALE:
        full = Results(get_profile("full"), may_compute=False, progress=False,
                       root=results.cache.root.parent, device="cpu")
        spec = full.table_spec(dataset, table)
        if full.is_stored(spec):
            return spec
    return results.table_spec(dataset, table)


def full_scale_or_own(results: Results, dataset: str, table: int = 1) -> Pretrained:
    """The DAE to show RC with under ``results``: the stored full-scale one (``full``
    profile, under the same results folder) where there is one, else the table DAE of
    ``results``' own profile (trained first if missing and ``results`` may compute). A
    profile at the paper's scale itself (:data:`FULL_SCALE`) uses its own."""
    root = results.cache.root.parent
    if results.profile.name not in FULL_SCALE:
        try:
            return pretrained(dataset, table, root=root, device=results.device)
        except MissingResultError:
            pass
    results.table_dae(dataset, table)
    return pretrained(dataset, table, profile=results.profile, root=root, device=results.device)
