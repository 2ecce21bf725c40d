"""Figure 6b: single-object against multi-object training.

The score of each data set's Table 1 DAE (trained on single objects, soft RC) beside its
Table 2 DAE (trained on multi-object images, hard RC), with the paper's values.

Claim (Section 4.5): multi-object training works but scores lower on every data set.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..claims import Claim, equal
from ..plots import (
    checked_number,
    dataset_color,
    dataset_label,
    ordered_names,
    styled,
)
from ..tasks import Task
from . import table1, table2

#: The identifiers of the claims declared here (``<data set>``: one per data set).
CLAIM_IDS = ("single_beats_multi",)


@dataclass(frozen=True)
class SingleVsMulti:
    """Table 1 and Table 2 scores per data set (Table 2 has no Simple Superposition)."""

    single: dict[str, float]
    multi: dict[str, float]

    @property
    def wins(self) -> int:
        """Data sets where single-object training scores higher."""
        return sum(self.single[d] > self.multi[d] for d in self.multi)

    @property
    def paper_wins(self) -> int:
        return sum(table1.PAPER[d].score > table2.PAPER[d].score for d in self.multi)


def compute(results) -> SingleVsMulti:
    """The scores of both tables' DAEs."""
    single = {d: results.evaluation(d, 1).score for d in results.profile.datasets}
    multi = {d: results.evaluation(d, 2).score for d in results.profile.datasets
             if d in table2.PAPER}
    return SingleVsMulti(single, multi)


def claims(result: SingleVsMulti) -> list[Claim]:
    """Single-object training wins everywhere."""
    return [equal("single_beats_multi", "Figure 6b",
                  "Single-object training beats multi-object training on every data set "
                  f"(ours: on how many of {len(result.multi)})", len(result.multi),
                  result.wins)]


def glue_values(result: SingleVsMulti) -> dict:
    """The numbers the book's prose quotes about the figure."""
    [claim] = claims(result)
    return {"n_wins": result.wins, "paper_wins": result.paper_wins,
            "wins_verdict": claim.verdict, "n_multi": len(result.multi),
            **{f"t2_{d}": v for d, v in result.multi.items()},
            **{f"paper_t2_{d}": table2.PAPER[d].score for d in result.multi}}

def draw(result: SingleVsMulti):
    """The figure: filled bars single-object, hatched multi-object, circles the paper."""
    return plot(result.single, result.multi,
                paper_single={d: table1.PAPER[d].score for d in result.single},
                paper_multi={d: table2.PAPER[d].score for d in result.multi})


@styled
def plot(single: Mapping[str, float], multi: Mapping[str, float],
                        paper_single: Mapping[str, float] | None = None,
                        paper_multi: Mapping[str, float] | None = None):
    """Fig. 6b: score of DAEs trained on single-object images (soft RC, filled bars) vs
    on multi-object images (hard RC, hatched bars) per data set; the paper's values as
    hollow circles."""
    if not isinstance(single, Mapping) or not isinstance(multi, Mapping):
        raise ValueError("single and multi must be dicts data set -> score")
    names = ordered_names(list(single) + [n for n in multi if n not in single])
    if not names:
        raise ValueError("single and multi are both empty")
    fig, ax = plt.subplots(figsize=(8.0, 3.0), layout="constrained")
    width = 0.38
    for i, name in enumerate(names):
        color = dataset_color(name, i)
        for offset, values, papers, hatch, alpha in (
            (-width / 2, single, paper_single, None, 1.0),
            (width / 2, multi, paper_multi, "////", 0.35),
        ):
            x = i + offset
            if name in values:
                v = checked_number(values[name], f"score of {name!r}")
                ax.bar(x, v, width * 0.94, color=mpl.colors.to_rgba(color, alpha),
                       edgecolor=color, hatch=hatch, lw=0.8)
            else:
                ax.text(x, 0.02, "n/a", ha="center", va="bottom", fontsize=7, color="0.4")
            if papers is not None and name in papers:
                ax.plot(x, checked_number(papers[name], f"paper value of {name!r}"), marker="o",
                        ms=6, mfc="none", mec="black", mew=1.3, ls="none", zorder=4)
    handles = [
        Patch(facecolor="0.45", edgecolor="0.45", label="single-object training, soft RC"),
        Patch(facecolor=mpl.colors.to_rgba("0.45", 0.35), edgecolor="0.45", hatch="////",
              label="multi-object training, hard RC"),
    ]
    if paper_single or paper_multi:
        handles.append(Line2D([], [], marker="o", ms=6, mfc="none", mec="black", mew=1.3,
                              ls="none", label="paper"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
              ncols=len(handles), borderaxespad=0.2)
    ax.set_xticks(range(len(names)), [dataset_label(n) for n in names])
    ax.tick_params(axis="x", length=0)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylim(0, 1.02)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("mean AMI score")
    ax.grid(axis="y")
    ax.set_axisbelow(True)
    return fig


def tasks(results) -> list[Task]:
    """What :func:`compute` needs stored: both tables' evaluations."""
    return ([results.evaluation_task(results.eval_spec(d, 1)) for d in results.profile.datasets]
            + [results.evaluation_task(results.eval_spec(d, 2)) for d in results.profile.datasets
               if d in table2.PAPER])
