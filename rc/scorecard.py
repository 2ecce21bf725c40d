"""The reproduction scorecard: every claim of the paper that we test, collected.

The claims are declared where their figure or table lives (:mod:`rc.paper`, the elements
of :data:`rc.paper.WITH_CLAIMS`); :func:`collect` only gathers them, and :func:`build`
also writes them, with the profile and provenance, to ``results/<profile>/scorecard.json``
where they differ from the stored ones (:func:`changes`): building it again from the same
results (rendering the book) leaves the stored file, and its provenance, as they were.
"""
from __future__ import annotations

from dataclasses import dataclass

from .cache import MissingResultError
from .claims import Claim
from .paper import WITH_CLAIMS, home
from .report import Markdown, markdown_table
from .storage import canonical_json, read_checked_json, write_checked_json

__all__ = ["Scorecard", "build", "changes", "collect", "collect_if_stored", "glue_values"]


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

    def table(self, full: Scorecard | None = None) -> Markdown:
        """Element, claim, the paper's value, ours (with its spread), rule and verdict;
        with ``full`` (the ``full`` profile's scorecard) its value and verdict beside."""
        def ours(c):
            if c is None:
                return "—"
            value = c.ours if not isinstance(c.ours, float) else f"{c.ours:.3f}"
            return f"{value} ({c.spread})" if c.spread else value
        beside = full is not None and full.profile.get("name") != self.profile.get("name")
        other = {c.id: c for c in full.claims} if beside else {}
        header = ["element", "claim", "paper", "ours", "rule", "verdict"]
        if beside:
            header += ["full scale", "verdict at full scale"]
        rows = []
        for c in self.claims:
            row = [c.element, c.statement, c.paper, ours(c), c.rule, c.verdict]
            if beside:
                f = other.get(c.id)
                row += [ours(f), f.verdict if f else "—"]
            rows.append(row)
        return markdown_table(header, rows)


def glue_values(card: Scorecard | None, prefix: str = "") -> dict:
    """The scorecard's counts for the book's prose, ``prefix`` before each key (dashes
    for a scorecard that is not stored), and ``counts``: them in a sentence."""
    counts = {"n_claims": "—", "n_hold": "—", "n_fail": "—", "n_untested": "—",
              "counts": "its results are not all stored yet, so it has no verdicts"}
    if card is not None:
        counts = {"n_claims": len(card.claims), "n_hold": card.n_holds,
                  "n_fail": card.n_fails, "n_untested": card.n_untested,
                  "counts": f"{card.n_holds} of its {len(card.claims)} claims hold, "
                            f"{card.n_fails} fail and {card.n_untested} are not tested"}
    return {prefix + k: v for k, v in counts.items()}


def collect(results) -> Scorecard:
    """Compute every element that makes a claim (loading what is cached) and gather them,
    with the spread of our Table 1 and 2 scores (:mod:`rc.beyond.robustness`)."""
    from .beyond import robustness

    claims = []
    for element in WITH_CLAIMS:
        module = home(element)
        claims += module.claims(module.compute(results))
    try:
        claims = robustness.annotate(claims, robustness.compute(results))
    except MissingResultError:
        if results.cache.may_compute:
            raise
        # stored results without the spreads (still being computed): claims without them
    return Scorecard(results.profile.to_dict(), claims, results.provenance())


def collect_if_stored(results) -> Scorecard | None:
    """:func:`collect` from stored results only (``results`` may not compute), or None where
    an element is not stored (e.g. the full-scale scorecard before ``make full`` ends)."""
    try:
        return collect(results)
    except MissingResultError:
        return None


def changes(stored: dict, card: Scorecard) -> list[str]:
    """What differs between a stored scorecard (its document, without the digest) and
    ``card``, provenance aside (the time and machine of a build are not its content):
    one phrase per difference, none where they are equal."""
    ours = {k: v for k, v in card.to_dict().items() if k != "provenance"}
    theirs = {k: v for k, v in stored.items() if k != "provenance"}
    if canonical_json(ours) == canonical_json(theirs):
        return []
    found = [f"its {k}" for k in sorted(set(ours) | set(theirs)) if k != "claims"
             and canonical_json(ours.get(k)) != canonical_json(theirs.get(k))]
    claims = theirs.get("claims")
    if not isinstance(claims, list) or not all(isinstance(c, dict) for c in claims):
        return found + ["its claims are not a list of claims"]
    old = {str(c.get("id")): c for c in claims}
    new = {c["id"]: c for c in ours["claims"]}
    for id, claim in new.items():
        if id not in old:
            found.append(f"claim {id} is new")
        elif canonical_json(old[id]) != canonical_json(claim):
            parts = [k for k in sorted(set(claim) | set(old[id]))
                     if canonical_json(claim.get(k)) != canonical_json(old[id].get(k))]
            found.append(f"claim {id} differs in {', '.join(parts)}")
    found += [f"claim {id} is no longer made" for id in old if id not in new]
    return found or ["its claims are in another order"]


def build(results) -> Scorecard:
    """:func:`collect`, then write ``scorecard.json`` into the profile's results folder
    (with a digest of its content: :func:`rc.storage.write_checked_json`) unless the
    stored one holds the same profile and claims (:func:`changes`): then it is left as it
    is, and the scorecard returned carries its provenance."""
    card = collect(results)
    path = results.cache.root / "scorecard.json"
    try:
        stored = read_checked_json(path)
    except (OSError, ValueError):  # not stored yet, or damaged: written anew
        stored = None
    if stored is not None and not changes(stored, card):
        return Scorecard(card.profile, card.claims, stored.get("provenance"))
    write_checked_json(path, card.to_dict())
    return card
