"""Figure 11 (Appendix D): the view of Figure 5 for every data set other than Shapes.

Soft RC with each data set's Table 1 DAE; computed and drawn by :mod:`rc.paper.fig5`.
The paper makes no quantitative claim about these figures.
"""
from __future__ import annotations

import numpy as np

from ..datasets import label
from ..report import Markdown, markdown_table
from ..tasks import Task
from . import fig5, table1
from .fig5 import RCRuns


def compute(results) -> dict[str, RCRuns]:
    """RC runs of every data set of the profile except Shapes."""
    return {d: fig5.compute(results, d) for d in results.profile.datasets if d != "shapes"}


def draw(result: RCRuns):
    """One data set's figure (as Figure 5)."""
    return fig5.draw(result)


def table(results: dict[str, RCRuns], full: dict[str, RCRuns] | None = None) -> Markdown:
    """K, images, mean and median score, mean confidence, and the paper's score; ``full``
    (the ``full`` profile's runs, :mod:`rc.paper.full_scale`) adds their mean score at
    the paper's scale as a column, as Tables 1 and 2 do (not where ``results`` are those
    runs themselves)."""
    beside = bool(full) and not all(
        d in full and np.array_equal(full[d].score, r.score, equal_nan=True)
        for d, r in results.items())
    rows = []
    for d, r in results.items():
        row = [label(d), r.k, r.n_images, r.mean_score, r.median_score, r.mean_confidence]
        if beside:
            row.append(full[d].mean_score if d in full else None)
        rows.append(row + [table1.PAPER[d].score])
    return markdown_table(
        ["data set", "K", "images", "mean score", "median", "mean confidence",
         *(["full scale: mean score"] if beside else []), "paper (Table 1)"], rows)


def tasks(results) -> list[Task]:
    """What :func:`compute` needs stored."""
    return [t for d in results.profile.datasets if d != "shapes" for t in fig5.tasks(results, d)]
