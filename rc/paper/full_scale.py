"""The paper's elements at full scale, from the committed results of the ``full`` profile.

The ``full`` profile (:mod:`rc.config`) trains the paper's published Table 1/2
configurations on all training images, up to 500 epochs with early stopping, and scores
them on the paper's test images. That takes hours on a CPU, so it is computed once
(``make full``) and its results are committed under ``results/full``. Every book run,
whatever its profile, shows them beside its own: :func:`pipeline` reads them without
ever computing, :func:`load` returns an element's full-scale result (or None where it is
not stored), and :func:`caption` says where the stored results came from.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from .. import published
from ..cache import MissingResultError
from ..pipeline import TABLES, Pipeline

__all__ = ["COMMAND", "FullScaleOrigin", "caption", "load", "missing_note", "origin",
           "pipeline", "show"]

#: The profile and the command that computes it.
PROFILE = "full"
COMMAND = "make full"


def pipeline(root=None) -> Pipeline:
    """The ``full`` profile's stored results (``results/full``, or ``root/full``); it never
    computes: a missing result raises :class:`~rc.cache.MissingResultError`."""
    return Pipeline(PROFILE, compute=False, progress=False, device="cpu", root=root)


def load(element: ModuleType, pipe: Pipeline | None = None):
    """``element.compute`` on the full-scale results, or None where they are not stored."""
    try:
        return element.compute(pipe or pipeline())
    except MissingResultError:
        return None


@dataclass(frozen=True)
class FullScaleOrigin:
    """Where the stored full-scale table DAEs came from."""

    n_daes: int                # table DAEs stored (of n_expected)
    n_expected: int
    devices: tuple[str, ...]   # e.g. ("cpu: x86_64",)
    commits: tuple[str, ...]   # short commits of the code that trained them
    train_hours: float         # their training wall time, summed
    first: str                 # earliest and latest creation date (UTC)
    last: str


def origin(pipe: Pipeline | None = None) -> FullScaleOrigin:
    """Device, commits and training time of the stored full-scale table DAEs."""
    pipe = pipe or pipeline()
    provenances, seconds, expected = [], 0.0, 0
    for table in TABLES:
        for dataset in pipe.profile.datasets:
            if not published.in_table(dataset, table):
                continue
            expected += 1
            try:
                trained = pipe.table_dae(dataset, table)
            except MissingResultError:
                continue
            provenances.append(trained.provenance)
            seconds += trained.history.seconds
    devices = sorted({f"{p.get('device', '?')}: {p.get('device_name', '?')}"
                      for p in provenances})
    commits = sorted({str(p.get("git_commit", "unknown"))[:7] for p in provenances})
    dates = sorted(str(p.get("created", ""))[:10] for p in provenances)
    return FullScaleOrigin(len(provenances), expected, tuple(devices), tuple(commits),
                           seconds / 3600.0, dates[0] if dates else "",
                           dates[-1] if dates else "")


def caption(pipe: Pipeline | None = None) -> str:
    """One sentence for a caption: what the stored full-scale results are and where
    they came from."""
    o = origin(pipe)
    if o.n_daes == 0:
        return missing_note()
    done = "" if o.n_daes == o.n_expected else f" ({o.n_daes} of {o.n_expected} stored)"
    when = o.first if o.first == o.last else f"{o.first} to {o.last}"
    return (f"Full scale (profile `{PROFILE}`, stored in `results/{PROFILE}`): the paper's "
            f"configurations trained on all training images, up to 500 epochs with early "
            f"stopping; table DAEs{done} trained on {', '.join(o.devices)} at "
            f"commit{'s' if len(o.commits) > 1 else ''} {', '.join(o.commits)}, "
            f"{_duration(o.train_hours)} of training in all, {when}; "
            f"recompute with `{COMMAND}`.")


def _duration(hours: float) -> str:
    """``hours`` in words: minutes below an hour, else hours to one decimal."""
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def missing_note(what: str = "The full-scale results") -> str:
    """What to say where a full-scale result is not stored."""
    return (f"{what} are not stored in `results/{PROFILE}`; `{COMMAND}` computes them "
            "(hours on a CPU).")


def show(element: ModuleType, pipe: Pipeline, title: str, draw=None):
    """In a notebook: the element at full scale beside the page's own version.

    Displays ``draw(result)`` (default ``element.draw``) of the full-scale result with a
    caption (``title`` and :func:`caption`), or a note naming what is missing and the
    command. Nothing is shown on a page that already renders the ``full`` profile.
    Returns the full-scale result (or None).
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    from ..report import Markdown

    if pipe.profile.name == PROFILE:
        return None
    full = pipeline()
    result = load(element, full)
    if result is None:
        display(Markdown(f"*{title}:* " + missing_note("Its results")))
        return None
    figure = (draw or element.draw)(result)
    display(figure)
    plt.close(figure)
    display(Markdown(f"**{title}.** {caption(full)}"))
    return result
