"""Figure 8: the scores of the random search with single-object training (Appendix B).

Every run draws a learning rate (log-uniform in [1e-3, 1]), a noise level, a width and an
activation (:data:`rc.search.SEARCH_SPACE`), trains a DAE on single objects and scores it
with soft RC; the paper ran 100 runs per data set, whose best make Table 1. Figure 9
(:mod:`rc.paper.fig9`) is the same for multi-object training and uses :func:`plot` from
here. No claim beyond Table 1's.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from .. import published
from ..plots import (
    checked_floats,
    checked_mapping,
    checked_number,
    dataset_color,
    dataset_label,
    not_computed,
    ordered_names,
    styled,
)
from ..tasks import Task
from . import table1, table2

#: Runs per data set in the paper's searches.
PAPER_RUNS = published.PAPER_RUNS
#: What the figures built on searches show in a profile that runs none (``full``).
NO_SEARCH = ("No random-search runs of this kind are stored for this profile. The default "
             "profile runs a few on a CPU (make book),\nthe full profile the Table 1 "
             "searches of five data sets (make full, hours), the paper profile all 100 "
             "per data set (make paper, meant for a GPU).")


@dataclass(frozen=True)
class SearchScores:
    """The score of every run of one search per data set, and the paper's best."""

    table: int
    profile: str
    scores: dict[str, np.ndarray]
    paper_best: dict[str, float]
    scale: str                      # the profile's scale, with the runs stored

    @property
    def runs(self) -> int:
        return max((len(s) for s in self.scores.values()), default=0)

    @property
    def best(self) -> dict[str, float]:
        return {d: float(np.nanmax(s)) for d, s in self.scores.items() if len(s)}


def scale_text(profile, what: str, counts: Mapping[str, int]) -> str:
    """The profile's scale for ``what`` ("search" or "loss"), with the number of runs that
    are stored per data set (``counts``) where a search is still in progress ("stored so
    far: 100 for Bars, 83 for Shapes, none yet for Corners")."""
    planned = profile.search_runs if what == "search" else profile.loss_runs
    text = profile.caption(what)
    if planned == 0:  # only the paper-size searches: say how far each is
        if all(n == PAPER_RUNS for n in counts.values()):
            return text
        by_count: dict[int, list[str]] = {}
        for d, n in counts.items():
            by_count.setdefault(n, []).append(dataset_label(d))
        parts = [f"{'none yet' if n == 0 else n} for "
                 + (names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}")
                 for n, names in sorted(by_count.items(), reverse=True)]
        return f"{text}; stored so far: {', '.join(parts)}"
    counts = list(counts.values())
    if profile.full_searches:  # those data sets have the paper's 100 runs, said separately
        counts = [c for c in counts if c != PAPER_RUNS] or counts
    lo, hi = min(counts, default=0), max(counts, default=0)
    stored = str(hi) if lo == hi else f"{lo} to {hi}"
    return text.replace(f" {planned} of the paper's", f" {stored} of the paper's", 1)


def compute_search(results, table: int) -> SearchScores:
    """The search of Table ``table`` for every data set of the profile that has it."""
    paper = (table1.PAPER if table == 1 else table2.PAPER)
    datasets = [d for d in results.profile.datasets
                if d in paper and results.run_names(d, table, "search")]  # searched here
    scores = {d: np.array([r.score for r in results.search(d, table)], float) for d in datasets}
    return SearchScores(table, results.profile.name, scores, {d: paper[d].score for d in datasets},
                        scale_text(results.profile, "search",
                                   {d: len(s) for d, s in scores.items()}))


def compute(results) -> SearchScores:
    """The single-object search (Table 1)."""
    return compute_search(results, 1)


def glue_values(result: SearchScores, profile) -> dict:
    """The numbers the book's prose quotes about the search: its space, the paper's and
    this profile's sizes."""
    from ..search import SEARCH_SPACE

    lr_lo, lr_hi = SEARCH_SPACE["learning_rate"]
    return {
        "lr_lo": lr_lo, "lr_hi": lr_hi,
        "noise_levels": ", ".join(f"{v:.1f}" for v in SEARCH_SPACE["noise"]),
        "hidden_sizes": ", ".join(str(h) for h in SEARCH_SPACE["n_hidden"]),
        "activations": ", ".join(SEARCH_SPACE["activation"]),
        "paper_runs": PAPER_RUNS, "search_runs": profile.search_runs,
        "search_train_limit": ("all images" if profile.search_train_limit is None
                               else f"at most the first {profile.search_train_limit:,} "
                                    "images"),
        "search_cap": ("no cap on its training compute" if profile.search_tflop is None
                       else f"at most {profile.search_tflop:g} TFLOP of training compute"),
        "search_scale": result.scale,
    }

def draw(result: SearchScores):
    """The figure: every run as a dot, one row per data set, the paper's best a diamond
    (a note instead in a profile without searches)."""
    if result.runs == 0:
        return not_computed(NO_SEARCH)
    return plot(result.scores, paper=result.paper_best)


@styled
def plot(runs: Mapping[str, np.ndarray], paper: Mapping[str, float] | None = None,
               title: str | None = None):
    """Figs. 8 and 9: the score of every random-search run (jittered dots), one row per data
    set, with the paper's best score as a hollow diamond. Non-finite scores count as failed
    runs (reported in the row's note)."""
    checked_mapping(runs, "runs")
    names = ordered_names(runs)
    data = {n: checked_floats(runs[n], f"runs[{n!r}]").ravel() for n in names}
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(8.0, 0.5 * len(names) + 1.0), layout="constrained")
    low = 0.0
    for i, name in enumerate(names):
        s = data[name]
        ok = np.isfinite(s)
        vals = s[ok]
        ax.scatter(vals, i + rng.uniform(-0.22, 0.22, vals.size), s=12,
                   color=dataset_color(name, i), alpha=0.6, lw=0, zorder=2)
        note = f"{vals.size} runs"
        if vals.size:
            low = min(low, float(vals.min()))
            note += f", best {vals.max():.2f}"
        if (~ok).sum():
            note += f", {(~ok).sum()} failed"
        ax.annotate(note, xy=(1.0, i), xycoords=("axes fraction", "data"),
                    xytext=(6, 0), textcoords="offset points", va="center", fontsize=7.5,
                    color="0.3")
        if paper is not None and name in paper:
            ax.plot(checked_number(paper[name], f"paper[{name!r}]"), i, marker="D", ms=6.5,
                    mfc="none", mec="black", mew=1.3, ls="none", zorder=4)
    ax.set_yticks(range(len(names)), [dataset_label(n) for n in names])
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlim(low - 0.02, 1.0)
    ax.set_xticks(np.linspace(0, 1, 11))
    ax.set_xlabel("score (mean AMI)")
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x")
    ax.set_axisbelow(True)
    handles = [Line2D([], [], marker="o", color="0.45", alpha=0.6, ls="none", ms=4,
                      label="one random-search run")]
    if paper:
        handles.append(Line2D([], [], marker="D", mfc="none", mec="black", mew=1.3,
                              ls="none", ms=6, label="paper's best"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
              ncols=len(handles), borderaxespad=0.2)
    if title:
        fig.suptitle(title)
    return fig


def tasks(results) -> list[Task]:
    """Nothing of its own: it shows the runs of the searches that their steps stored
    (:meth:`rc.Results.run_tasks`)."""
    return []
