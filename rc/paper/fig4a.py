"""Figure 4a: the mean score per data set and number of clusters K; the best K.

RC with each data set's Table 1 DAE (single-object training, soft RC) is run for every K
of the profile (the paper: 2, 3, 5 and 12) on the scored test images, from several random
starts (the profile's ``rc_restarts``; the paper averaged 100 runs); the figure shows the
mean final AMI per data set and K, averaged over the restarts, with their standard
deviation.

Claims (Section 4.1): the best K of every data set is its number of objects; scores are
above 0.5 on all six data sets and above 0.8 on four of them (:data:`THRESHOLDS`); the
standard deviation over runs is "very low", barely visible in the figure
(:data:`RESTART_STD_LIMIT`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from .. import published
from ..claims import Claim, at_least, at_most, equal
from ..datasets import DATASETS, dataset_info, label
from ..plots import (
    checked_mapping,
    checked_number,
    dataset_label,
    k_colors,
    ordered_names,
    styled,
)
from ..report import Markdown, markdown_table
from ..tasks import Task
from . import table1

#: Section 4.1: threshold -> on how many of the six data sets the paper's score exceeds it
#: (:data:`rc.published.SCORES_ABOVE`).
THRESHOLDS = published.SCORES_ABOVE
#: "Barely visible" standard deviation over RC runs: on the figure's axis from 0 to 1, a
#: standard deviation of 0.01 draws an error bar about as long as the bars' outline is
#: thick; we take the claim to hold up to this value (at each data set's own K).
RESTART_STD_LIMIT = 0.01


#: The identifiers of the claims declared here (``<data set>``: one per data set).
CLAIM_IDS = ("best_k.<data set>", "scores.above_0.5", "scores.above_0.8", "restarts.std")


@dataclass(frozen=True)
class KSweep:
    """Mean final AMI per data set and K, and each data set's score at its own K."""

    profile: str
    ks: tuple[int, ...]
    scores: dict[str, dict[int, float]]   # data set -> K -> mean final AMI, over restarts
    restart_std: dict[str, dict[int, float]]  # its standard deviation over the restarts
    own_k_scores: dict[str, float]        # data set -> score at its number of objects
    restarts: int                         # RC runs (random starts) per data set and K
    ami_arithmetic: dict[str, dict[int, float]]  # the same with the arithmetic normaliser
    ari: dict[str, dict[int, float]]             # the mean ARI (object pixels)

    @property
    def datasets(self) -> list[str]:
        return list(self.scores)

    @property
    def paper_k(self) -> dict[str, int]:
        """The paper's best K: the number of objects per image."""
        return {d: dataset_info(d).k for d in self.scores}

    @property
    def best_k(self) -> dict[str, int]:
        """Our best K: the swept K with the highest mean score."""
        return {d: max(s, key=s.get) for d, s in self.scores.items()}

    @property
    def testable(self) -> list[str]:
        """Data sets whose number of objects is among the swept K."""
        return [d for d in self.scores if self.paper_k[d] in self.ks]

    @property
    def n_best_k_match(self) -> int:
        return sum(self.best_k[d] == self.paper_k[d] for d in self.testable)

    def n_above(self, threshold: float) -> int:
        """On how many data sets the score at the data set's own K exceeds ``threshold``."""
        return sum(v > threshold for v in self.own_k_scores.values())

    def paper_n_above(self, threshold: float) -> int:
        """The same count for the paper's Table 1 scores (of our data sets)."""
        return sum(table1.PAPER[d].score > threshold for d in self.scores)


def compute(results) -> KSweep:
    """Evaluations of every Table 1 DAE for every K of the profile and every restart."""
    p = results.profile
    ds, ks, restarts = list(p.datasets), p.ks, p.rc_restarts
    evals = {d: {k: results.restarts(d, 1, k) for k in ks} for d in ds}
    own = {d: float(np.mean([e.score for e in results.restarts(d, 1)])) for d in ds}

    def over_restarts(value, reduce=np.mean):
        return {d: {k: float(reduce([value(e) for e in runs])) for k, runs in per_k.items()}
                for d, per_k in evals.items()}
    return KSweep(results.profile.name, tuple(ks), over_restarts(lambda e: e.score),
                  over_restarts(lambda e: e.score, np.std), own, restarts,
                  over_restarts(lambda e: e.mean_ami_arithmetic),
                  over_restarts(lambda e: e.mean_ari))


def claims(result: KSweep) -> list[Claim]:
    """The best K per data set, and the two score thresholds."""
    out = [equal(f"best_k.{d}", "Figure 4a",
                 f"The best K on {label(d)} is the number of objects ({result.paper_k[d]})",
                 result.paper_k[d], result.best_k[d], testable=d in result.testable,
                 detail=("" if d in result.testable else
                         f"K = {result.paper_k[d]} is not among the swept {list(result.ks)}"))
           for d in result.datasets]
    all_six = set(result.datasets) == set(DATASETS)
    for threshold, count in THRESHOLDS.items():
        out.append(at_least(
            f"scores.above_{threshold}", "Figure 4a",
            f"Scores are above {threshold} on {'all' if count == 6 else count} of the six "
            "data sets (ours: on how many)", count, result.n_above(threshold),
            testable=all_six, detail="" if all_six else "the profile has fewer data sets"))
    stds = [result.restart_std[d][result.paper_k[d]] for d in result.testable]
    out.append(at_most(
        "restarts.std", "Figure 4a",
        "The standard deviation of a data set's score over RC runs is very low, barely "
        "visible (ours: the largest over the data sets, at their own K)", RESTART_STD_LIMIT,
        max(stds) if stds else None, testable=result.restarts > 1 and bool(stds),
        detail=f"{result.restarts} random starts per data set and K"))
    return out


def glue_values(result: KSweep) -> dict:
    """The numbers the book's prose quotes about the figure."""
    from ..config import get_profile

    by_id = {c.id: c for c in claims(result)}
    low, high = THRESHOLDS
    return {
        "ks_text": ", ".join(str(k) for k in result.ks),
        "paper_ks_text": ", ".join(str(k) for k in get_profile("paper").ks),
        "n_testable": len(result.testable),
        "n_k_match": result.n_best_k_match, "thr_low": low, "thr_high": high,
        "n_above_low": result.n_above(low), "n_above_high": result.n_above(high),
        "paper_above_low": result.paper_n_above(low),
        "paper_above_high": result.paper_n_above(high),
        "min_score": min(result.own_k_scores.values()),
        "paper_min_score": min(table1.PAPER[d].score for d in result.datasets),
        "verdict_low": by_id[f"scores.above_{low}"].verdict,
        "verdict_high": by_id[f"scores.above_{high}"].verdict,
    }

def draw(result: KSweep):
    """The figure: one group of bars per data set, one bar per K (mean over restarts, their
    standard deviation as error bars), the protocol's K marked."""
    return plot(result.scores, errors=result.restart_std if result.restarts > 1 else None)


def table(result: KSweep) -> Markdown:
    """The best K and the scores per data set beside the paper's, with the standard
    deviation over restarts and, at the paper's K, the AMI with the arithmetic normaliser
    and the ARI."""
    def at_k(values, d):
        k = result.paper_k[d]
        return values[d][k] if k in values[d] else None
    return markdown_table(
        ["data set", "paper's best K", "our best K", "our score at our best K",
         "our score at the paper's K", "± over restarts", "AMI (arithmetic)", "ARI",
         "paper's score (Table 1)"],
        [[label(d), result.paper_k[d],
          result.best_k[d] if d in result.testable
          else f"{result.best_k[d]} (paper's K not swept)",
          result.scores[d][result.best_k[d]], result.own_k_scores[d],
          at_k(result.restart_std, d), at_k(result.ami_arithmetic, d), at_k(result.ari, d),
          table1.PAPER[d].score]
         for d in result.datasets])


@styled
def plot(scores: Mapping[str, Mapping[int, float]],
                    best_k: Mapping[str, int] | None = None,
                    errors: Mapping[str, Mapping[int, float]] | None = None):
    """Fig. 4a: mean AMI per data set (groups) and number of clusters K (bars).

    ``best_k`` marks one bar per data set with a triangle and its value (default: the
    protocol's K of each known data set, :func:`rc.dataset_info`; pass ``{}`` for none).
    ``errors`` (same layout as ``scores``, optional) draws error bars, e.g. the std.
    """
    checked_mapping(scores, "scores")
    names = ordered_names(scores)
    table: dict[str, dict[int, float]] = {}
    for name in names:
        per_k = scores[name]
        if not isinstance(per_k, Mapping):
            raise ValueError(f"scores[{name!r}] must be a dict K -> mean AMI")
        table[name] = {int(kk): checked_number(v, f"scores[{name!r}][{kk!r}]")
                       for kk, v in per_k.items()}
    ks = sorted({kk for d in table.values() for kk in d})
    if not ks:
        raise ValueError("scores contains no values")
    if best_k is None:
        best_k = {n: dataset_info(n).k for n in names if n in DATASETS}
    colors = k_colors(ks)
    fig, ax = plt.subplots(figsize=(8.0, 3.0), layout="constrained")
    width = 0.8 / len(ks)
    tops = [0.0]
    for i, name in enumerate(names):
        for j, kk in enumerate(ks):
            if kk not in table[name]:
                continue
            value = table[name][kk]
            x = i - 0.4 + width * (j + 0.5)
            err = None
            if errors is not None and name in errors and kk in errors[name]:
                err = checked_number(errors[name][kk], f"errors[{name!r}][{kk!r}]")
            ax.bar(x, value, width * 0.92, color=colors[kk], yerr=err,
                   error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "0.2"},
                   label=f"K = {kk}")
            top = value + (err or 0.0)
            tops.append(top)
            if best_k.get(name) == kk:
                ax.plot(x, top + 0.045, marker="v", color="black", ms=5, ls="none")
                ax.text(x, top + 0.085, f"{value:.2f}", ha="center", va="bottom", fontsize=7)
                tops.append(top + 0.16)
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    handles = [seen[f"K = {kk}"] for kk in ks if f"K = {kk}" in seen]
    if best_k:
        handles.append(Line2D([], [], marker="v", color="black", ls="none", ms=5,
                              label="protocol K (value shown)"))
    ax.legend(handles=handles, ncols=len(handles), loc="lower center",
              bbox_to_anchor=(0.5, 1.0), borderaxespad=0.2, columnspacing=1.2)
    ax.set_xticks(range(len(names)), [dataset_label(n) for n in names])
    ax.tick_params(axis="x", length=0)
    ax.set_xlim(-0.5, len(names) - 0.5)
    ax.set_ylim(min(0.0, min(min(d.values(), default=0) for d in table.values())),
                max(1.0, max(tops)) + 0.02)
    ax.set_ylabel("mean AMI score")
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.grid(axis="y")
    ax.set_axisbelow(True)
    return fig


def tasks(results) -> list[Task]:
    """What :func:`compute` needs stored: every restart of every K and data set."""
    return [t for d in results.profile.datasets for k in (*results.profile.ks, None)
            for t in results.restart_tasks(d, 1, k)]
