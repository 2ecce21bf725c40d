"""How robust are the paper's numbers?

The paper reports single numbers: each score of Tables 1 and 2 is the best of 100 search
runs, picked by its score on the test images themselves, with one RC run per image. This
module measures, for the same DAEs and images:

* **metrics** — the mean AMI with the paper's normaliser (the maximum entropy), with the
  arithmetic mean (scikit-learn's default today) and the adjusted Rand index, all on the
  object pixels (the "FG-ARI" of later object-discovery work);
* **spread over trainings** — the table's configuration trained with other seeds
  (the profile's ``spread_seeds``, for the tables in ``spread_tables``);
* **spread over RC restarts** — other random starts of RC with the same DAE (from
  :mod:`rc.paper.fig4a`, which averages its figure over them);
* **intervals** — a 95% bootstrap interval of the mean AMI over the test images;
* **selection** — for every random search, the paper's rule (the run with the best test
  score) against an unbiased one (the run with the best score on separate validation
  images, ``rc.load_dataset(..., "validation")``), both scored on the test images.

:func:`annotate` adds the spreads to the Table 1 and Table 2 claims of the scorecard; the
rule of those claims stays the one of :mod:`rc.claims`.

The book leads with the committed full-scale results (:func:`at_full_scale`: 3-5
trainings per entry, 5 RC starts, read from ``results/full`` without computing) and puts
the page's own profile beside them (:func:`table` and :func:`draw_spread` with
``beside``; :func:`chapter_glue_values`). :func:`machine_check` trains two small stored
full-scale DAEs again on the machine that builds the book and compares them
(:func:`rc.paper.full_scale.retrain`), :func:`machine_table` shows the comparison.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..cache import MissingResultError
from ..claims import SCORE_TOLERANCE, Claim
from ..config import get_profile
from ..datasets import dataset_info, label
from ..paper import table1, table2
from ..report import Markdown, markdown_table
from ..specs import EvalSpec
from ..tasks import Task

#: Coverage of the bootstrap intervals.
LEVEL = 0.95


def bootstrap_interval(values, n_boot: int, seed: int, level: float = LEVEL
                       ) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampled with
    replacement ``n_boot`` times from a generator seeded with ``seed``).

    Parameters
    ----------
    values : array_like, shape (N,)
        Per-image scores.
    n_boot : int
        Resamples.
    seed : int
        Seed of the resampling.
    level : float
        Coverage, e.g. 0.95.

    Returns
    -------
    (low, high) : tuple of float
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array; got shape {values.shape}")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, (int(n_boot), values.size))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def n_seeds(profile, dataset: str, table: int) -> int:
    """Trainings of a table entry for its spread: ``spread_seeds``, or
    ``costly_spread_seeds`` for the profile's costly entries."""
    if f"table{table}:{dataset}" in profile.costly_spread:
        return min(profile.spread_seeds, profile.costly_spread_seeds)
    return profile.spread_seeds


def seed_specs(results, dataset: str, table: int) -> list:
    """The table's training with its own seed first, then :func:`n_seeds` - 1 others
    (drawn from that seed, so the list is the same on every machine and a shorter list is
    the start of a longer one)."""
    base = results.table_spec(dataset, table)
    rng = np.random.default_rng([base.seed, table, 17])
    others = [int(s) for s in rng.integers(0, 2**31, n_seeds(results.profile, dataset, table) - 1)]
    return [base] + [dataclasses.replace(base, seed=s) for s in others]


@dataclass(frozen=True)
class Spread:
    """One table entry (a data set's DAE of Table 1 or 2) and how much it varies."""

    dataset: str
    table: int
    paper: float                 # the paper's score
    ami: float                   # ours, paper-faithful (max normaliser, one RC run)
    ami_arithmetic: float
    ari: float
    interval: tuple[float, float]  # bootstrap over test images, of ``ami``
    seed_scores: list[float]     # one per training, the table DAE's first
    restart_scores: list[float]  # one per RC start, the table evaluation's first
    planned_seeds: int = 1       # trainings the profile asks for (more than stored when
    planned_restarts: int = 1    # rendering stored results that are not complete yet)

    @property
    def complete(self) -> bool:
        return (len(self.seed_scores) >= self.planned_seeds
                and len(self.restart_scores) >= self.planned_restarts)

    @property
    def seed_std(self) -> float:
        return float(np.std(self.seed_scores)) if len(self.seed_scores) > 1 else float("nan")

    @property
    def restart_std(self) -> float:
        return (float(np.std(self.restart_scores)) if len(self.restart_scores) > 1
                else float("nan"))

    def text(self) -> str:
        """``"95% interval [0.921, 0.936]; 0.925 ± 0.004 over 3 trainings"``."""
        lo, hi = self.interval
        out = f"{LEVEL:.0%} interval [{lo:.3f}, {hi:.3f}]"
        if len(self.seed_scores) > 1:
            out += (f"; {np.mean(self.seed_scores):.3f} ± {self.seed_std:.3f} over "
                    f"{len(self.seed_scores)} trainings")
        if len(self.seed_scores) < self.planned_seeds:
            out += f" ({len(self.seed_scores)} of {self.planned_seeds} stored so far)"
        return out


@dataclass(frozen=True)
class Selection:
    """A random search scored on test and on validation images."""

    dataset: str
    table: int
    test_scores: np.ndarray      # per run
    val_scores: np.ndarray       # per run (NaN where not scored)
    val_losses: np.ndarray | None = None  # per run: best denoising loss on validation images

    @property
    def by_test(self) -> float:
        """The paper's rule: the best test score."""
        return float(np.nanmax(self.test_scores))

    @property
    def by_validation(self) -> float:
        """The test score of the run with the best validation score."""
        return float(self.test_scores[int(np.nanargmax(self.val_scores))])

    @property
    def by_val_loss(self) -> float:
        """The test score of the run with the lowest denoising loss on its validation
        images: a choice that needs no labels at all (NaN where not recorded)."""
        if self.val_losses is None or not np.isfinite(self.val_losses).any():
            return float("nan")
        return float(self.test_scores[int(np.nanargmin(self.val_losses))])

    @property
    def optimism(self) -> float:
        return self.by_test - self.by_validation


@dataclass(frozen=True)
class Winner:
    """The best run of a complete Table 1 search (by test score, the paper's rule) trained
    again from its recorded configuration and seed, its weights stored: what the search
    recorded against what the retraining gives (the weights a search keeps, issue 26)."""

    dataset: str
    run: int
    config: dict
    epochs: tuple[int, int]             # (search, again)
    best_val_loss: tuple[float, float]
    score: tuple[float, float]          # mean final AMI on the scored test images

    @property
    def verdict(self) -> str:
        """``"identical"`` (the same epochs, loss and score, bit for bit), ``"within
        tolerance"`` (:data:`rc.paper.full_scale.TOLERANCE`: the rounding of other CPU
        kernels) or ``"diverged"``."""
        from ..paper.full_scale import within_tolerance

        (e0, e1), (l0, l1), (s0, s1) = self.epochs, self.best_val_loss, self.score
        if e0 == e1 and l0 == l1 and s0 == s1:
            return "identical"
        close = e0 == e1 and within_tolerance(self.best_val_loss, self.score)
        return "within tolerance" if close else "diverged"


@dataclass(frozen=True)
class Robustness:
    """Spreads per table and data set, and the selections of every search."""

    profile: str
    spreads: dict[int, dict[str, Spread]]
    selections: dict[int, dict[str, Selection]]
    n_boot: int
    winners: dict[str, Winner] = dataclasses.field(default_factory=dict)

    def incomplete(self) -> list[str]:
        """The table entries whose seeds or RC starts are not all stored (only when
        rendering stored results: results that may compute compute them)."""
        return [f"Table {t} {label(d)}" for t, spreads in self.spreads.items()
                for d, s in spreads.items() if not s.complete]

    def mean_optimism(self, table: int) -> float:
        """Mean optimism of a table's searches (NaN without searches)."""
        values = [s.optimism for s in self.selections.get(table, {}).values()]
        return float(np.mean(values)) if values else float("nan")


def _seeds_text(profile) -> str:
    """How many trainings per configuration, e.g. "5 (3 for Table 1 Multi-MNIST)"."""
    text = str(profile.spread_seeds)
    costly = [c.split(":") for c in profile.costly_spread]
    if costly and profile.costly_spread_seeds < profile.spread_seeds:
        names = ", ".join(f"Table {t.removeprefix('table')} {label(d)}" for t, d in costly)
        text += f" ({profile.costly_spread_seeds} for {names})"
    return text


def glue_values(result: Robustness, profile) -> dict:
    """The numbers the book's robustness chapter quotes (NaN where the profile has
    nothing to measure, e.g. no searches)."""
    t1 = result.spreads[1]
    seed_stds = [s.seed_std for s in t1.values() if len(s.seed_scores) > 1]
    optimism = [s.optimism for sel in result.selections.values() for s in sel.values()]
    return {
        "profile_name": profile.name, "scale_tables": profile.caption("tables"),
        "scale_search": profile.caption("search"), "spread_seeds": _seeds_text(profile),
        "validation_text": (f"every search run is also scored on "
                            f"{1000 if profile.n_val is None else profile.n_val} validation "
                            "images" if profile.search_runs or profile.full_searches else
                            "the profile runs no random searches, so there is no selection "
                            "to examine"),
        "spread_tables": " and ".join(f"Table {t}" for t in profile.spread_tables),
        "rc_restarts": profile.rc_restarts, "n_boot": result.n_boot, "level": LEVEL,
        "n_val": 1000 if profile.n_val is None else profile.n_val,
        "max_seed_std": max(seed_stds, default=float("nan")),
        "max_restart_std": max(s.restart_std for s in t1.values()),
        "max_width": max(s.interval[1] - s.interval[0] for s in t1.values()),
        "mean_gap_arith": float(np.mean([s.ami_arithmetic - s.ami for s in t1.values()])),
        "mean_gap_ari": float(np.mean([s.ari - s.ami for s in t1.values()])),
        "optimism_1": result.mean_optimism(1), "optimism_2": result.mean_optimism(2),
        "max_optimism": max(optimism, default=float("nan")),
        "n_simple": dataset_info("simple_superposition").n_scored,
        "tolerance": SCORE_TOLERANCE,
        "stored_note": _stored_note(result),
    }


def _stored_note(result: Robustness) -> str:
    """A sentence naming the entries whose spreads are not all stored yet (or none)."""
    missing = result.incomplete()
    if not missing:
        return ""
    return (f"Not all of this profile's trainings and RC starts are stored yet: the "
            f"spreads of {', '.join(missing)} use those that are (each says how many); "
            f"`make full` computes the rest.")


#: The numbers of :func:`glue_values` that describe the spreads (trainings, RC starts,
#: intervals, metrics); the others describe the selection on validation images.
SPREAD_KEYS = ("spread_seeds", "spread_tables", "rc_restarts", "n_boot", "level",
               "max_seed_std", "max_restart_std", "max_width", "mean_gap_arith",
               "mean_gap_ari")


def at_full_scale(own: Robustness) -> Robustness | None:
    """The spreads of the committed full-scale results (profile ``full``, read from
    ``results/full`` without computing: :func:`rc.paper.full_scale.stored_results`), with the
    trainings and RC starts that are stored; ``own`` itself where it is the ``full``
    profile's; None where the full-scale table evaluations are not stored."""
    from ..paper import full_scale

    if own.profile == full_scale.PROFILE:
        return own
    try:
        return compute(full_scale.stored_results(), partial=True)
    except MissingResultError:
        return None


def chapter_glue_values(own: Robustness, profile, full: Robustness | None) -> dict:
    """The numbers of the book's robustness chapter: those of the spreads (:data:`
    SPREAD_KEYS`, the metrics and the machine section) from ``full`` where it is stored,
    else from ``own``; those of the selection from ``own`` (``profile``'s searches: the
    ``full`` profile has none). Adds ``spread_profile`` and ``spread_scale`` (whose spreads
    the page shows), ``spread_origin`` (where the full-scale results came from, or a
    note that they are missing) and ``beside_note`` (what the page's own profile adds)."""
    from ..paper import full_scale

    shown = full or own
    shown_profile = profile if shown is own else get_profile(shown.profile)
    spread = glue_values(shown, shown_profile)
    out = {**glue_values(own, profile), **{k: spread[k] for k in SPREAD_KEYS}}
    out.update(spread_profile=shown.profile, spread_scale=shown_profile.caption("tables"),
               spread_origin=Markdown(full_scale.caption() if full is not None
                                      else full_scale.missing_note()))
    out["beside_note"] = Markdown(
        "" if shown is own else
        f"Beside them, in the column *ours ({own.profile})* and as squares in the figure, "
        f"are this build's own table DAEs (profile `{own.profile}`: "
        f"{_seeds_text(profile)} training{'s' if profile.spread_seeds > 1 else ''} per "
        f"configuration, RC started {profile.rc_restarts} "
        f"time{'s' if profile.rc_restarts > 1 else ''}).")
    corners = shown.spreads.get(2, {}).get("corners")  # the entry the prose compares
    scores = corners.seed_scores if corners is not None else [float("nan")]
    out.update(corners2_n=len(scores) if corners is not None else 0,
               corners2_lo=min(scores), corners2_hi=max(scores),
               corners2_std=corners.seed_std if corners is not None else float("nan"))
    return out


def _spread(results, dataset: str, table: int, paper: float, partial: bool) -> Spread:
    """The spread of a table entry; ``partial``: with the seeds and RC starts that are
    stored (the Spread says how many were planned)."""
    ev = results.evaluation(dataset, table)
    p = results.profile
    starts = [results.eval_spec(dataset, table, restart=r) for r in range(1, p.rc_restarts)]
    restarts = [ev.score] + [results.final_scores(e).score for e in starts
                             if not partial or results.is_stored(e, final=True)]
    seeds, planned = [ev.score], 1
    if table in p.spread_tables and n_seeds(p, dataset, table) > 1:
        specs = seed_specs(results, dataset, table)
        rc_spec, test = results.eval_spec(dataset, table).rc, results.test_spec(dataset)
        evals = [EvalSpec(s, test, rc_spec) for s in specs[1:]]
        if not partial and not all(results.is_stored(e, final=True) for e in evals):
            _train_seeds(results, specs[1:], evals, f"table{table}:{dataset}" in p.costly_spread)
        seeds += [results.final_scores(e).score for e in evals
                  if not partial or results.is_stored(e, final=True)]
        planned = len(specs)
    return Spread(dataset, table, paper, ev.score, ev.mean_ami_arithmetic, ev.mean_ari,
                  bootstrap_interval(ev.ami[:, -1], p.n_boot, p.seed), seeds, restarts,
                  planned, p.rc_restarts)


def _train_seeds(results, specs: list, evals: list, costly: bool) -> None:
    """The missing trainings of a spread: side by side, or for a costly entry one at a
    time, each evaluated (``evals``) as soon as it is trained, so that each training and
    its score are stored on their own (and a training resumes from its checkpoint): a
    process stopped after hours keeps what it finished."""
    if costly:
        for spec, evaluation in zip(specs, evals):
            results.trained(spec)
            results.final_scores(evaluation)
    else:
        results.trained_many(specs)


def _extra_training_cost(results, dataset: str, table: int) -> float:
    """What the spread's extra trainings of a table entry will cost, relative to the
    others: the first seed's weights times its training images and epochs, times the
    extra seeds."""
    model = results.table_dae(dataset, table)
    weights = sum(p.numel() for p in model.dae.parameters())
    images = results.table_spec(dataset, table).data.n
    return (weights * images * model.history.epochs
            * (n_seeds(results.profile, dataset, table) - 1))


def compute(results, partial: bool = False) -> Robustness:
    """Spreads of both tables and the selections of both searches, for every data set.

    ``partial`` (for rendering stored results that are not complete yet, ``results`` may
    not compute): each spread from the trainings and RC starts that are stored, and
    :meth:`Robustness.incomplete` names the entries that lack some; otherwise anything
    missing is computed, or :class:`~rc.cache.MissingResultError` raised.

    The spreads are computed cheapest first (:func:`_extra_training_cost`), so that an
    interrupted run has stored as many entries' seeds as its time allowed; the result
    does not depend on the order."""
    papers = {1: table1.PAPER, 2: table2.PAPER}
    entries = [(d, t) for t in papers for d in results.profile.datasets if d in papers[t]]
    entries.sort(key=lambda e: _extra_training_cost(results, *e))
    computed = {(d, t): _spread(results, d, t, papers[t][d].score, partial) for d, t in entries}
    spreads, selections = {}, {}
    for table, paper in papers.items():
        datasets = [d for d in results.profile.datasets if d in paper]
        spreads[table] = {d: computed[d, table] for d in datasets}
        selections[table] = {}
        for d in datasets:
            runs = results.search(d, table)
            val = np.array([np.nan if r.val_score is None else r.val_score for r in runs])
            if np.isfinite(val).any():
                selections[table][d] = Selection(
                    d, table, np.array([r.score for r in runs]), val,
                    np.array([r.best_val_loss for r in runs], float))
    # a winner not stored yet leaves it out where ``results`` may not compute (it is the
    # robustness step's to compute), so that the spreads above still annotate the claims
    reading = partial or not results.cache.may_compute
    winners = {d: w for d in results.profile.datasets if (w := _winner(results, d, reading))}
    return Robustness(results.profile.name, spreads, selections, results.profile.n_boot, winners)


def winner_task(results, dataset: str) -> Task | None:
    """The final scores of the best run (by test score) of the profile's Table 1 search on
    ``dataset``, its DAE trained again from the run's configuration and seed as their
    dependency: the one search run whose weights are kept. None while the search is not
    complete (its winner is not known yet) or where the profile has none."""
    found = _search_winner(results, dataset)
    return None if found is None else found[1]


def _search_winner(results, dataset: str):
    """(the winner's stored run record, :func:`winner_task`), or None."""
    runs = results.run_tasks(dataset, 1, "search")
    if not runs or not all(results.has(t) for t in runs):
        return None
    records = [results.cache.load(t.name, t.inputs, t.value_type) for t in runs]
    best = max(range(len(runs)), key=lambda i: records[i].score)  # the first of equals
    spec = results.run_specs(dataset, 1, "search")[best]
    return records[best], results.evaluation_task(spec, final=True)


def winner_dae(results, dataset: str):
    """The DAE of the winner of ``dataset``'s Table 1 search (:func:`winner_task`), loaded,
    or trained again and stored where ``results`` may compute; ready for
    :func:`rc.reconstruction_clustering` on any images of the data set's size."""
    task = winner_task(results, dataset)
    if task is None:
        raise MissingResultError(f"the {results.profile.name} profile's Table 1 search on "
                                 f"{dataset} is not complete (or it has none): no winner yet")
    return results.get(task.deps[0]).dae


def _winner(results, dataset: str, partial: bool) -> Winner | None:
    """The retrained winner of ``dataset``'s search (computed where missing, unless
    ``partial``: then None where it is not stored)."""
    found = _search_winner(results, dataset)
    if found is None:
        return None
    run, task = found
    if partial and not all(results.has(t) for t in (task, *task.deps)):
        return None
    again, trained = results.get(task), results.get(task.deps[0])
    return Winner(dataset, run.run, dict(run.config), (run.epochs, trained.history.epochs),
                  (run.best_val_loss, trained.history.best_val_loss),
                  (run.score, again.score))


def winners_table(result: Robustness) -> Markdown:
    """Each search's winner trained again: its configuration, and epochs, best validation
    loss and test score as the search recorded them and as the retraining gives them."""
    rows = [[label(d), w.run, f"{w.config['n_hidden']} {w.config['activation']}, "
             f"p = {w.config['noise']:g}, lr = {w.config['learning_rate']:.3g}",
             f"{w.epochs[0]} / {w.epochs[1]}",
             f"{w.best_val_loss[0]:.4f} / {w.best_val_loss[1]:.4f}",
             f"{w.score[0]:.4f} / {w.score[1]:.4f}", w.verdict]
            for d, w in result.winners.items()]
    if not rows:
        return Markdown(f"*Profile {result.profile}: no complete search has its winner "
                        "stored yet.*")
    return markdown_table(["search (Table 1)", "run", "configuration",
                           "epochs (search / again)", "best validation loss (search / again)",
                           "score (search / again)", "verdict"], rows)


def annotate(claims: list[Claim], result: Robustness) -> list[Claim]:
    """The claims with the spread of our value added to those of Tables 1 and 2."""
    out = []
    for c in claims:
        table, _, dataset = c.id.partition(".")
        spread = {"table1": result.spreads.get(1, {}), "table2": result.spreads.get(2, {})
                  }.get(table, {}).get(dataset)
        out.append(dataclasses.replace(c, spread=spread.text()) if spread else c)
    return out


def table(result: Robustness, table_no: int, beside: Robustness | None = None
          ) -> Markdown:
    """One table's scores with all three metrics, their interval and spreads; ``beside``
    (another profile's result, e.g. the page's own next to the full-scale one) adds its
    AMI as a last column, with its spread over trainings where it has one."""
    beside = None if beside is None or beside.profile == result.profile else beside
    rows = []
    for d, s in result.spreads[table_no].items():
        seeds = (f"{np.mean(s.seed_scores):.3f} ± {s.seed_std:.3f} ({len(s.seed_scores)})"
                 if len(s.seed_scores) > 1 else "—")
        restarts = (f"± {s.restart_std:.3f} ({len(s.restart_scores)})"
                    if len(s.restart_scores) > 1 else "—")
        row = [label(d), s.paper, s.ami, f"[{s.interval[0]:.3f}, {s.interval[1]:.3f}]",
               seeds, restarts, s.ami_arithmetic, s.ari]
        if beside is not None:
            other = beside.spreads.get(table_no, {}).get(d)
            row.append(None if other is None else
                       f"{other.ami:.3f}" + (f" (± {other.seed_std:.3f})"
                                             if len(other.seed_scores) > 1 else ""))
        rows.append(row)
    header = ["data set", "paper (AMI)", f"ours ({result.profile}): AMI",
              f"{LEVEL:.0%} interval", "over trainings (n)", "over RC starts (n)",
              "AMI (arithmetic)", "ARI"]
    if beside is not None:
        header.append(f"ours ({beside.profile}): AMI")
    return markdown_table(header, rows)


def selection_table(result: Robustness) -> Markdown:
    """Per search: the best test score (the paper's rule), the test score of the run best
    on validation images, the difference, the test score of the run with the lowest
    validation loss (no labels needed) and the table's DAE (the paper's published
    configuration) for comparison."""
    rows = [[f"Table {t}", label(d), len(s.test_scores), s.by_test, s.by_validation,
             s.optimism, s.by_val_loss, _table_score(result, t, d)]
            for t, sel in result.selections.items() for d, s in sel.items()]
    if not rows:  # e.g. the full profile: a sentence instead of an empty table
        from ..paper.fig8 import NO_SEARCH
        return Markdown(f"*Profile {result.profile}: {' '.join(NO_SEARCH.split())}*")
    return markdown_table(["search", "data set", "runs", "best by test (paper's rule)",
                           "best by validation, on test", "optimism",
                           "lowest validation loss, on test", "published configuration"],
                          rows)


def _table_score(result: Robustness, table: int, dataset: str) -> float:
    """The score of a table's DAE (the paper's published configuration), NaN if absent."""
    spread = result.spreads.get(table, {}).get(dataset)
    return float("nan") if spread is None else spread.ami


# ------------------------------------------------------------------------------ machine
#: The stored full-scale DAEs that the book trains again on the machine that builds it
#: (data set, table): the two smallest, seconds each.
MACHINE_CHECK = (("simple_superposition", 1), ("bars", 1))


def machine_check(entries=MACHINE_CHECK) -> list:
    """Train each of ``entries`` (stored full-scale table DAEs) again here and compare it
    with the stored one (:func:`rc.paper.full_scale.retrain`; nothing is written); an
    entry that is not stored is left out."""
    from ..paper import full_scale

    out = []
    for dataset, table_no in entries:
        try:
            out.append(full_scale.retrain(dataset, table_no))
        except MissingResultError:
            continue
    return out


def machine_table(retrainings: list) -> Markdown:
    """The retrainings of :func:`machine_check`: epochs, best validation loss, score
    (stored / here), the largest weight difference and the verdict."""
    rows = [[f"Table {r.table} {label(r.dataset)}", f"{r.epochs[0]} / {r.epochs[1]}",
             f"{r.best_val_loss[0]:.4f} / {r.best_val_loss[1]:.4f}",
             f"{r.score[0]:.4f} / {r.score[1]:.4f}", f"{r.max_weight_difference:.2g}",
             r.verdict] for r in retrainings]
    return markdown_table(["stored DAE", "epochs (stored / here)",
                           "best validation loss (stored / here)",
                           "score (stored / here)", "largest weight difference",
                           "verdict"], rows)


def machine_glue_values(retrainings: list) -> dict:
    """The machines of :func:`machine_check` in words, the tolerance of a verdict and a
    sentence summing the verdicts, for the book's prose."""
    from ..paper.full_scale import TOLERANCE
    from ..storage import machine, machine_words

    stored = sorted({machine_words(r.machines[0]) for r in retrainings})
    verdicts = [f"{label(r.dataset)}: {r.verdict}" for r in retrainings]
    return {"machine_here": machine_words(machine()),
            "machine_stored": "; ".join(stored) or "—",
            "machine_verdicts": "; ".join(verdicts) or "no stored full-scale DAE to retrain",
            "tolerance_loss": TOLERANCE["best_val_loss"],
            "tolerance_score": TOLERANCE["score"]}


# ------------------------------------------------------------------------------ figures
def _rows(result: Robustness):
    return [(t, d, s) for t, per in result.spreads.items() for d, s in per.items()]


def draw_spread(result: Robustness, beside: Robustness | None = None):
    """Per table entry: our score over trainings (dots) and RC starts (crosses), the 95%
    interval over test images (bar) and the paper's value (diamond); ``beside`` (another
    profile's result) adds its table DAE's score (square)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from ..plots import dataset_color, styled

    other = None if beside is None or beside.profile == result.profile else beside

    @styled
    def make():
        rows = _rows(result)
        fig, ax = plt.subplots(figsize=(8.0, 0.42 * len(rows) + 1.2), layout="constrained")
        for i, (t, d, s) in enumerate(rows):
            color = dataset_color(d)
            ax.plot(s.interval, [i, i], color=color, lw=3, alpha=0.35, solid_capstyle="butt")
            ax.plot(s.seed_scores, [i] * len(s.seed_scores), "o", color=color, ms=5,
                    alpha=0.8)
            ax.plot(s.restart_scores, [i + 0.22] * len(s.restart_scores), "x", color=color,
                    ms=4, alpha=0.8)
            ax.plot(s.paper, i, "D", mfc="none", mec="black", mew=1.2, ms=6)
            own = other.spreads.get(t, {}).get(d) if other is not None else None
            if own is not None:
                ax.plot(own.ami, i - 0.22, "s", mfc="white", mec=color, mew=1.2, ms=5)
        ax.set_yticks(range(len(rows)), [f"Table {t} · {label(d)}" for t, d, _ in rows])
        ax.set_ylim(len(rows) - 0.4, -0.6)
        ax.set_xlabel("score (mean AMI over the test images)")
        ax.grid(axis="x")
        ax.set_axisbelow(True)
        handles = [Line2D([], [], marker="o", ls="none", color="0.4", label="one training"),
                   Line2D([], [], marker="x", ls="none", color="0.4", label="one RC start"),
                   Line2D([], [], lw=3, alpha=0.35, color="0.4",
                          label=f"{LEVEL:.0%} interval over test images"),
                   Line2D([], [], marker="D", ls="none", mfc="none", mec="black",
                          label="paper")]
        if other is not None:
            handles.append(Line2D([], [], marker="s", ls="none", mfc="white", mec="0.4",
                                  label=f"table DAE, profile {other.profile}"))
        ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                  ncols=len(handles))
        return fig
    return make()


def draw_selection(result: Robustness):
    """Per search: every run's test score (faint), the best by test (the paper's rule,
    filled) and the test score of the best run on validation (hollow)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from ..paper.fig8 import NO_SEARCH
    from ..plots import dataset_color, not_computed, styled

    @styled
    def make():
        rows = [(t, d, s) for t, sel in result.selections.items() for d, s in sel.items()]
        if not rows:
            return not_computed(NO_SEARCH)
        fig, ax = plt.subplots(figsize=(8.0, 0.42 * max(1, len(rows)) + 1.2),
                               layout="constrained")
        rng = np.random.default_rng(0)
        for i, (_, d, s) in enumerate(rows):
            color = dataset_color(d)
            ax.scatter(s.test_scores, i + rng.uniform(-0.15, 0.15, s.test_scores.size), s=8,
                       color=color, alpha=0.3, lw=0)
            ax.plot([s.by_validation, s.by_test], [i, i], color=color, lw=1.2)
            ax.plot(s.by_test, i, "o", color=color, ms=6)
            ax.plot(s.by_validation, i, "o", mfc="white", mec=color, mew=1.5, ms=6)
        ax.set_yticks(range(len(rows)), [f"Table {t} · {label(d)}" for t, d, _ in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_xlabel("test score of a search run (mean AMI)")
        ax.grid(axis="x")
        ax.set_axisbelow(True)
        handles = [Line2D([], [], marker="o", ls="none", color="0.4",
                          label="best by test score (the paper's rule)"),
                   Line2D([], [], marker="o", ls="none", mfc="white", mec="0.4",
                          label="best by validation score, its test score")]
        ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2)
        return fig
    return make()


def draw_metrics(result: Robustness, table_no: int = 1):
    """Per data set of a table: the mean AMI (paper's normaliser), the AMI with the
    arithmetic normaliser and the ARI of the same clusters."""
    import matplotlib as mpl
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from ..plots import dataset_color, styled

    @styled
    def make():
        spreads = result.spreads[table_no]
        fig, ax = plt.subplots(figsize=(8.0, 2.8), layout="constrained")
        width = 0.26
        names = ("AMI (max, the paper's)", "AMI (arithmetic)", "ARI")
        for i, (d, s) in enumerate(spreads.items()):
            color = dataset_color(d, i)
            for j, (value, alpha) in enumerate(((s.ami, 1.0), (s.ami_arithmetic, 0.6),
                                                (s.ari, 0.3))):
                ax.bar(i + (j - 1) * width, value, width * 0.92,
                       color=mpl.colors.to_rgba(color, alpha), edgecolor=color, lw=0.8)
        ax.set_xticks(range(len(spreads)), [label(d) for d in spreads])
        ax.tick_params(axis="x", length=0)
        ax.set_ylim(min(0.0, min(min(s.ari, s.ami) for s in spreads.values())), 1.0)
        ax.set_ylabel(f"mean over test images (Table {table_no} DAEs)")
        ax.grid(axis="y")
        ax.set_axisbelow(True)
        handles = [Patch(facecolor=mpl.colors.to_rgba("0.4", a), edgecolor="0.4", label=n)
                   for n, a in zip(names, (1.0, 0.6, 0.3))]
        ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3)
        return fig
    return make()


def tasks(results) -> list[Task]:
    """What :func:`compute` needs stored: per table entry its evaluation and RC restarts
    and the final scores of its other seeds' trainings (the trainings are their
    dependencies, needed only to compute them; the selections read whatever runs of the
    searches their steps stored), and the retrained winner of every complete Table 1
    search (:func:`winner_task`)."""
    p, found = results.profile, []
    for table, paper in ((1, table1.PAPER), (2, table2.PAPER)):
        for d in (d for d in p.datasets if d in paper):
            found += results.restart_tasks(d, table)
            if table in p.spread_tables and n_seeds(p, d, table) > 1:
                rc_spec, test = results.eval_spec(d, table).rc, results.test_spec(d)
                found += [results.evaluation_task(EvalSpec(s, test, rc_spec), final=True)
                          for s in seed_specs(results, d, table)[1:]]
    return found + [t for d in p.datasets if (t := winner_task(results, d))]
