"""The reproduction scorecard: every claim of the paper that we test, collected.

The claims are declared where their figure or table lives (:mod:`rc.paper`, the elements
of :data:`rc.paper.WITH_CLAIMS`); :func:`collect` only gathers them, and :func:`build`
also writes them, with the profile and provenance, to ``results/<profile>/scorecard.json``.
"""
from __future__ import annotations

from dataclasses import dataclass

from .claims import Claim
from .paper import WITH_CLAIMS, home
from .report import Markdown, markdown_table
from .storage import write_checked_json

__all__ = ["Scorecard", "build", "collect"]


@dataclass(frozen=True)
class Scorecard:
    """The claims of one profile's run, with its settings and provenance."""

    profile: dict
    claims: list[Claim]
    provenance: dict

    @property
    def n_holds(self) -> int:
        return sum(c.holds is True for c in self.claims)

    @property
    def n_fails(self) -> int:
        return sum(c.holds is False for c in self.claims)

    @property
    def n_untested(self) -> int:
        return sum(c.holds is None for c in self.claims)

    def claim(self, id: str) -> Claim:
        """The claim with identifier ``id``."""
        for c in self.claims:
            if c.id == id:
                return c
        raise KeyError(f"no claim {id!r}; the scorecard has {[c.id for c in self.claims]}")

    def to_dict(self) -> dict:
        return {"profile": self.profile, "provenance": self.provenance,
                "claims": [c.to_dict() for c in self.claims]}

    def table(self) -> Markdown:
        """Element, claim, the paper's value, ours (with its spread), rule and verdict."""
        def ours(c):
            value = c.ours if not isinstance(c.ours, float) else f"{c.ours:.3f}"
            return f"{value} ({c.spread})" if c.spread else value
        return markdown_table(["element", "claim", "paper", "ours", "rule", "verdict"],
                              [[c.element, c.statement, c.paper, ours(c), c.rule, c.verdict]
                               for c in self.claims])


def collect(pipe) -> Scorecard:
    """Compute every element that makes a claim (loading what is cached) and gather them,
    with the spread of our Table 1 and 2 scores (:mod:`rc.beyond.robustness`)."""
    from .beyond import robustness

    claims = []
    for element in WITH_CLAIMS:
        module = home(element)
        claims += module.claims(module.compute(pipe))
    claims = robustness.annotate(claims, robustness.compute(pipe))
    return Scorecard(pipe.profile.to_dict(), claims, pipe.provenance())


def build(pipe) -> Scorecard:
    """:func:`collect`, then write ``scorecard.json`` into the profile's results folder
    (with a digest of its content: :func:`rc.storage.write_checked_json`)."""
    card = collect(pipe)
    write_checked_json(pipe.cache.root / "scorecard.json", card.to_dict())
    return card
