"""What a profile's experiments are: their specifications, pure and cheap to build.

:class:`Experiments` turns a :class:`~rc.config.Profile` into the specifications
(:mod:`rc.specs`) of every computation of the paper's protocol: which images score RC
(:meth:`~Experiments.test_spec`), which configuration each table DAE has and under which
budget it trains (:meth:`~Experiments.table_spec`, with :meth:`~Experiments.epochs_within`,
the one budget rule of every network of the book), which RC evaluates it
(:meth:`~Experiments.eval_spec`), and the runs of the random searches
(:meth:`~Experiments.run_specs`). Nothing here trains, evaluates, reads results or
generates data: :class:`rc.Results` adds the cached running of them.

The one specification that depends on a result is the configuration of a table DAE in a
profile whose tables come from its own search (``tables_from_search``, the ``paper``
profile): there it is the best run of the search, which the caller hands in as
``best_run`` (:class:`rc.Results` holds an :class:`Experiments` and hands in its
:meth:`rc.Results.search_best`); without one such a specification is a ValueError.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from . import published
from .config import Profile, get_profile
from .cost import dae_image_flop, epochs_within
from .datasets import dataset_info
from .search import search_configs
from .specs import DAEConfig, DataSpec, EvalSpec, RCSpec, TrainSpec
from .training import train_split

#: Version of a search run's record (:class:`rc.pipeline.SearchRun`), part of its key:
#: 2 keeps the final AMI of every test image beside the mean.
SEARCH_RUN_VERSION = 2

__all__ = ["TABLES", "Experiments", "TableKind", "check_table"]

class TableKind(NamedTuple):
    """How the DAEs of one of the paper's tables are trained and used."""

    split: str    # the training split
    e_step: str   # the E-step of RC with them


#: Table 1 = single-object training, soft RC; Table 2 = multi-object training, hard RC.
TABLES = {1: TableKind("train_single", "soft"), 2: TableKind("train_multi", "hard")}


def check_table(dataset: str, table: int) -> None:
    """A ValueError unless the paper has Table ``table`` for ``dataset``."""
    if table not in TABLES:
        raise ValueError(f"table must be 1 or 2; got {table!r}")
    if not published.in_table(dataset, table):
        raise ValueError(f"the paper's Table {table} has no {dataset!r}"
                         + (" (Simple Superposition has no multi-object training split)"
                            if table == 2 else ""))


class Experiments:
    """The specifications of one profile's experiments (see the module doc).

    Parameters
    ----------
    profile : str or Profile
        ``"ci"``, ``"default"``, ``"full"``, ``"paper"`` or a custom profile.
    settings : dict, optional
        Changes to the profile's settings (:meth:`rc.config.Profile.replace`).
    best_run : callable, optional
        ``best_run(dataset, table)``: the best run of the profile's search for a table
        (a :class:`rc.pipeline.SearchRun`), where the profile takes its table DAEs from
        its search; without it, their specifications are a ValueError.
    """

    def __init__(self, profile: str | Profile = "default", settings: dict | None = None,
                 best_run: Callable[[str, int], object] | None = None):
        self.profile = get_profile(profile).replace(**(settings or {}))
        self.best_run = best_run

    def __repr__(self) -> str:
        return f"Experiments(profile={self.profile.name!r})"

    def test_spec(self, dataset: str) -> DataSpec:
        """The scored test images: the paper's first 1,000 (all 120), or fewer by profile."""
        n = dataset_info(dataset).n_scored
        if self.profile.n_test is not None:
            n = min(n, self.profile.n_test)
        return DataSpec(dataset, "test", n, self.profile.seed)

    def val_spec(self, dataset: str) -> DataSpec | None:
        """The validation images that score every search run for the unbiased selection
        (None for Simple Superposition, whose 120 possible images are all test images)."""
        size = dataset_info(dataset).split_sizes.get("validation")
        if size is None:
            return None
        n = size if self.profile.n_val is None else min(size, self.profile.n_val)
        return DataSpec(dataset, "validation", n, self.profile.seed)

    def train_data_spec(self, dataset: str, split: str, limit: int | None) -> DataSpec:
        """The first ``limit`` images (all if None) of a training split."""
        size = dataset_info(dataset).split_sizes.get(split)
        if size is None:
            raise ValueError(f"data set {dataset!r} has no split {split!r}")
        return DataSpec(dataset, split, size if limit is None else min(size, limit),
                        self.profile.seed)

    def train_spec(self, data: DataSpec, config: DAEConfig, seed: int,
                   tflop: float | None) -> TrainSpec:
        """Training of ``config`` on ``data`` under the profile's epochs, patience and
        compute cap ``tflop`` (:meth:`epochs_within`)."""
        info = dataset_info(data.dataset)
        image_flop = dae_image_flop(info.shape[0] * info.shape[1], config.n_hidden)
        epochs = self.epochs_within(tflop, image_flop, data)
        return TrainSpec(data, config, int(seed), max_epochs=epochs,
                         patience=self.profile.patience, init=self.profile.init)

    def epochs_within(self, tflop: float | None, image_flop: float, data: DataSpec) -> int:
        """The one budget rule of every network of the book: the epochs (at most the
        profile's ``max_epochs``) that ``tflop`` TFLOP buy when a training image costs
        ``image_flop`` FLOPs and an epoch visits the training part (90%) of ``data``
        (:func:`rc.config.epochs_within`)."""
        return epochs_within(tflop, self.profile.max_epochs, image_flop,
                             train_split(data.n, 0.1))

    def table_config(self, dataset: str, table: int = 1) -> tuple[DAEConfig, int, str]:
        """The DAE configuration behind Table ``table`` for ``dataset``, its seed and where
        it comes from: the best run of our search (profiles with ``tables_from_search``,
        ``best_run``) or the paper's reported configuration."""
        check_table(dataset, table)
        if self.profile.tables_from_search:
            if self.best_run is None:
                raise ValueError(f"the {self.profile.name} profile takes its Table {table} "
                                 "DAEs from its own random search: use rc.Results, which "
                                 "runs it")
            best = self.best_run(dataset, table)
            return DAEConfig.from_mapping(best.config), best.seed, f"our search, run {best.run}"
        paper = published.table(table)[dataset]
        return (DAEConfig.from_mapping(paper), self.profile.seed,
                f"the paper's Table {table}")

    def table_spec(self, dataset: str, table: int = 1) -> TrainSpec:
        """The training of the Table ``table`` DAE of ``dataset`` under this profile."""
        config, seed, _ = self.table_config(dataset, table)
        limit, tflop = self.table_budget()
        data = self.train_data_spec(dataset, TABLES[table].split, limit)
        return self.train_spec(data, config, seed, tflop)

    def table_budget(self) -> tuple[int | None, float | None]:
        """(training images, TFLOP cap) of a table DAE under this profile: the search's
        where the tables come from the search, else the profile's own. Networks compared
        with a table DAE (rc.beyond) get the same."""
        p = self.profile
        return ((p.search_train_limit, p.search_tflop) if p.tables_from_search
                else (p.train_limit, p.train_tflop))

    def eval_spec(self, dataset: str, table: int = 1, k: int | None = None,
                  e_step: str | None = None, average_method: str = "max",
                  restart: int = 0) -> EvalSpec:
        """RC with a table's DAE on the scored test images; ``k`` defaults to the data
        set's K, ``e_step`` to the table's (soft for Table 1, hard for Table 2);
        ``restart`` r > 0 draws other random starts (RC seed: the profile's seed + r)."""
        check_table(dataset, table)
        rc_spec = RCSpec(k=dataset_info(dataset).k if k is None else int(k),
                         n_iters=self.profile.n_iters, e_step=e_step or TABLES[table].e_step,
                         seed=self.profile.seed + int(restart))
        return EvalSpec(self.table_spec(dataset, table), self.test_spec(dataset), rc_spec,
                        average_method)

    def run_specs(self, dataset: str, table: int = 1, study: str = "search"
                  ) -> list[EvalSpec]:
        """The runs of a random search (``study="search"``, Appendix B) or of the
        loss-vs-score study (``study="loss"``, Figure 6a) as evaluation specifications:
        each run's training and the RC that scores it."""
        check_table(dataset, table)
        if study not in ("search", "loss"):
            raise ValueError(f"study must be 'search' or 'loss'; got {study!r}")
        p = self.profile
        runs, limit, tflop = self._search_size(dataset, table, study)
        if study == "search":
            configs = search_configs(runs, p.seed + 100 * table)
        else:
            configs = search_configs(runs, p.seed, study="loss")
        split, e_step = TABLES[table]
        data = self.train_data_spec(dataset, split, limit)
        rc_spec = RCSpec(k=dataset_info(dataset).k, n_iters=p.n_iters, e_step=e_step,
                         seed=p.seed)
        test = self.test_spec(dataset)
        return [EvalSpec(self.train_spec(data, DAEConfig.from_mapping(c), c["seed"], tflop),
                         test, rc_spec)
                for c in configs]

    def _search_size(self, dataset: str, table: int, study: str
                     ) -> tuple[int, int | None, float | None]:
        """(runs, training images, compute cap) of a search or loss study."""
        p = self.profile
        if table == 1 and dataset in p.full_searches:  # the paper's size whatever the rest
            return 100, None, None
        return (p.search_runs if study == "search" else p.loss_runs, p.search_train_limit,
                p.search_tflop)

    def run_cache_inputs(self, spec: EvalSpec, study: str) -> dict:
        """Cache inputs of a search run: its training and RC, the validation images that
        score it too (searches only) and the version of its record
        (:data:`SEARCH_RUN_VERSION`)."""
        val = self.val_spec(spec.data.dataset) if study == "search" else None
        return {**spec.inputs(), "validation": None if val is None else val.inputs(),
                "run_version": SEARCH_RUN_VERSION}

    def run_names(self, dataset: str, table: int = 1, study: str = "search") -> list[str]:
        """The cache names of the runs of :meth:`run_specs`."""
        n = self._search_size(dataset, table, study)[0]
        return [f"{study}/table{table}-{dataset}/run{i:03d}" for i in range(n)]

    def run_inputs(self, dataset: str, table: int = 1, study: str = "search") -> list[dict]:
        """The cache inputs of the runs of :meth:`run_specs`."""
        return [self.run_cache_inputs(s, study) for s in self.run_specs(dataset, table, study)]
