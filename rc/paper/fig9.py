"""Figure 9: the scores of the random search with multi-object training (Appendix B).

As Figure 8 (:mod:`rc.paper.fig8`), but each DAE is trained on multi-object images and
scored with hard RC; the best runs make Table 2. No claim beyond Table 2's.
"""
from __future__ import annotations

from ..tasks import Task
from . import fig8
from .fig8 import PAPER_RUNS, SearchScores  # noqa: F401 (PAPER_RUNS: the same)


def compute(results) -> SearchScores:
    """The multi-object search (Table 2)."""
    return fig8.compute_search(results, 2)


def glue_values(result: SearchScores, profile) -> dict:
    """The numbers the book's prose quotes about the figure; ``profile`` says whether the
    Table 2 DAEs come from this search."""
    return {
        "search_runs": result.runs, "search2_scale": result.scale,
        "paper_search_runs": fig8.PAPER_RUNS,
        "table2_source": ("the best runs of this search, retrained from their seeds"
                          if profile.tables_from_search and result.runs
                          else "not taken from it: this profile retrains the paper's "
                               "configurations"),
    }

def draw(result: SearchScores):
    """The figure, drawn as Figure 8."""
    return fig8.draw(result)


def tasks(results) -> list[Task]:
    """Nothing of its own: it shows the runs of the search that its steps stored."""
    return fig8.tasks(results)
