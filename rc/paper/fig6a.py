"""Figure 6a: denoising loss against binding score.

Per data set, DAEs of one architecture (250 ReLU units, p = 0.3) trained with random
learning rates and seeds (the paper: 100 each); each point is a DAE's best validation
loss and its RC score (soft RC, the data set's K). DAEs whose loss is not finite are
left out, as the paper left out networks that failed to train.

Claim (Section 4.4): lower loss goes with a higher score on every data set (ours: the
Spearman rank correlation of loss and score is negative).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from .. import published
from ..claims import Claim, equal
from ..datasets import label
from ..plots import (
    checked_floats,
    checked_mapping,
    dataset_color,
    dataset_label,
    not_computed,
    ordered_names,
    styled,
)
from ..report import Markdown, markdown_table
from ..search import sample_loss_config
from ..tasks import Task

#: DAEs per data set in the paper's study.
PAPER_RUNS = published.PAPER_RUNS


def loss_score_correlation(losses, scores) -> tuple[float, int, int]:
    """Spearman rank correlation of losses and scores over the runs where both are finite;
    returns (rho, runs used, runs dropped). rho is NaN with fewer than 3 runs."""
    losses, scores = np.asarray(losses, float), np.asarray(scores, float)
    ok = np.isfinite(losses) & np.isfinite(scores)
    if ok.sum() < 3:
        return float("nan"), int(ok.sum()), int((~ok).sum())
    from scipy.stats import spearmanr  # imported here: scipy.stats is slow to import

    return float(spearmanr(losses[ok], scores[ok])[0]), int(ok.sum()), int((~ok).sum())


#: The identifiers of the claims declared here (``<data set>``: one per data set).
CLAIM_IDS = ("loss_vs_score",)


@dataclass(frozen=True)
class LossVsScore:
    """Best validation loss and score of every DAE of the study, per data set."""

    profile: str
    losses: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]
    scale: str                      # the profile's scale, with the DAEs stored

    @property
    def datasets(self) -> list[str]:
        return list(self.losses)

    @property
    def rho(self) -> dict[str, float]:
        return {d: loss_score_correlation(self.losses[d], self.scores[d])[0]
                for d in self.losses}

    @property
    def n_dropped(self) -> dict[str, int]:
        return {d: loss_score_correlation(self.losses[d], self.scores[d])[2]
                for d in self.losses}

    @property
    def n_negative(self) -> int:
        return sum(bool(r < 0) for r in self.rho.values())

    @property
    def architecture(self) -> dict:
        """The study's fixed settings (hidden units, activation, noise)."""
        c = sample_loss_config(np.random.default_rng(0))
        return {k: c[k] for k in ("n_hidden", "activation", "noise")}


def compute(results) -> LossVsScore:
    """The loss-vs-score runs of every data set of the profile."""
    from .fig8 import scale_text

    runs = {d: results.loss_study(d) for d in results.profile.datasets
            if results.run_names(d, 1, "loss")}  # the data sets the profile studies
    return LossVsScore(results.profile.name,
                       {d: np.array([r.best_val_loss for r in rs], float)
                        for d, rs in runs.items()},
                       {d: np.array([r.score for r in rs], float) for d, rs in runs.items()},
                       scale_text(results.profile, "loss",
                                  {d: len(rs) for d, rs in runs.items()}))


def claims(result: LossVsScore) -> list[Claim]:
    """Lower loss, higher score, on every data set of the study that has at least three
    DAEs (not tested where none has: a profile without the study)."""
    ready = [d for d in result.datasets if len(result.losses[d]) >= 3]
    left = [d for d in result.datasets if d not in ready]
    rho = result.rho
    note = ("needs the loss-vs-score study (three DAEs or more per data set), which this "
            "profile does not run" if not ready else
            f"fewer than three DAEs stored for {', '.join(left)}" if left else "")
    return [equal("loss_vs_score", "Figure 6a",
                  "Lower denoising loss goes with a higher score on every data set (ours: "
                  "data sets with a negative rank correlation)", len(ready),
                  sum(bool(rho[d] < 0) for d in ready) if ready else None, bool(ready),
                  note)]


def glue_values(result: LossVsScore) -> dict:
    """The numbers the book's prose quotes about the figure (dashes for the rank
    correlations where the profile has no study)."""
    [claim] = claims(result)
    rho = result.rho
    return {
        "loss_hidden": result.architecture["n_hidden"],
        "loss_noise": result.architecture["noise"],
        "loss_runs": max((len(v) for v in result.losses.values()), default=0),
        "paper_loss_runs": PAPER_RUNS, "n_neg_rho": result.n_negative,
        "n_dropped": sum(result.n_dropped.values()), "loss_verdict": claim.verdict,
        "loss_scale": result.scale,
        **{f"rho_{d}": (f"{rho[d]:.3f}" if d in rho and np.isfinite(rho[d]) else "—")
           for d in ("shapes", "bars", "multi_mnist")},
    }

def draw(result: LossVsScore):
    """The figure: one panel per data set with a least-squares line (a note instead in
    a profile without the study)."""
    if not any(len(v) for v in result.losses.values()):
        from .fig8 import NO_SEARCH
        return not_computed(NO_SEARCH.replace("random searches", "loss-vs-score study")
                            .replace("runs a few", "runs a few DAEs")
                            .replace("all 100 per data set", "the paper's 100 per data set"))
    return plot({d: (result.losses[d], result.scores[d]) for d in result.datasets})


def table(result: LossVsScore) -> Markdown:
    """DAEs, dropped ones and the rank correlation per data set."""
    return markdown_table(
        ["data set", "DAEs", "dropped (loss not finite)", "rank correlation of loss and score"],
        [[label(d), len(result.losses[d]), result.n_dropped[d], result.rho[d]]
         for d in result.datasets])


@styled
def plot(points: Mapping[str, tuple], ncols: int = 3):
    """Fig. 6a: one panel per data set, best validation loss of each DAE against its RC
    score, with a least-squares regression line (non-finite points are left out) and
    the number of DAEs shown (an empty panel for a data set with none yet)."""
    checked_mapping(points, "points")
    names = ordered_names(points)
    pairs = {}
    for name in names:
        try:
            losses, scores = points[name]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"points[{name!r}] must be a pair (losses, scores)") from exc
        losses = checked_floats(losses, f"losses of {name!r}").ravel()
        scores = checked_floats(scores, f"scores of {name!r}").ravel()
        if losses.shape != scores.shape:
            raise ValueError(f"losses and scores of {name!r} differ in length: "
                             f"{losses.size} vs {scores.size}")
        ok = np.isfinite(losses) & np.isfinite(scores)
        pairs[name] = (losses[ok], scores[ok])
    ncols = max(1, min(int(ncols), len(names)))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(8.0, 2.35 * nrows + 0.1),
                             layout="constrained", squeeze=False)
    for idx, ax in enumerate(axes.flat):
        if idx >= len(names):
            ax.set_visible(False)
            continue
        name = names[idx]
        x, y = pairs[name]
        ax.scatter(x, y, s=12, color=dataset_color(name, idx), alpha=0.7, lw=0)
        if x.size >= 2 and np.ptp(x) > 0:
            slope, intercept = np.polyfit(x, y, 1)
            xx = np.array([x.min(), x.max()])
            ax.plot(xx, slope * xx + intercept, color="0.15", lw=1.1)
        if x.size:  # the scores' range, not the line's: a line may leave it
            pad = 0.08 * (np.ptp(y) or 1.0)
            ax.set_ylim(y.min() - pad, y.max() + pad)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
        ax.text(0.98, 0.96, f"{x.size} DAE{'' if x.size == 1 else 's'}", ha="right",
                va="top", transform=ax.transAxes, fontsize=8, color="0.35")
        ax.set_title(dataset_label(name))
        if x.size:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.grid(True)
        ax.set_axisbelow(True)
        if idx % ncols == 0:
            ax.set_ylabel("score (AMI)")
        if idx // ncols == nrows - 1 or idx + ncols >= len(names):
            ax.set_xlabel("best validation loss")
    return fig


def tasks(results) -> list[Task]:
    """Nothing of its own: it shows the runs of the loss-vs-score study that its steps
    stored (:meth:`rc.Results.run_tasks`)."""
    return []
