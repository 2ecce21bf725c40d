"""Profiles: how much of the paper's protocol a run of the book does.

One object, :class:`Profile`, holds every size and budget; the three named profiles are

* ``ci`` — tiny sizes so that every notebook runs in seconds (tests);
* ``default`` — what ``make book`` runs on a laptop CPU: full scored test sets, the
  paper's Table 1/2 configurations trained within a compute budget, and a small random
  search for the figures that need one;
* ``full`` — the paper's scale without its searches: the published Table 1/2
  configurations trained on all training images (up to 500 epochs, early stopping), the
  full scored test sets and every element built on those DAEs; hours on a CPU, computed
  once and committed (``results/full``);
* ``paper`` — the full protocol of the paper (100-run random searches, up to 500
  epochs, no budget); meant for a GPU.
"""
from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass

from ._checks import check_choice, check_number, check_positive_int, check_sequence
from .cost import dae_image_flop, epochs_within
from .datasets import DATASETS, label

#: The analyses beyond the paper (modules of :mod:`rc.beyond`), in the order they run.
BEYOND = ("choose_k", "robustness", "grey", "conv", "rc_training", "mnist_shape")


@dataclass(frozen=True)
class Profile:
    """Sizes and budgets of one run of the experiments.

    ``train_tflop`` caps the training compute of one DAE: its epochs are limited to
    ``train_tflop * 1e12 / (dae_image_flop(n_pixels, n_hidden) * n_train)`` (the FLOPs of
    the forward and backward passes, :func:`dae_image_flop`), a machine-independent
    stand-in for a time limit that keeps results deterministic. None means no cap beyond
    ``max_epochs``.

    Every setting is checked when a profile is made (or changed with :meth:`replace`):
    a wrong type or a value out of range raises ValueError naming the setting (e.g.
    ``max_epochs`` must be at least 1, so no DAE is ever scored untrained; ``ks`` must be
    a list of integers). Lists are stored as tuples.

    Attributes
    ----------
    name, description : str
        The profile's name (its results folder) and what it is for.
    n_test : int or None
        Scored test images per data set (None: the paper's 1,000, or all 120).
    train_limit : int or None
        First images of a training split used for the table DAEs (None: all).
    max_epochs, patience : int
        The stopping rule of every training.
    train_tflop : float or None
        Compute cap per table DAE.
    ks : tuple of int
        The numbers of clusters of Figure 4a.
    n_iters : int
        RC iterations.
    tables_from_search : bool
        The table DAEs are the best runs of our searches (else the paper's configurations).
    search_runs, loss_runs : int
        Runs per random search and DAEs per loss-vs-score study.
    search_train_limit : int or None
        First training images used by search and loss-study DAEs.
    search_tflop : float or None
        Compute cap per search or loss-study DAE.
    cache_data : bool
        Cache generated data sets on disk.
    seed : int
        Seed of the data, the table DAEs and RC.
    datasets : tuple of str
        The data sets the experiments cover.
    full_searches : tuple of str
        Data sets whose single-object search and loss-vs-score study run at the paper's
        full size (100 runs, all images, no compute cap) whatever the other settings.
    spread_seeds : int
        Trainings per table configuration (its own seed and others) for the spread of a
        score over trainings.
    costly_spread : tuple of str
        Table entries (``"table1:multi_mnist"``) whose training is too long for
        ``spread_seeds`` trainings: they get ``costly_spread_seeds`` instead.
    costly_spread_seeds : int
        Trainings per costly entry.
    spread_tables : tuple of int
        The tables whose configurations get that spread.
    rc_restarts : int
        RC runs (random starts) per table DAE for the spread over restarts.
    n_val : int or None
        Validation images that score every search run for the unbiased selection rule
        (None: 1,000).
    n_boot : int
        Bootstrap resamples of the test images for the intervals of the scores.
    rc_training_datasets : tuple of str
        Data sets whose DAE is also trained through RC (:mod:`rc.beyond.rc_training`).
    beyond : tuple of str
        The analyses beyond the paper that the profile computes (modules of
        :mod:`rc.beyond`: ``robustness``, ``grey``, ``conv``, ``rc_training``, ``mnist_shape``,
        ``choose_k``).
    init : str
        Initialisation of every DAE (:data:`rc.dae.INITS`): ``"brainstorm"``, the
        authors', or ``"glorot"``.

    """

    name: str
    description: str
    n_test: int | None = None          # scored test images; None: the paper's 1,000 (120)
    train_limit: int | None = None     # first images of a training split; None: all
    max_epochs: int = 500
    patience: int = 10
    train_tflop: float | None = None   # compute cap per table DAE
    ks: tuple[int, ...] = (2, 3, 5, 12)
    n_iters: int = 10
    tables_from_search: bool = True    # Table DAEs = our search's best (else the paper's configs)
    search_runs: int = 100             # random-search runs per data set and training kind
    search_train_limit: int | None = None
    search_tflop: float | None = None  # compute cap per search / loss-vs-score DAE
    loss_runs: int = 100               # DAEs per data set for the loss-vs-score figure
    cache_data: bool = True            # cache generated data sets on disk
    full_searches: tuple[str, ...] = ()  # searches at the paper's full size regardless
    spread_seeds: int = 5              # trainings per table configuration (robustness)
    spread_tables: tuple[int, ...] = (1, 2)
    costly_spread: tuple[str, ...] = ()
    costly_spread_seeds: int = 3
    rc_restarts: int = 10              # RC random starts per table DAE (robustness)
    n_val: int | None = None           # validation images per search run; None: 1,000
    n_boot: int = 1000                 # bootstrap resamples of the test images
    rc_training_datasets: tuple[str, ...] = ("shapes", "bars", "corners", "mnist_shape",
                                             "multi_mnist")
    seed: int = 0
    datasets: tuple[str, ...] = DATASETS
    beyond: tuple[str, ...] = BEYOND    # analyses of rc.beyond the profile computes
    init: str = "brainstorm"            # DAE initialisation (rc.dae.INITS)

    def __post_init__(self):
        for name, check in _SETTING_CHECKS.items():
            try:
                object.__setattr__(self, name, check(getattr(self, name), name))
            except ValueError as exc:
                raise ValueError(f"invalid profile setting: {exc}") from None

    def replace(self, **changes) -> Profile:
        """A copy with some fields changed (e.g. for a custom experiment).

        The copy keeps the name unless ``name`` is changed too; results are cached by
        their inputs, not by the profile's name, so a changed setting is never served a
        result computed under the old one.
        """
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - fields)
        if unknown:
            raise ValueError(f"unknown profile setting(s) {unknown}; the settings are "
                             f"{sorted(fields)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def glue_values(self) -> dict:
        """The settings the book's prose quotes, with the paper's values beside them."""
        paper = PROFILES["paper"]
        return {"profile_name": self.name, "profile_description": self.description,
                "scale_tables": self.caption("tables"),
                "scale_search": self.caption("search"), "scale_loss": self.caption("loss"),
                "n_iters": self.n_iters, "paper_n_iters": paper.n_iters,
                "n_test": 1000 if self.n_test is None else min(self.n_test, 1000),
                "paper_n_test": 1000, "rc_restarts": self.rc_restarts,
                "restarts_text": ("one random start" if self.rc_restarts == 1
                                  else f"{self.rc_restarts} random starts"),
                "n_datasets": len(self.datasets)}

    def caption(self, what: str) -> str:
        """A caption's sentence: at what scale this profile computes ``what``.

        ``what``: ``"tables"`` (the DAEs of Tables 1 and 2 and every RC evaluation of
        them), ``"search"`` (the random searches), ``"loss"`` (the loss-vs-score DAEs).
        """
        images = "the paper's 1,000 test images (all 120 of Simple Superposition)" \
            if self.n_test is None else f"{self.n_test} test images per data set"
        if what == "tables":
            if self.tables_from_search and self.train_limit is None and self.search_tflop is None:
                dae = "the best DAEs of its own 100-run searches, trained in full"
            else:
                dae = ("the paper's configurations, trained on "
                       + ("all" if self.train_limit is None else f"at most {self.train_limit:,}")
                       + " images" + ("" if self.train_tflop is None
                                      else f" within {self.train_tflop:g} TFLOP each")
                       + f", at most {self.max_epochs} epochs")
            return f"{self.name} profile: {dae}; {images}"
        if what in ("search", "loss"):
            runs = self.search_runs if what == "search" else self.loss_runs
            noun = "runs" if what == "search" else "DAEs"
            full = [label(d) for d in self.full_searches if d in self.datasets]
            if runs == 0 and not full:
                study = "random searches" if what == "search" else "loss-vs-score study"
                return f"{self.name} profile: no {study}"
            if runs == 0:
                return (f"{self.name} profile: the paper's 100 {noun} for {', '.join(full)}"
                        + ("" if what == "loss" else " (single-object training)")
                        + f", each trained on all images, up to {self.max_epochs} epochs")
            data = ("all" if self.search_train_limit is None
                    else f"at most {self.search_train_limit:,}")
            cap = "" if self.search_tflop is None else f" within {self.search_tflop:g} TFLOP"
            text = (f"{self.name} profile: {runs} of the paper's 100 {noun} per data set, "
                    f"each trained on {data} images{cap}, at most {self.max_epochs} epochs")
            if full and (runs, self.search_train_limit, self.search_tflop) != (100, None, None):
                text += (f"; {' and '.join(full)} at the paper's full size (100 {noun}, all "
                         f"images, up to {self.max_epochs} epochs)"
                         + ("" if what == "loss" else " for single-object training"))
            return text
        raise ValueError(f"what must be 'tables', 'search' or 'loss'; got {what!r}")


def _optional(check):
    """A setting's check that also accepts None."""
    return lambda value, name: None if value is None else check(value, name)


def _int(minimum: int):
    return lambda value, name: check_positive_int(value, name, minimum)


def _positive(value, name: str) -> float | int:
    check_number(value, name, positive=True)
    return value


def _flag(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return value


def _text(value, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string; got {value!r}")
    return value


def _folder_name(value, name: str) -> str:
    """A profile's name names its results folder: letters, digits, '-', '_' and '.'."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", value):
        raise ValueError(f"{name} must be a folder name (letters, digits, '-', "
                         f"'_', '.'); got {value!r}")
    return value


def _each(check, allow_empty: bool = True):
    """A setting that is a list of items, each checked with ``check``."""
    return lambda value, name: check_sequence(value, name, check,
                                              allow_empty)


def _one_of(choices):
    return lambda value, name: check_choice(value, name, choices)


def _costly(value, name: str) -> str:
    """A table entry such as ``"table1:multi_mnist"``."""
    table, _, dataset = str(value).partition(":")
    if not isinstance(value, str) or table not in ("table1", "table2") \
            or dataset not in DATASETS:
        raise ValueError(f"{name} must be 'table1:<data set>' or 'table2:<data set>' with a "
                         f"data set of {list(DATASETS)}; got {value!r}")
    return value


def _inits():
    from .dae import INITS
    return INITS


#: How every profile setting is checked (and normalised: lists become tuples).
_SETTING_CHECKS = {
    "name": _folder_name, "description": _text,
    "n_test": _optional(_int(1)), "train_limit": _optional(_int(2)),
    "max_epochs": _int(1), "patience": _int(1), "train_tflop": _optional(_positive),
    "ks": _each(_int(1), allow_empty=False), "n_iters": _int(1),
    "tables_from_search": _flag, "search_runs": _int(0),
    "search_train_limit": _optional(_int(2)), "search_tflop": _optional(_positive),
    "loss_runs": _int(0), "cache_data": _flag,
    "full_searches": _each(_one_of(DATASETS)), "spread_seeds": _int(1),
    "spread_tables": _each(_one_of((1, 2))), "costly_spread": _each(_costly),
    "costly_spread_seeds": _int(1), "rc_restarts": _int(1), "n_val": _optional(_int(1)),
    "n_boot": _int(1), "rc_training_datasets": _each(_one_of(DATASETS)), "seed": _int(0),
    "datasets": _each(_one_of(DATASETS), allow_empty=False),
    "beyond": _each(_one_of(BEYOND)),
    "init": lambda value, name: check_choice(value, name, _inits()),
}


PROFILES: dict[str, Profile] = {
    "ci": Profile(
        name="ci", description="tiny sizes for tests: every notebook in seconds",
        n_test=24, train_limit=400, max_epochs=4, patience=2, ks=(2, 3), n_iters=4,
        tables_from_search=False, search_runs=2, search_train_limit=200, loss_runs=3,
        cache_data=False, spread_seeds=2, rc_restarts=2, n_val=16, n_boot=200,
        rc_training_datasets=("shapes", "bars"),
    ),
    "default": Profile(
        name="default",
        description="laptop CPU: Table 1/2 configurations within a compute budget, "
                    "full scored test sets, a small random search",
        train_limit=10_000, train_tflop=2.5, tables_from_search=False,
        search_runs=3, search_train_limit=2_000, search_tflop=0.25, loss_runs=3,
        full_searches=("simple_superposition",), spread_seeds=1, spread_tables=(1,),
        rc_restarts=1, n_val=200, rc_training_datasets=(),
        beyond=("choose_k", "robustness", "grey", "conv"),
    ),
    "full": Profile(
        name="full",
        description="the paper's scale on a CPU: its published Table 1/2 configurations "
                    "trained on all training images, up to 500 epochs with early "
                    "stopping, the full scored test sets; the paper's 100-run Table 1 "
                    "search and loss-vs-score study for the five data sets where a CPU "
                    "suffices (not Multi-MNIST; no Table 2 searches)",
        tables_from_search=False, search_runs=0, loss_runs=0, spread_seeds=5,
        full_searches=("simple_superposition", "shapes", "bars", "corners", "mnist_shape"),
        costly_spread=("table1:multi_mnist", "table2:mnist_shape", "table2:multi_mnist"),
        costly_spread_seeds=3, rc_restarts=5, rc_training_datasets=(),
        beyond=("choose_k", "robustness", "mnist_shape"),
    ),
    "paper": Profile(
        name="paper", description="the full protocol of the paper (meant for a GPU)",
    ),
}


#: What the results of each named profile can and cannot say (shown beside its verdicts).
MEANING: dict[str, str] = {
    "ci": "Its networks are trained for a handful of epochs on a few hundred images: the "
          "verdicts test the pipeline, not the paper, and its scores are meaningless as "
          "evidence about RC.",
    "default": "A CPU-scale run: it retrains the paper's configurations under a compute "
               "budget and replaces the random searches by a few runs. Shortfalls against "
               "the paper may come from the budget as much as from the method.",
    "full": "The paper's published configurations trained at the paper's full scale, "
            "one training each (plus a few more seeds for the spread): the paper picked "
            "each of them as the best of 100 runs by its test score, so one training of "
            "the same configuration is expected to land somewhat below the paper's value. "
            "The Table 1 searches and the loss-vs-score study run at the paper's size for "
            "the five data sets a CPU can afford; Multi-MNIST's and the Table 2 searches "
            "need a GPU or a cluster (the paper profile).",
    "paper": "The full protocol of the paper: its verdicts are the reproduction's result.",
}

#: The profile settings shown in the book's comparison of profiles.
SHOWN_FIELDS = ("n_test", "train_limit", "max_epochs", "train_tflop", "ks", "n_iters",
                "tables_from_search", "search_runs", "search_train_limit", "search_tflop",
                "loss_runs", "full_searches", "spread_seeds", "costly_spread",
                "costly_spread_seeds", "spread_tables", "rc_restarts", "n_val", "n_boot",
                "rc_training_datasets", "beyond", "init")


def meaning(profile: str | Profile) -> str:
    """What the results of ``profile`` can say (a sentence or two)."""
    p = get_profile(profile)
    return MEANING.get(p.name, f"A custom profile ({p.name}): {p.description}.")


def profile_table(names=("ci", "default", "full", "paper")):
    """The settings of the named profiles side by side (a Markdown table)."""
    from .report import markdown_table

    def setting(field, value):
        return ("no cap" if "tflop" in field else "all") if value is None else str(value)
    return markdown_table(["setting"] + [f"`{n}`" for n in names],
                          [[f"`{f}`"] + [setting(f, getattr(PROFILES[n], f)) for n in names]
                           for f in SHOWN_FIELDS])


def get_profile(profile: str | Profile) -> Profile:
    """Look up a profile by name.

    Parameters
    ----------
    profile : str or Profile
        ``"ci"``, ``"default"`` or ``"paper"``; a :class:`Profile` is returned as it is.

    Returns
    -------
    Profile
    """
    if isinstance(profile, Profile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(PROFILES)}")
    return PROFILES[profile]


#: The environment of a launch (``binder/start`` sets them): the profile that a chapter's
#: parameters cell takes instead of its default, and whether it may compute what is
#: missing (``0``/``false``/``no``: only read stored results).
LAUNCH_PROFILE, LAUNCH_COMPUTE = "RC_PROFILE", "RC_COMPUTE"
#: The profile that the chapters' parameters cells name.
CELL_PROFILE = "default"
#: What :func:`launch` returned last in this process, and who chose it.
_LAUNCHED: dict = {}


def launch(profile: str = CELL_PROFILE, may_compute: bool = True, environ=None
           ) -> tuple[str, bool]:
    """The last line of a chapter's parameters cell: ``(profile, may_compute)`` with a
    launch's choice applied.

    A launch (``binder/start``) sets ``RC_PROFILE`` (and optionally ``RC_COMPUTE``). Its
    profile replaces the cell's default (``"default"``) only, so the precedence is:
    parameters that papermill injects after the cell (``make book PROFILE=...`` and
    ``scripts/run_book.py`` inject both ``profile`` and ``may_compute``) > a profile the
    reader writes into the cell > ``RC_PROFILE`` > the cell's default. With the launch's
    profile, ``may_compute`` is ``RC_COMPUTE`` if set, else False for ``full`` and
    ``paper`` (their results are committed or computed elsewhere), else unchanged. (Run
    papermill by hand in such a shell with both ``-p profile`` and ``-p may_compute``.)
    """
    env = os.environ if environ is None else environ
    chosen = env.get(LAUNCH_PROFILE, "").strip()
    origin = "cell"
    if chosen and profile == CELL_PROFILE:
        if chosen not in PROFILES:
            raise ValueError(f"{LAUNCH_PROFILE}={chosen!r} names no profile; expected one "
                             f"of {sorted(PROFILES)}")
        profile, origin = chosen, "launch"
        flag = env.get(LAUNCH_COMPUTE, "").strip().lower()
        if flag:
            if flag not in ("0", "1", "false", "true", "no", "yes"):
                raise ValueError(f"{LAUNCH_COMPUTE}={flag!r}: give 1 (compute what is "
                                 "missing) or 0 (only read stored results)")
            may_compute = flag in ("1", "true", "yes")
        elif chosen in ("full", "paper"):
            may_compute = False
    _LAUNCHED.clear()
    _LAUNCHED.update(profile=profile, may_compute=bool(may_compute), origin=origin)
    return profile, may_compute


def launched() -> dict:
    """What :func:`launch` returned last in this process (``profile``, ``may_compute``) and who
    chose it (``origin``: ``"launch"`` or ``"cell"``); empty before any call."""
    return dict(_LAUNCHED)


def epoch_cap(profile_tflop: float | None, max_epochs: int, n_pixels: int, n_hidden: int,
              n_train: int) -> int:
    """Epochs of the paper's DAE allowed by a compute cap (:func:`rc.cost.epochs_within`
    with :func:`rc.cost.dae_image_flop`, the cost model; both are importable from here
    too)."""
    return epochs_within(profile_tflop, max_epochs, dae_image_flop(n_pixels, n_hidden),
                         n_train)
