"""Beyond the paper: questions the paper raises or points to, each answered by a
measurement, one module per question (``compute(results)``, ``draw...(result)``, tables).

* :mod:`rc.beyond.robustness` — how robust are the paper's numbers? ARI beside AMI, the
  spread over trainings and RC restarts, bootstrap intervals, and the optimism of picking
  the best search run by its test score.
* :mod:`rc.beyond.grey` — does binding survive grey levels?
* :mod:`rc.beyond.conv` — does a convolutional DAE bind better?
* :mod:`rc.beyond.rc_training` — does training the DAE through RC close the gap between
  multi-object and single-object training?
* :mod:`rc.beyond.choose_k` — can RC tell how many objects an image holds?
* :mod:`rc.beyond.mnist_shape` — do the authors' own MNIST+Shape training images explain
  why our Table 1 score falls short of theirs?

The profile's ``beyond`` setting (:class:`rc.config.Profile`) lists the analyses it
computes; for the others, ``compute`` returns an empty result, ``answer`` says so, the
tables are empty and ``draw`` shows a note, so that every page renders under every
profile.
"""
from __future__ import annotations

__all__ = ["fmt", "not_measured", "runs"]


def not_measured(analysis: str) -> str:
    """The answer of an analysis (a module name of rc.beyond) that the profile does not
    compute, naming the profiles that do."""
    from ..config import PROFILES

    who = [name for name, p in PROFILES.items() if analysis in p.beyond
           and (analysis != "rc_training" or p.rc_training_datasets)]
    if not who:
        return "Not measured: no profile runs this analysis."
    names = who[0] if len(who) == 1 else ", ".join(who[:-1]) + " and " + who[-1]
    verb = "does" if len(who) == 1 else "do"
    return (f"Not measured: this profile does not run this analysis (the {names} "
            f"profile{'s' if len(who) > 1 else ''} {verb}).")


def runs(results, analysis: str) -> bool:
    """Whether the profile of ``results`` computes ``analysis`` (a module name of rc.beyond)."""
    return analysis in results.profile.beyond


def fmt(value, spec: str = ".3f") -> str:
    """A number for the prose (``format(value, spec)``), a dash where there is none."""
    if value is None:
        return "—"
    try:
        if value != value:  # NaN
            return "—"
    except TypeError:
        pass
    return format(value, spec)
