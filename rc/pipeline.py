"""The protocol's computations: pure functions, and one profile's cached results of them.

The computations are functions of explicit inputs that return results:

* :func:`train` — one DAE from a :class:`~rc.specs.TrainSpec` -> :class:`TrainedDAE`;
* :func:`scores_per_iteration` — RC with a model on images, as an
  :class:`~rc.specs.EvalSpec` says, scored per image after every iteration ->
  :class:`Evaluation`; :func:`final_scores` — the same scored after the last iteration
  only -> :class:`FinalScores` (for repeats); :func:`final_amis` — only the per-image
  final AMIs (an array), and :func:`mean_final_ami` their mean (a search run's score);
* random searches are many trainings (:func:`rc.train_population`) whose members are
  scored with :func:`final_amis` as they finish -> :class:`SearchRun` records.

:class:`Results` runs the specifications of a profile's experiments
(:class:`rc.experiments.Experiments`, which it holds as ``specs``: which images, which
configurations, which budgets) and wraps every computation in the cache
(:class:`rc.cache.Cache`, under ``results/<profile>/``), keyed by the full specification.
Each cached computation is a declared :class:`~rc.tasks.Task`
(:meth:`Results.training_task`, :meth:`Results.evaluation_task` (with ``final``: the
final scores), :meth:`Results.run_tasks`); :meth:`Results.has` and :meth:`Results.get`
answer for any task. It computes only what is missing, says so when ``progress`` is on,
and with ``may_compute=False`` raises :class:`~rc.cache.MissingResultError` instead
(rendering from committed results). The figures, tables and claims of the paper are
built on it in :mod:`rc.paper`.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from tqdm import tqdm

from ._checks import checked_field
from .cache import Cache, MissingResultError, Record, timed
from .config import PROFILES, Profile
from .cost import dae_image_flop, estimated_epochs, train_flop
from .dae import DAE, dae_from_record, dae_record, resolve_device
from .datasets import dataset_info
from .experiments import TABLES, Experiments
from .metrics import ami, ari, nan_where_unscored, score
from .specs import DataSpec, EvalSpec, TrainSpec
from .storage import REPO, provenance
from .tasks import Task, WorkContext
from .training import (
    DeadlineReached,
    TrainHistory,
    groups_to_train,
    members_at_once,
    population_groups,
    train_population,
)

__all__ = ["Evaluation", "FinalScores", "Results", "SearchRun", "TABLES", "TrainedDAE",
           "scores_per_iteration", "final_amis", "final_scores", "results_dir", "rc_flop",
           "search_group", "train"]

T = TypeVar("T")


def results_dir() -> Path:
    """Root folder of all profiles' results: ``$RC_RESULTS``, else ``results/`` in the
    repository (or in the working directory when ``rc`` is installed elsewhere)."""
    env = os.environ.get("RC_RESULTS")
    if env:
        return Path(env)
    if (REPO / "pyproject.toml").exists():
        return REPO / "results"
    return Path.cwd() / "results"


# ------------------------------------------------------------------------------ results
@dataclass
class TrainedDAE:
    """A trained DAE, its training history and where it came from."""

    dae: DAE
    history: TrainHistory
    provenance: dict = field(default_factory=dict)

    def to_record(self):
        arrays, doc = dae_record(self.dae)
        return arrays, {"dae": doc, "history": self.history.to_dict(),
                        "provenance": self.provenance}

    @classmethod
    def from_record(cls, arrays, fields):
        return cls(dae_from_record(arrays, fields["dae"], "cpu"),
                   TrainHistory(**fields["history"]), fields["provenance"])


@dataclass(frozen=True)
class _Scores:
    """What :class:`Evaluation` and :class:`FinalScores` share: what was evaluated, and
    the summaries of each image's final AMI (``final_ami``), ``ari`` and
    ``ami_arithmetic``. An image without object pixels scores NaN (:func:`rc.score`);
    the means skip it."""

    dataset: str
    k: int
    e_step: str
    average_method: str
    dae: str
    provenance: dict

    @property
    def score(self) -> float:
        """The paper's score: the mean AMI after the last iteration."""
        return float(np.nanmean(self.final_ami))

    @property
    def n_images(self) -> int:
        return int(self.final_ami.shape[0])

    @property
    def mean_ari(self) -> float:
        return float(np.nanmean(self.ari))

    @property
    def mean_ami_arithmetic(self) -> float:
        return float(np.nanmean(self.ami_arithmetic))


@dataclass(frozen=True)
class Evaluation(_Scores, Record):
    """RC on a set of test images, per image: ``ami`` and ``confidence`` (N, T+1), for the
    initial assignments and after every iteration, ``log_likelihood`` (N, 2T+1), and after
    the last iteration the adjusted Rand index ``ari`` and the AMI normalised by the
    arithmetic mean of the entropies, ``ami_arithmetic`` (N,), on the same pixels (those
    of an object: the "FG-ARI" of later work)."""

    ami: np.ndarray = checked_field("N", "T1")
    confidence: np.ndarray = checked_field("N", "T1")
    log_likelihood: np.ndarray = checked_field("N", None)
    ari: np.ndarray = checked_field("N")
    ami_arithmetic: np.ndarray = checked_field("N")

    @property
    def final_ami(self) -> np.ndarray:
        """Each image's AMI after the last iteration, (N,)."""
        return self.ami[:, -1]

    def glue_values(self) -> dict:
        """Its summary for the book's prose: the score with either normaliser, the ARI,
        the mean final confidence and the number of images."""
        return {"ami_max": self.score, "ami_mean": self.mean_ami_arithmetic,
                "ari": self.mean_ari, "conf": float(np.nanmean(self.confidence[:, -1])),
                "n": self.n_images}


@dataclass(frozen=True)
class FinalScores(_Scores, Record):
    """The scores of an :class:`Evaluation` after the last iteration only, per image:
    ``ami`` (the paper's normaliser), ``ari`` and ``ami_arithmetic`` (N,). What a repeat
    is stored as (another RC start, another training of one configuration): the spreads
    need its scores, no figure its trajectories, which take ten times the space."""

    ami: np.ndarray = checked_field("N")
    ari: np.ndarray = checked_field("N")
    ami_arithmetic: np.ndarray = checked_field("N")

    @property
    def final_ami(self) -> np.ndarray:
        return self.ami


@dataclass(frozen=True)
class SearchRun:
    """One run of a random search (or of the loss-vs-score study): its DAE configuration,
    training outcome and RC score."""

    run: int
    kind: str
    dataset: str
    table: int
    config: dict
    seed: int
    score: float
    best_val_loss: float
    epochs: int
    best_epoch: int
    stopped: str
    train_seconds: float
    rc_seconds: float
    n_images: int
    n_test: int
    provenance: dict
    val_score: float | None = None   # on the validation images (searches; None: not scored)
    n_val: int = 0
    ami: list[float] | None = None   # final AMI per test image (NaN: no object pixel)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ------------------------------------------------------------------------------ pure functions
def train(spec: TrainSpec, images: np.ndarray, *, device=None, progress: bool = False,
          deadline: float | None = None, checkpoint: Path | None = None) -> TrainedDAE:
    """Train the DAE of ``spec`` on ``images`` (the images of ``spec.data``); past
    ``deadline`` (``time.monotonic()``) training stops with :class:`DeadlineReached`;
    with a ``checkpoint`` file it is resumable (:func:`rc.train_dae`)."""
    [(dae, hist)] = train_population(images, **_population_of_one(spec, images),
                                     device=device, progress=progress, deadline=deadline,
                                     checkpoint=checkpoint)
    return TrainedDAE(dae, hist, {"seconds": hist.seconds})


def _population_of_one(spec: TrainSpec, images: np.ndarray) -> dict:
    """The arguments of :func:`rc.train_population` that ``spec`` sets: a fresh DAE of
    ``spec`` as a population of one, exactly as :func:`rc.train_dae` trains it (called
    directly, so that a training runs a few frames nearer to its caller)."""
    d = int(np.prod(images.shape[1:]))
    dae = DAE(d, spec.config.n_hidden, spec.config.activation, seed=spec.seed,
              init=spec.init)
    config = {"learning_rate": spec.config.learning_rate, "noise": spec.config.noise,
              "n_hidden": dae.n_hidden, "activation": dae.activation, "seed": int(spec.seed)}
    return {"configs": [config], "initial": [dae], "batch_size": spec.batch_size,
            "max_epochs": spec.max_epochs, "patience": spec.patience,
            "val_fraction": spec.val_fraction, "grey": dataset_info(spec.data.dataset).grey}


def scores_per_iteration(spec: EvalSpec, model, images: np.ndarray, groups: np.ndarray,
                         *, progress: bool = False) -> Evaluation:
    """RC with ``model`` on ``images`` as ``spec.rc`` says, scored against ``groups`` after
    every iteration."""
    start = time.perf_counter()
    res = spec.rc.run(model, images, groups=groups, average_method=spec.average_method,
                      progress=progress)
    return Evaluation(ami=res.ami, confidence=res.confidence,
                      log_likelihood=res.log_likelihood,
                      **_final_ari_and_ami(groups, res.labels), **_about(spec, start))


def final_scores(spec: EvalSpec, model, images: np.ndarray, groups: np.ndarray, *,
                 progress: bool = False) -> FinalScores:
    """The scores of :func:`scores_per_iteration` after the last iteration (equal to its
    last column), with the images scored only then: a fraction of the scoring cost."""
    start = time.perf_counter()
    res = spec.rc.run(model, images, progress=progress)
    final = score(groups, res.gamma, spec.average_method)[0]
    return FinalScores(ami=final, **_final_ari_and_ami(groups, res.labels),
                       **_about(spec, start))


def final_amis(spec: EvalSpec, model, images: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per image, the final AMI of :func:`scores_per_iteration` (NaN where an image has no
    object pixel), with the images scored only after the last iteration."""
    res = spec.rc.run(model, images)
    return score(groups, res.gamma, spec.average_method)[0]


def mean_final_ami(spec: EvalSpec, model, images: np.ndarray, groups: np.ndarray) -> float:
    """The score of :func:`scores_per_iteration` (the mean final AMI), with the images
    scored only after the last iteration: what a search run needs, at a fraction of the
    scoring cost."""
    return float(np.nanmean(final_amis(spec, model, images, groups)))


def _final_ari_and_ami(groups: np.ndarray, labels: np.ndarray) -> dict:
    """``ari`` and ``ami_arithmetic`` (N,) of the final ``labels`` on the object pixels."""
    truth = np.asarray(groups).reshape(len(groups), -1)
    labels = labels.reshape(len(groups), -1)
    objects = truth != 0
    return {"ari": nan_where_unscored(ari(truth, labels, objects), objects),
            "ami_arithmetic": nan_where_unscored(ami(truth, labels, objects, "arithmetic"),
                                                 objects)}


def _about(spec: EvalSpec, start: float) -> dict:
    """The descriptive fields of an evaluation of ``spec`` begun at ``start``."""
    return {"dataset": spec.data.dataset, "k": spec.rc.k, "e_step": spec.rc.e_step,
            "average_method": spec.average_method, "dae": spec.training.name,
            "provenance": {"seconds": time.perf_counter() - start}}


# ------------------------------------------------------------------------------ tasks' work
def rc_flop(spec: EvalSpec) -> float:
    """FLOPs of RC as ``spec`` says (the cost model's estimate): every image, cluster and
    iteration (and the initial step) one forward pass of the DAE (4 D H)."""
    info = dataset_info(spec.data.dataset)
    forward = 0.4 * dae_image_flop(info.shape[0] * info.shape[1],
                                   spec.training.config.n_hidden)
    return spec.data.n * spec.rc.k * (spec.rc.n_iters + 1) * forward


def _work(task: Task, ctx: WorkContext, values: list) -> Callable[[], object]:
    """What computes ``task`` here from the ``values`` of its dependencies (a task without
    work of its own raises, as :meth:`rc.tasks.Task.compute` says)."""
    if task.work is None:
        return functools.partial(task.compute, ctx, *values)
    return functools.partial(task.work, ctx, *values)


def _train_work(spec: TrainSpec, ctx: WorkContext) -> TrainedDAE:
    """A training task's work: the DAE of ``spec`` on its images (as :func:`train`)."""
    images, _ = spec.data.load(cache=ctx.cache_data)
    [(dae, hist)] = train_population(images, **_population_of_one(spec, images),
                                     device=ctx.device, progress=ctx.progress,
                                     deadline=ctx.monotonic_deadline(),
                                     checkpoint=ctx.checkpoint)
    return TrainedDAE(dae, hist, ctx.provenance(seconds=hist.seconds))


def _evaluate_work(spec: EvalSpec, final: bool, ctx: WorkContext,
                   trained: TrainedDAE) -> Evaluation | FinalScores:
    """An RC task's work: :func:`scores_per_iteration` (or, ``final``, :func:`final_scores`)
    with the trained DAE of its dependency."""
    images, groups = spec.data.load(cache=ctx.cache_data)
    model = trained.dae.to(ctx.device).eval()
    result = (final_scores if final else scores_per_iteration)(spec, model, images, groups,
                                                    progress=ctx.progress)
    return dataclasses.replace(result, provenance=ctx.provenance(**result.provenance))


def search_group(specs: list[EvalSpec], train_indices: list[int], study: str, table: int,
                 val: DataSpec | None, ctx: WorkContext, *, grouping: str = "architecture",
                 skip: frozenset[int] = frozenset(),
                 on_run: Callable[[int, SearchRun], None] | None = None) -> list[SearchRun]:
    """Train the runs ``train_indices`` of a search (or loss study) side by side and score
    each with RC as it finishes: the :class:`SearchRun` of each (in the order they end),
    those in ``skip`` excepted (trained again only for their group's sake). ``on_run(i,
    run)`` is called with each at once (:class:`Results` stores it there)."""
    first = specs[train_indices[0]].training
    images, _ = first.data.load(cache=ctx.cache_data)
    test, groups = specs[train_indices[0]].data.load(cache=ctx.cache_data)
    val_images, val_groups = val.load(cache=ctx.cache_data) if val is not None else (None, None)
    done: list[SearchRun] = []

    def finished(j: int, dae: DAE, hist: TrainHistory) -> None:
        i = train_indices[j]
        if i in skip:
            return
        start = time.perf_counter()
        amis = final_amis(specs[i], dae, test, groups)
        val_score = (None if val is None else
                     mean_final_ami(dataclasses.replace(specs[i], data=val), dae, val_images,
                                    val_groups))
        cfg = specs[i].training
        run = SearchRun(
            run=i, kind=study, dataset=cfg.data.dataset, table=table,
            config=cfg.config.to_dict(), seed=cfg.seed, score=float(np.nanmean(amis)),
            best_val_loss=hist.best_val_loss, epochs=hist.epochs,
            best_epoch=hist.best_epoch, stopped=hist.stopped, train_seconds=hist.seconds,
            rc_seconds=time.perf_counter() - start, n_images=cfg.data.n, n_test=len(test),
            provenance=ctx.provenance(), val_score=val_score,
            n_val=0 if val is None else val.n, ami=amis.tolist())
        done.append(run)
        if on_run is not None:
            on_run(i, run)

    train_population(images, [specs[i].training.member() for i in train_indices],
                     batch_size=first.batch_size, patience=first.patience,
                     val_fraction=first.val_fraction, device=ctx.device,
                     progress=ctx.progress, on_member_done=finished,
                     grouping=grouping, deadline=ctx.monotonic_deadline(),
                     grey=dataset_info(first.data.dataset).grey)
    return done


# ------------------------------------------------------------------------------ a profile's results
class Results:
    """One profile's results: the paper's experiments under that profile, each computed
    once, cached, and loaded from then on.

    The specifications (what to compute) come from an :class:`rc.experiments.Experiments`
    that it holds (``specs``; its methods, ``table_spec``, ``eval_spec``, ... are
    answered here too); this class runs them through the cache, each as a
    :class:`~rc.tasks.Task` (:meth:`has`, :meth:`get`).

    Parameters
    ----------
    profile : str or Profile
        ``"ci"``, ``"default"``, ``"paper"`` or a custom :class:`~rc.config.Profile`.
    recompute : bool
        Recompute the results stored before these results were opened, instead of loading
        them (once each: what is recomputed is stored anew).
    recompute_before : float, optional
        A UNIX time: recompute the results stored before it (e.g. the start of a run of
        the whole book, so that each is recomputed once per run; see
        :class:`rc.cache.Cache`).
    may_compute : bool
        If False, nothing is computed: a missing result raises
        :class:`~rc.cache.MissingResultError` naming it.
    device : str or torch.device, optional
        Where to train and run RC (default: CUDA if available).
    progress : bool
        Progress bars, and a line for every result that is computed rather than loaded.
    root : path, optional
        Results folder (default :func:`results_dir`); entries go to ``root/<profile name>``.
    settings : dict, optional
        Changes to the profile's settings (:meth:`rc.config.Profile.replace`), e.g.
        ``{"n_iters": 20}``; the notebooks take them as a papermill parameter.
    grouping : str
        How search runs share batched products on a GPU (:func:`rc.train_population`):
        ``"architecture"`` (default), ``"activation"`` or ``"all"`` (padded widths; fewer,
        larger products). Whole groups of the plan are trained, so that a run never
        depends on which others are missing; its last bits may depend on the grouping.
        On a CPU, runs train one at a time and the grouping changes nothing.

    Attributes
    ----------
    deadline : float or None
        A ``time.monotonic()`` value after which no computation starts and trainings stop
        (:class:`~rc.training.DeadlineReached`); finished results are stored. Set by
        budgeted runs (:mod:`rc.protocol`).
    on_computed : callable or None
        Called with an entry's name whenever a result has been computed and stored.
    """

    def __init__(self, profile: str | Profile = "default", *, recompute: bool = False,
                 recompute_before: float | None = None, may_compute: bool = True,
                 device=None, progress: bool = True, root: Path | str | None = None,
                 settings: dict | None = None, grouping: str = "architecture"):
        self.specs = Experiments(profile, settings, best_run=self.search_best)
        self.profile = self.specs.profile
        self.device = resolve_device(device)
        self.progress = bool(progress)
        self.grouping = grouping
        self.deadline: float | None = None
        self.on_computed: Callable[[str], None] | None = None
        hint = {"paper": "compute the paper profile with `make paper` on a machine with a "
                         "GPU (see the README)",
                "full": "compute the full profile with `make full` (hours on a CPU; see "
                        "the README)"}.get(
            self.profile.name, f"run rc.Results({self.profile.name!r}) where it may compute")
        if self.profile.name in ("ci", "default") and self.profile == PROFILES[self.profile.name]:
            hint = (f"run `python scripts/paper.py --profile {self.profile.name}` (or "
                    f"rc.Results({self.profile.name!r}) where it may compute)")
        self.cache = Cache(Path(root or results_dir()) / self.profile.name,
                           recompute=recompute, recompute_before=recompute_before,
                           may_compute=may_compute, hint=hint)

    def __repr__(self) -> str:
        return f"Results(profile={self.profile.name!r}, device={str(self.device)!r})"

    def __getattr__(self, name: str):
        """The specification methods of :attr:`specs` (``table_spec``, ...), answered here."""
        if name in _SPEC_METHODS and "specs" in self.__dict__:
            return getattr(self.specs, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -------------------------------------------------------------- tasks
    def has(self, task: Task) -> bool:
        """Whether the value of ``task`` is stored (and usable), without computing it."""
        return self.cache.has(task.name, task.inputs, task.value_type)

    def get(self, task: Task):
        """The value of ``task``: loaded, or computed and stored.

        Its missing dependencies are computed first, one after another in dependency
        order (:meth:`_plan`), each at the same shallow depth of the call stack: the
        training under an evaluation runs as near to the caller as the evaluation does.
        """
        if task.work is None:
            raise ValueError(f"task {task.name!r} is computed by the element that declares "
                             f"it, not by Results.get")
        value = self.cache.lookup(task.name, task.inputs, task.value_type)
        if value is not None:
            return value
        if not self.cache.may_compute:  # raises MissingResultError naming ``task`` itself
            return self.cache.get_or_compute(task.name, task.inputs, task.compute, task.value_type,
                                             task.label)
        values, order = self._plan(task)
        for t in order:
            before = len(self.cache.computed)
            values[t] = self.cache.get_or_compute(
                t.name, t.inputs, _work(t, self.context(t), [values[d] for d in t.deps]),
                t.value_type, t.label, before=functools.partial(self._computing, t.label))
            if len(self.cache.computed) > before and self.on_computed is not None:
                self.on_computed(t.name)
        return values[task]

    def _plan(self, task: Task) -> tuple[dict[Task, object], list[Task]]:
        """The values of ``task``'s dependencies that are stored (each read once, here) and
        the tasks left to compute in order: ``task`` after the missing dependencies it
        needs, each after its own (depth first). What a stored dependency depends on is
        not visited."""
        stored: dict[Task, object] = {}
        order: list[Task] = []
        seen: set[Task] = set()
        stack: list[tuple[Task, bool]] = [(task, False)]
        while stack:
            t, visited = stack.pop()
            if visited:
                order.append(t)
            elif t not in seen:
                seen.add(t)
                value = None if t is task else self.cache.lookup(t.name, t.inputs,
                                                                 t.value_type)
                if value is not None:
                    stored[t] = value
                    continue
                stack.append((t, True))
                stack.extend((d, False) for d in reversed(t.deps))
        return stored, order

    def context(self, task: Task | None = None) -> WorkContext:
        """What a task's work needs here: this device, the profile's provenance fields,
        its deadline (as a wall-clock time) and, for a training, its checkpoint file."""
        deadline = (None if self.deadline is None
                    else time.time() + (self.deadline - time.monotonic()))
        checkpoint = None
        if task is not None and task.value_type is TrainedDAE and task.name.startswith("dae/"):
            entry = self.cache.path(task.name, task.inputs, task.value_type)
            checkpoint = entry.with_name(f".{entry.name}.checkpoint")
        return WorkContext(str(self.device), self.profile.name, self.profile.seed,
                           self.profile.cache_data, self.progress, deadline, checkpoint,
                           threads=torch.get_num_threads())

    def training_task(self, spec: TrainSpec, study: str = "search") -> Task:
        """The training of ``spec`` as a task; its cost with the epochs that early stopping
        gave in the measurement of its data set's searches (``study="loss"``: of the
        loss-vs-score study)."""
        table = 1 if spec.data.split == TABLES[1].split else 2
        epochs = estimated_epochs(spec.data.dataset, table, study)
        return Task(self._entry(spec)[0], spec.inputs(), TrainedDAE, train_flop(spec, epochs),
                    work=functools.partial(_train_work, spec),
                    describe=f"the DAE {spec.name}")

    def evaluation_task(self, spec: EvalSpec, final: bool = False) -> Task:
        """RC as ``spec`` says as a task (``final``: its final scores only), after the
        training of its DAE."""
        name, value_type = self._entry(spec, final)
        what = "the final RC scores" if final else "the RC evaluation"
        return Task(name, spec.inputs(), value_type, rc_flop(spec),
                    (self.training_task(spec.training),),
                    functools.partial(_evaluate_work, spec, final),
                    describe=f"{what} {spec.name}")

    def run_tasks(self, dataset: str, table: int = 1, study: str = "search") -> list[Task]:
        """The runs of a search or loss-vs-score study as tasks (computed in groups by
        :meth:`runs`, or by :func:`search_group` on a cluster)."""
        specs = self.run_specs(dataset, table, study)
        names = self.run_names(dataset, table, study)
        return [Task(n, self.run_cache_inputs(s, study), SearchRun,
                     train_flop(s.training, estimated_epochs(dataset, table, study))
                     + rc_flop(s), describe=f"{study} run {n}")
                for n, s in zip(names, specs)]

    def run_groups(self, dataset: str, table: int = 1, study: str = "search"
                   ) -> list[list[int]]:
        """The runs of a search trained side by side on this device (indices, as
        :func:`rc.train_population` groups them: one at a time on a CPU)."""
        members = [s.training.member() for s in self.run_specs(dataset, table, study)]
        return population_groups(members, members_at_once(self.device), self.grouping)

    def search_complete(self, dataset: str, table: int = 1) -> bool:
        """Whether every run of the profile's search for a table is stored."""
        return all(self.has(t) for t in self.run_tasks(dataset, table, "search"))

    # -------------------------------------------------------------- generic
    def provenance(self, **extra) -> dict:
        """Provenance of a result computed here: profile, seed, device, versions, commit."""
        return provenance(str(self.device), profile=self.profile.name, seed=self.profile.seed,
                          **extra)

    def cached(self, name: str, inputs: dict, compute: Callable[[], T],
               value_type: type[T] = dict,
               describe: str | None = None) -> T:
        """``compute()`` once for ``inputs``, stored under ``name`` in this profile's cache.

        ``inputs`` must hold everything that determines the result (specifications'
        ``inputs()``, parameters, a version of the computation).
        """
        before = len(self.cache.computed)
        value = self.cache.get_or_compute(name, inputs, compute, value_type, describe,
                                          before=functools.partial(self._computing,
                                                                   describe or name))
        if len(self.cache.computed) > before and self.on_computed is not None:
            self.on_computed(name)
        return value

    def _computing(self, what: str) -> None:
        """Before computing ``what``: the deadline checked, and a line if ``progress``."""
        self._check_deadline(what)
        if self.progress:
            tqdm.write(f"computing {what} (not in {self.cache.root})")

    def store(self, task: Task, value) -> None:
        """Store ``value`` as the entry of ``task``, computed elsewhere (on a Dask worker,
        :mod:`rc.cluster`): counted as computed, and ``on_computed`` told."""
        if not isinstance(value, task.value_type):
            raise TypeError(f"the value of task {task.name!r} must be a "
                            f"{task.value_type.__name__}; got {type(value).__name__}")
        self._store(task.name, task.inputs, value, task.value_type)

    def _store(self, name: str, inputs: dict, value, value_type: type = dict) -> None:
        """Store a result computed outside :meth:`cached` (a member of a population
        training), count it as computed and tell ``on_computed``."""
        self.cache.store(name, inputs, value, value_type)
        self.cache.computed.append(name)
        if self.on_computed is not None:
            self.on_computed(name)

    def _check_deadline(self, what: str) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise DeadlineReached(f"the deadline passed before computing {what}")

    # -------------------------------------------------------------- data
    def load(self, spec: DataSpec) -> tuple[np.ndarray, np.ndarray]:
        """The images and groups of ``spec`` (cached on disk if the profile says so)."""
        return spec.load(cache=self.profile.cache_data)

    def test_data(self, dataset: str) -> tuple[np.ndarray, np.ndarray]:
        """The scored test images and their groups."""
        return self.load(self.test_spec(dataset))

    # -------------------------------------------------------------- stored entries
    @staticmethod
    def _entry(spec: TrainSpec | EvalSpec, final: bool = False) -> tuple[str, type]:
        """The cache entry's name and value type of a training, an RC evaluation or (``final``)
        its final scores."""
        if isinstance(spec, TrainSpec):
            return f"dae/{spec.name}", TrainedDAE
        return (f"scores/{spec.name}", FinalScores) if final else (f"rc/{spec.name}",
                                                                    Evaluation)

    def is_stored(self, spec: TrainSpec | EvalSpec, final: bool = False) -> bool:
        """Whether the DAE of a :class:`TrainSpec` or the evaluation of an
        :class:`EvalSpec` (``final``: its final scores) is stored (and usable), without
        computing it: :meth:`has` of its task."""
        return self.has(self.training_task(spec) if isinstance(spec, TrainSpec)
                        else self.evaluation_task(spec, final))

    # -------------------------------------------------------------- training
    def trained(self, spec: TrainSpec) -> TrainedDAE:
        """The DAE trained as ``spec`` says (trained once, then loaded), on this device.

        A training killed before it ends resumes from its checkpoint (a hidden file
        beside the entry, written every :data:`rc.training.CHECKPOINT_SECONDS`)."""
        trained = self.get(self.training_task(spec))
        trained.dae.to(self.device).eval()
        return trained

    def trained_many(self, specs: list[TrainSpec]) -> list[TrainedDAE]:
        """The DAEs of ``specs``; those not cached are trained side by side as one
        population per training set (:func:`rc.train_population`) and stored."""
        by_data: dict[tuple, list[TrainSpec]] = {}
        for s in dict.fromkeys(specs):
            key = (s.data, s.batch_size, s.patience, s.val_fraction)
            by_data.setdefault(key, []).append(s)
        for (data, batch_size, patience, val_fraction), planned in by_data.items():
            missing = [i for i, s in enumerate(planned) if not self.is_stored(s)]
            if not missing:
                continue
            # whole groups of the plan, so that a value never depends on what is missing
            group = [planned[i] for i in groups_to_train(
                [s.member() for s in planned], missing, self.device, self.grouping)]
            names = ", ".join(s.name for s in group)
            self._check_deadline(f"the DAEs {names}")
            if not self.cache.may_compute:
                raise MissingResultError(f"the DAEs {names} are not in {self.cache.root}; "
                                         f"they have to be computed first: {self.cache.hint}")
            if self.progress:
                tqdm.write(f"computing the DAEs {names} (not in {self.cache.root})")
            with timed(_side_by_side([self._entry(s)[0] for s in group]), "TrainedDAE",
                       root=self.cache.root):
                images, _ = self.load(data)
                trained = train_population(images, [s.member() for s in group],
                                           batch_size=batch_size, patience=patience,
                                           val_fraction=val_fraction, device=self.device,
                                           progress=self.progress, deadline=self.deadline,
                                           grouping=self.grouping,
                                           grey=dataset_info(data.dataset).grey)
                for s, (dae, hist) in zip(group, trained):
                    if self.is_stored(s):  # trained again only for its group's sake
                        continue
                    result = TrainedDAE(dae, hist, self.provenance(seconds=hist.seconds))
                    self._store(self._entry(s)[0], s.inputs(), result, TrainedDAE)
        return [self.trained(s) for s in specs]

    def table_dae(self, dataset: str, table: int = 1) -> TrainedDAE:
        """The trained DAE of Table 1 (single-object) or Table 2 (multi-object)."""
        return self.trained(self.table_spec(dataset, table))

    # -------------------------------------------------------------- RC evaluation
    def scores_per_iteration(self, spec: EvalSpec) -> Evaluation:
        """The :class:`Evaluation` of ``spec``: RC scored per image after every iteration
        (computed once, then loaded)."""
        return self.get(self.evaluation_task(spec))

    def final_scores(self, spec: EvalSpec) -> FinalScores:
        """The scores of the evaluation ``spec`` after its last iteration (computed once,
        then loaded; a separate entry, for repeats whose trajectories nothing shows)."""
        return self.get(self.evaluation_task(spec, final=True))

    def evaluation(self, dataset: str, table: int = 1, k: int | None = None,
                   e_step: str | None = None, average_method: str = "max",
                   restart: int = 0) -> Evaluation:
        """The :class:`Evaluation` of a table's DAE on a data set: shorthand for
        ``scores_per_iteration(eval_spec(...))``."""
        return self.get(self.evaluation_task(self.eval_spec(dataset, table, k, e_step,
                                                            average_method, restart)))

    def restarts(self, dataset: str, table: int = 1, k: int | None = None,
                 e_step: str | None = None) -> list[Evaluation | FinalScores]:
        """RC of a table's DAE from each of the profile's ``rc_restarts`` random starts:
        the first start's :class:`Evaluation`, then the others' :class:`FinalScores`."""
        specs = [self.eval_spec(dataset, table, k, e_step, restart=r)
                 for r in range(self.profile.rc_restarts)]
        return [self.scores_per_iteration(specs[0])] + [self.final_scores(s) for s in specs[1:]]

    def restart_tasks(self, dataset: str, table: int = 1, k: int | None = None,
                      e_step: str | None = None) -> list[Task]:
        """What :meth:`restarts` stores, as tasks."""
        specs = [self.eval_spec(dataset, table, k, e_step, restart=r)
                 for r in range(self.profile.rc_restarts)]
        return ([self.evaluation_task(specs[0])]
                + [self.evaluation_task(s, final=True) for s in specs[1:]])

    # -------------------------------------------------------------- random searches
    def runs(self, dataset: str, table: int = 1, study: str = "search") -> list[SearchRun]:
        """All runs of a search or loss study; missing ones are trained as one population.

        Runs not stored yet are trained side by side (:func:`rc.train_population`); each
        is scored with RC and stored as soon as it finishes, so an interrupted search
        resumes without losing or redoing finished runs. If these results may not compute,
        the stored runs are returned: a partial search, perhaps none, which the figures
        label with the number of runs they show.
        """
        specs = self.run_specs(dataset, table, study)
        names = self.run_names(dataset, table, study)
        found: list[SearchRun | None] = [
            self.cache.load(n, self.run_cache_inputs(s, study), SearchRun)
            for n, s in zip(names, specs)]
        todo = [i for i, run in enumerate(found) if run is None]
        if todo and not self.cache.may_compute:
            return [run for run in found if run is not None]
        if todo:
            self._train_runs(specs, names, todo, found, table, study)
        return list(found)

    def _train_runs(self, specs, names, todo, found, table, study) -> None:
        """Train the runs ``todo`` (with the rest of their groups) and store each in
        ``found`` and in the cache as it finishes."""
        self._check_deadline(f"the {study} for Table {table} on {specs[0].data.dataset}")
        if self.progress:
            tqdm.write(f"computing {len(todo)} {study} runs for Table {table} on "
                       f"{specs[0].data.dataset}")
        label = _side_by_side([names[i] for i in todo])
        # whole groups of the plan, so that a run never depends on which others are missing
        todo = groups_to_train([s.training.member() for s in specs], todo, self.device,
                               self.grouping)
        val = self.val_spec(specs[0].data.dataset) if study == "search" else None

        def store(i: int, run: SearchRun) -> None:
            found[i] = run
            self._store(names[i], self.run_cache_inputs(specs[i], study), run, SearchRun)

        with timed(label, "SearchRun", root=self.cache.root):
            search_group(specs, todo, study, table, val, self.context(),
                         grouping=self.grouping,
                         skip=frozenset(i for i in todo if found[i] is not None),
                         on_run=store)

    def search_best(self, dataset: str, table: int = 1) -> SearchRun:
        """The best run (by test score, the paper's rule) of the profile's search for a
        table; the one place where a table's configuration starts a search."""
        runs = self.runs(dataset, table, "search")
        if not runs:
            raise MissingResultError(f"the {self.profile.name} profile has no runs of the "
                                     f"search for Table {table} on {dataset}")
        return max(runs, key=lambda r: r.score)

    def search(self, dataset: str, table: int = 1) -> list[SearchRun]:
        """The random search of Appendix B for Table 1 (single-object training, soft RC)
        or Table 2 (multi-object training, hard RC); one record per run, resumable."""
        return self.runs(dataset, table, "search")

    def loss_study(self, dataset: str) -> list[SearchRun]:
        """Figure 6a's DAEs: 250 ReLU units, p = 0.3, random learning rates and seeds."""
        return self.runs(dataset, 1, "loss")


#: The specification methods of :class:`rc.experiments.Experiments` that :class:`Results` answers.
_SPEC_METHODS = frozenset({
    "test_spec", "val_spec", "train_data_spec", "train_spec", "epochs_within",
    "table_config", "table_spec", "table_budget", "eval_spec", "run_specs",
    "run_cache_inputs", "run_names", "run_inputs"})


def _side_by_side(names: list[str]) -> str:
    """How the time record names results computed together (one population training)."""
    return names[0] + (f" (+{len(names) - 1} trained side by side)" if len(names) > 1 else "")
