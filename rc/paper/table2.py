"""Table 2: the best DAE per data set trained on multi-object images, scored with hard RC.

The paper repeats its random search with DAEs trained on images of several objects
(``train_multi``; Figure 9, :mod:`rc.paper.fig9`) and scores them with hard (K-means-like)
assignments, since with soft ones the clusters drift to uniform (Figure 10,
:mod:`rc.paper.fig10`). Simple Superposition has no multi-object training split and is
left out. The table's layout and computation are shared with Table 1
(:mod:`rc.paper.table1`).

Claims: every score of the table, each within :data:`rc.claims.SCORE_TOLERANCE`.
"""
from __future__ import annotations

from .. import published
from ..claims import Claim
from ..report import Markdown
from ..tasks import Task
from . import table1
from .table1 import TableResult

#: The paper's Table 2 (multi-object training, hard RC; no Simple Superposition):
#: :data:`rc.published.TABLE2`.
PAPER = published.TABLE2

#: The identifiers of the claims declared here (``<data set>``: one per data set).
CLAIM_IDS = ("table2.<data set>",)


def compute(results) -> TableResult:
    """Table 2 under the profile of ``results``: the multi-object DAEs, scored with hard RC."""
    return table1.compute_table(results, 2, PAPER)


def claims(result: TableResult) -> list[Claim]:
    """Table 2's scores."""
    return table1.table_claims(result, "Table 2", "best multi-object score (hard RC)")


def glue_values(result: TableResult, full: TableResult | None = None) -> dict[str, str]:
    """The numbers the book's prose quotes (as :func:`rc.paper.table1.glue_values`)."""
    return table1.glue_values(result, full)


def draw(result: TableResult, full: TableResult | None = None) -> Markdown:
    """The table, laid out as Table 1 (:func:`rc.paper.table1.draw`)."""
    return table1.draw(result, full)


def tasks(results) -> list[Task]:
    """What :func:`compute` needs stored."""
    return table1.table_tasks(results, 2, PAPER)
