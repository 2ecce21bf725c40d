"""Figure 10 (Appendix C): hard RC with a DAE trained on multi-object images, on Shapes.

The view of Figure 5 for the Shapes Table 2 DAE with hard assignments (computed and drawn
by :mod:`rc.paper.fig5`), and the same DAE with soft assignments, whose confidence the
paper reports to fall to uniform: "each pixel is equally represented by each cluster".

Claim (Appendix C): with soft RC and a multi-object DAE, the assignments end up uniform
(ours: the mean final confidence on Shapes is at most 1/K + :data:`UNIFORM_TOLERANCE`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..claims import Claim, at_most
from ..tasks import Task
from . import fig4b, fig5
from .fig5 import RCRuns

#: How far above 1/K the mean final confidence may be and still count as uniform.
UNIFORM_TOLERANCE = 0.1
DATASET = "shapes"


#: The identifiers of the claims declared here (``<data set>``: one per data set).
CLAIM_IDS = ("multi.soft_uniform",)


@dataclass(frozen=True)
class HardRC:
    """Hard RC runs with the Table 2 DAE, and soft RC with the same DAE."""

    hard: RCRuns
    soft_confidence: np.ndarray   # (T+1,) mean confidence per iteration, soft RC
    soft_final_confidence: float  # mean final confidence of soft RC (the claim's value)
    soft_score: float             # mean final AMI of soft RC
    settled_hard: int             # fig4b.converged_by of hard RC (Table 2 DAE)
    settled_soft: int             # ... of soft RC with the Table 1 DAE

    @property
    def speed_relation(self) -> str:
        """Hard RC (Table 2 DAE) settles "sooner than", "at the same iteration as" or
        "later than" soft RC (Table 1 DAE)."""
        if self.settled_hard < self.settled_soft:
            return "sooner than"
        same = self.settled_hard == self.settled_soft
        return "at the same iteration as" if same else "later than"

    @property
    def soft_trend(self) -> str:
        """Whether the soft-RC confidence "falls" or "does not fall" over the iterations."""
        return "falls" if self.soft_confidence[-1] < self.soft_confidence[0] else "does not fall"

    @property
    def uniform(self) -> float:
        """The confidence of perfectly even sharing, 1/K."""
        return 1.0 / self.hard.k


def compute(results) -> HardRC:
    """Hard RC with the Shapes Table 2 DAE; soft RC with it; soft RC with Table 1's."""
    hard = fig5.compute(results, DATASET, table=2)
    soft = results.evaluation(DATASET, table=2, e_step="soft")
    return HardRC(hard, np.nanmean(soft.confidence, axis=0),
                  float(np.nanmean(soft.confidence[:, -1])), soft.score,
                  fig4b.converged_by(hard.log_likelihood),
                  fig4b.converged_by(results.evaluation(DATASET, 1).log_likelihood))


def claims(result: HardRC) -> list[Claim]:
    """Soft RC with a multi-object DAE drifts to uniform assignments."""
    k = result.hard.k
    return [at_most("multi.soft_uniform", "Figure 10",
                    "With a multi-object-trained DAE, soft RC drifts to uniform assignments "
                    f"(ours: mean final confidence on Shapes; uniform is 1/K = {1 / k:.3f})",
                    result.uniform, result.soft_final_confidence,
                    tolerance=UNIFORM_TOLERANCE)]


def glue_values(result: HardRC) -> dict:
    """The numbers the book's prose quotes about the figure and its claim."""
    [claim] = claims(result)
    return {
        "hard_score": result.hard.mean_score, "settled_hard": result.settled_hard,
        "settled_soft": result.settled_soft, "speed_word": result.speed_relation,
        "soft2_trend": result.soft_trend, "soft2_conf0": result.soft_confidence[0],
        "soft2_conf": result.soft_final_confidence, "soft2_score": result.soft_score,
        "uniform_conf": result.uniform, "soft2_tol": UNIFORM_TOLERANCE,
        "soft2_gap": result.soft_final_confidence - result.uniform,
        "soft2_verdict": claim.phrase,
    }

def draw(result: HardRC):
    """The figure: as Figure 5, for hard RC with the Table 2 DAE."""
    return fig5.draw(result.hard)


def tasks(results) -> list[Task]:
    """What :func:`compute` needs stored: hard RC with the Table 2 DAE and its examples,
    soft RC with it and with the Table 1 DAE."""
    return (fig5.tasks(results, DATASET, 2)
            + [results.evaluation_task(results.eval_spec(DATASET, 2, e_step="soft")),
               results.evaluation_task(results.eval_spec(DATASET, 1))])
