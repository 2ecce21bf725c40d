"""Table 1: the best DAE per data set, trained on single objects, and its score (soft RC).

The paper's Table 1 lists, per data set, the best configuration of its 100-run random
search (Appendix B; :mod:`rc.paper.fig8`) and its score, the mean AMI of soft RC with the
data set's K on the first 1,000 test images (all 120 for Simple Superposition). Profiles
with ``tables_from_search`` (``paper``) take the best run of their own search, the others
retrain the paper's configurations under their budget.

Claims: every score of the table, each within :data:`rc.claims.SCORE_TOLERANCE`.
This module also holds what Table 2 (:mod:`rc.paper.table2`) shares with it.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from .. import published
from ..claims import SCORE_TOLERANCE, Claim, score_at_least
from ..datasets import label
from ..pipeline import SearchRun
from ..plots import checked_mapping, dataset_color, dataset_label, styled
from ..published import PaperConfig
from ..report import Markdown, markdown_table
from ..specs import DAEConfig
from ..tasks import Task
from ..training import TrainHistory

#: The identifiers of the claims declared here (``<data set>``: one per data set).
CLAIM_IDS = ("table1.<data set>",)


#: The paper's Table 1 (single-object training, soft RC): :data:`rc.published.TABLE1`.
PAPER = published.TABLE1


@dataclass(frozen=True)
class TableResult:
    """Our version of Table 1 or Table 2 under one profile."""

    table: int
    profile: str
    configs: dict[str, DAEConfig]        # the configuration we trained
    sources: dict[str, str]              # where it comes from
    scores: dict[str, float]             # our score (mean final AMI)
    n_images: dict[str, int]             # scored test images
    histories: dict[str, TrainHistory]   # how the DAE trained
    search_best: dict[str, SearchRun]    # the best run of our random search (if any)
    search_runs: dict[str, tuple[int, int]]  # our search's runs: (stored, planned)
    paper: dict[str, PaperConfig]

    @property
    def datasets(self) -> list[str]:
        return list(self.scores)

    @property
    def mean_score(self) -> float:
        return float(np.mean(list(self.scores.values())))

    @property
    def paper_mean_score(self) -> float:
        return float(np.mean([self.paper[d].score for d in self.scores]))

    @property
    def worst(self) -> str:
        """The data set where our score falls furthest below the paper's."""
        return min(self.scores, key=lambda d: self.scores[d] - self.paper[d].score)


def compute_table(results, table: int, paper: Mapping[str, PaperConfig]) -> TableResult:
    """Our Table ``table`` (1 or 2) for the profile's data sets that the paper reports."""
    datasets = [d for d in results.profile.datasets if d in paper]
    configs, sources, scores, n_images, histories, best, counts = {}, {}, {}, {}, {}, {}, {}
    for d in datasets:
        configs[d], _, sources[d] = results.table_config(d, table)
        evaluation = results.evaluation(d, table)
        scores[d], n_images[d] = evaluation.score, evaluation.n_images
        histories[d] = results.table_dae(d, table).history
        runs = results.search(d, table)
        if runs:  # a profile may search some data sets only, or store part of a search
            best[d] = max(runs, key=lambda r: r.score)
            counts[d] = (len(runs), len(results.run_names(d, table, "search")))
    return TableResult(table, results.profile.name, configs, sources, scores, n_images,
                       histories, best, counts, dict(paper))


def compute(results) -> TableResult:
    """Table 1 under the profile of ``results``: the single-object DAEs, scored with soft RC."""
    return compute_table(results, 1, PAPER)


def table_claims(result: TableResult, element: str, what: str) -> list[Claim]:
    """One score claim per data set of a table."""
    return [score_at_least(f"table{result.table}.{d}", element,
                           f"{what} on {label(d)}", result.paper[d].score,
                           result.scores[d],
                           f"{result.n_images[d]} test images; DAE: {result.sources[d]}")
            for d in result.datasets]


def claims(result: TableResult) -> list[Claim]:
    """Table 1's scores."""
    return table_claims(result, "Table 1", "best single-object score (soft RC)")


def draw(result: TableResult, full: TableResult | None = None) -> Markdown:
    """The table: the paper's configuration and score, ours (configuration only where it
    is not the paper's), our search's best (where the profile searched), the score at
    full scale (``full``: the ``full`` profile's result, :mod:`rc.paper.full_scale`) and
    the verdict."""
    verdicts = {c.id.split(".")[1]: c.verdict for c in table_claims(result, "", "")}
    own_configs = any(result.configs[d] != DAEConfig.from_mapping(result.paper[d])
                      for d in result.datasets)
    searched = bool(result.search_best)
    beside = full is not None and full.profile != result.profile
    header = ["data set", "paper: configuration", "paper: score",
              *(["ours: configuration (from)"] if own_configs else []), "ours: score",
              *(["our search: best configuration", "best score (of runs stored)"]
                if searched else []),
              *(["full scale: score"] if beside else []), "claim"]

    def row(d):
        cells = [label(d), DAEConfig.from_mapping(result.paper[d]).text(),
                 result.paper[d].score]
        if own_configs:
            cells.append(f"{result.configs[d].text()} ({result.sources[d]})")
        cells.append(result.scores[d])
        if searched:  # a search may be stored for some data sets only
            best = result.search_best.get(d)
            if best is None:
                cells += ["not stored", None]
            else:
                done, planned = result.search_runs[d]
                runs = f"{done}" if done == planned else f"{done} of {planned}"
                cells += [DAEConfig.from_mapping(best.config).text(),
                          f"{best.score:.3f} ({runs})"]
        if beside:
            cells.append(full.scores.get(d))
        return cells + [verdicts[d]]
    return markdown_table(header, [row(d) for d in result.datasets])


def glue_values(result: TableResult, full: TableResult | None = None) -> dict[str, str]:
    """The numbers the book's prose quotes about the table, formatted; ``full`` (the
    ``full`` profile's table, or None where it is not stored) adds a sentence about the
    scores at the paper's scale."""
    from . import full_scale

    claims = table_claims(result, "", "")
    worst = result.worst
    epochs = [h.epochs for h in result.histories.values()]
    reasons = [h.stopped for h in result.histories.values()]
    out = {"n_hold": str(sum(c.holds is True for c in claims)), "n_rows": str(len(claims)),
           "min_epochs": str(min(epochs)), "max_epochs_run": str(max(epochs)),
           "stop_summary": "; ".join(f"{reasons.count(r)} by {r}" for r in sorted(set(reasons))),
           "tolerance": f"{SCORE_TOLERANCE:.2f}", "worst_ds": label(worst),
           "worst_ours": f"{result.scores[worst]:.3f}",
           "worst_paper": f"{result.paper[worst].score:.3f}",
           "mean_ours": f"{result.mean_score:.3f}",
           "mean_paper": f"{result.paper_mean_score:.3f}"}
    if result.profile == full_scale.PROFILE:
        sentence = "These are the full-scale results."
    elif full is None:
        sentence = full_scale.missing_note("The full-scale scores (column *full scale*)")
    else:
        held = sum(c.holds is True for c in table_claims(full, "", ""))
        sentence = (f"At the paper's scale (column *full scale*) the same configurations "
                    f"score {full.mean_score:.3f} on average, and {held} of "
                    f"{len(full.scores)} rows hold.")
    return {**out, "full_sentence": sentence}


def training_glue_values(profile) -> dict:
    """The training settings the book's prose quotes: the loop's defaults
    (:func:`rc.train_dae`), the paper's stopping rule and this profile's budget."""
    import inspect

    from ..config import PROFILES
    from ..training import train_dae

    defaults = inspect.signature(train_dae).parameters
    paper = PROFILES["paper"]
    return {
        "batch_size": defaults["batch_size"].default,
        "val_percent": defaults["val_fraction"].default,
        "train_percent": 1.0 - defaults["val_fraction"].default,
        "paper_max_epochs": paper.max_epochs, "paper_patience": paper.patience,
        "max_epochs": profile.max_epochs, "patience": profile.patience,
        "train_limit": ("all images" if profile.train_limit is None
                        else f"at most the first {profile.train_limit:,} images"),
        "train_cap": ("no cap on its training compute" if profile.train_tflop is None
                      else f"at most {profile.train_tflop:g} TFLOP of training compute"),
    }


def training_table(result: TableResult) -> Markdown:
    """How each DAE of the table trained: images, epochs, best epoch and loss, stop reason."""
    return markdown_table(
        ["data set", "learning rate", "hidden", "activation", "p", "training images",
         "epochs", "best epoch", "best validation loss", "stopped by"],
        [[label(d), f"{c.learning_rate:.6f}", c.n_hidden, c.activation, f"{c.noise:.1f}",
          f"{h.config['n_train']:,}", h.epochs, h.best_epoch, f"{h.best_val_loss:.2f}",
          h.stopped]
         for d, c, h in ((d, result.configs[d], result.histories[d])
                         for d in result.datasets)])


def draw_training(result: TableResult):
    """The validation loss of each DAE of the table over its epochs."""
    return plot_training({d: result.histories[d].to_dict() for d in result.datasets})


@styled
def plot_training(histories: Mapping[str, Mapping], ncols: int = 3):
    """Validation loss per epoch (epoch 0: before training) of one DAE per data set, with
    the kept (lowest-loss) epoch marked. ``histories``: name -> TrainHistory as a dict."""
    histories = checked_mapping(histories, "histories")
    names = list(histories)
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(8.0, 2.1 * nrows + 0.2),
                             layout="constrained", squeeze=False)
    for i, (ax, name) in enumerate(zip(axes.flat, names)):
        h = histories[name]
        loss = np.asarray(h["val_loss"], dtype=float)
        ax.plot(np.arange(len(loss)), loss, color=dataset_color(name, i), marker="o", ms=2.5)
        ax.plot(h["best_epoch"], h["best_val_loss"], "D", mfc="none", mec="black")
        ax.set_title(dataset_label(name))
        ax.grid(True)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("validation loss")
    return fig


def table_tasks(results, table: int, paper: Mapping[str, PaperConfig]) -> list[Task]:
    """What :func:`compute_table` needs stored: per data set the evaluation of the table
    DAE (after its training). The runs of its search belong to the search's step: the
    table shows the best of those stored."""
    return [results.evaluation_task(results.eval_spec(d, table))
            for d in results.profile.datasets if d in paper]


def tasks(results) -> list[Task]:
    """What :func:`compute` needs stored."""
    return table_tasks(results, 1, PAPER)
