"""Claims: a statement of the paper, its value, ours, the rule that compares them, the verdict.

Every quantitative claim of the paper is declared once, in the module of the figure or
table it belongs to (:mod:`rc.paper`), with one of the rules below; the scorecard
(:mod:`rc.scorecard`) only collects them. The rules and the one shared tolerance are
defined here and nowhere else.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

__all__ = ["SCORE_TOLERANCE", "Claim", "at_least", "at_most", "equal", "less_than",
           "score_at_least"]

#: How far below the paper's score ours may fall and the claim still hold. The paper's
#: scores are single numbers, each the best of a 100-run search picked by its test score;
#: retraining one configuration with another seed moves the score by a few hundredths
#: (Simple Superposition, seeds 0-9: 0.81-0.90), so a one-sided allowance of 0.03 is what
#: "the same result" can mean for a retrained network. Higher scores always hold.
SCORE_TOLERANCE = 0.03

VERDICTS = {True: "holds", False: "fails", None: "not tested"}


@dataclass(frozen=True)
class Claim:
    """One claim of the paper checked against our result.

    ``holds`` is None when the profile cannot test the claim (``detail`` says why).
    """

    id: str          # stable identifier, e.g. "table1.shapes"
    element: str     # where the paper makes it, e.g. "Table 1"
    statement: str   # the claim, in our words
    paper: float | int
    ours: float | int | None
    rule: str        # how ours is compared with the paper's value
    holds: bool | None
    detail: str = ""  # how ours was measured, or why the claim is not tested
    spread: str = ""  # how much ours varies (over trainings, restarts, test images)

    @property
    def verdict(self) -> str:
        """"holds", "fails" or "not tested"."""
        return VERDICTS[self.holds]

    @property
    def phrase(self) -> str:
        """The verdict as a phrase for the text: "agrees with the paper", ..."""
        return {True: "agrees with the paper", False: "differs from the paper",
                None: "cannot be tested with this profile"}[self.holds]

    def to_dict(self) -> dict:
        return {**asdict(self), "verdict": self.verdict}


def _defined(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def score_at_least(id: str, element: str, statement: str, paper: float, ours: float | None,
                   detail: str = "") -> Claim:
    """A score claim: holds if ours >= paper - :data:`SCORE_TOLERANCE`."""
    holds = (ours >= paper - SCORE_TOLERANCE) if _defined(ours) else None
    return Claim(id, element, statement, paper, ours,
                 f"ours ≥ paper − {SCORE_TOLERANCE:g}", holds, detail)


def equal(id: str, element: str, statement: str, paper, ours, testable: bool = True,
          detail: str = "") -> Claim:
    """An exact claim (a choice or a count): holds if ours == paper."""
    holds = (ours == paper) if testable and _defined(ours) else None
    return Claim(id, element, statement, paper, ours, "ours = paper", holds, detail)


def at_least(id: str, element: str, statement: str, paper, ours, testable: bool = True,
             detail: str = "") -> Claim:
    """A lower bound: holds if ours >= paper."""
    holds = (ours >= paper) if testable and _defined(ours) else None
    return Claim(id, element, statement, paper, ours, "ours ≥ paper", holds, detail)


def at_most(id: str, element: str, statement: str, paper, ours, tolerance: float = 0.0,
            testable: bool = True, detail: str = "") -> Claim:
    """An upper bound with an allowance: holds if ours <= paper + tolerance."""
    rule = "ours ≤ paper" if tolerance == 0 else f"ours ≤ paper + {tolerance:g}"
    holds = (ours <= paper + tolerance) if testable and _defined(ours) else None
    return Claim(id, element, statement, paper, ours, rule, holds, detail)


def less_than(id: str, element: str, statement: str, paper, ours, testable: bool = True,
              detail: str = "") -> Claim:
    """A strict upper bound: holds if ours < paper."""
    holds = (ours < paper) if testable and _defined(ours) else None
    return Claim(id, element, statement, paper, ours, "ours < paper", holds, detail)
