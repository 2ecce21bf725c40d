"""Figure 9: the scores of the random search with multi-object training (Appendix B).

As Figure 8 (:mod:`rc.paper.fig8`), but each DAE is trained on multi-object images and
scored with hard RC; the best runs make Table 2. No claim beyond Table 2's.
"""
from __future__ import annotations

from . import fig8
from .fig8 import PAPER_RUNS, SearchScores  # noqa: F401 (PAPER_RUNS: the same)


def compute(pipe) -> SearchScores:
    """The multi-object search (Table 2)."""
    return fig8.compute_search(pipe, 2)


def draw(result: SearchScores):
    """The figure, drawn as Figure 8."""
    return fig8.draw(result)
