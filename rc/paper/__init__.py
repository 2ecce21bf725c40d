"""The paper, element by element: one module per figure and table.

Each module is the one home of its element. It holds the paper's reported values for it,
``compute(results)``, which returns the element's data as a small typed result (from a
:class:`rc.pipeline.Results`, which caches everything expensive), ``draw(result)``, which
makes the figure or table, and, where the paper makes a quantitative claim about the
element, ``claims(result)``, which declares the claim once: the paper's value, ours, the
rule and the verdict (:mod:`rc.claims`). The scorecard collects those claims.

=========================  ==============================================================
element                    module
=========================  ==============================================================
Figure 1c                  :mod:`rc.paper.fig1c` object predictability, measured
Figure 2b                  :mod:`rc.paper.fig2b` one RC iteration on a real image
Figure 3                   :mod:`rc.paper.fig3` the data sets
Table 1                    :mod:`rc.paper.table1` best single-object DAEs and scores
Figure 4a                  :mod:`rc.paper.fig4a` score per number of clusters; best K
Figure 4b                  :mod:`rc.paper.fig4b` likelihood over iterations; convergence
Figure 5                   :mod:`rc.paper.fig5` RC runs on Shapes
Figure 6a                  :mod:`rc.paper.fig6a` denoising loss vs score
Figure 6b                  :mod:`rc.paper.fig6b` single- vs multi-object training
Table 2                    :mod:`rc.paper.table2` best multi-object DAEs and scores
Figure 7                   :mod:`rc.paper.fig7` novel objects
Figure 8                   :mod:`rc.paper.fig8` random search, single-object training
Figure 9                   :mod:`rc.paper.fig9` random search, multi-object training
Figure 10                  :mod:`rc.paper.fig10` hard RC with a multi-object DAE
Figure 11                  :mod:`rc.paper.fig11` RC runs on the other data sets
=========================  ==============================================================
"""
from __future__ import annotations

import importlib
from types import ModuleType

#: Every element of the paper that the book reproduces -> the name of its module here.
ELEMENTS: dict[str, str] = {
    "Figure 1c": "fig1c",
    "Figure 2b": "fig2b",
    "Figure 3": "fig3",
    "Table 1": "table1",
    "Figure 4a": "fig4a",
    "Figure 4b": "fig4b",
    "Figure 5": "fig5",
    "Figure 6a": "fig6a",
    "Figure 6b": "fig6b",
    "Table 2": "table2",
    "Figure 7": "fig7",
    "Figure 8": "fig8",
    "Figure 9": "fig9",
    "Figure 10": "fig10",
    "Figure 11": "fig11",
}

#: The elements whose modules declare claims, in the scorecard's order.
WITH_CLAIMS: tuple[str, ...] = ("Table 1", "Table 2", "Figure 4a", "Figure 4b", "Figure 6a",
                                "Figure 6b", "Figure 10")

#: The elements built on random searches, with the (table, study) of runs they need: a
#: profile that plans no such runs (the ``full`` profile has no Table 2 search) skips them.
NEEDS_SEARCH: dict[str, tuple[int, str]] = {
    "Figure 6a": (1, "loss"), "Figure 8": (1, "search"), "Figure 9": (2, "search")}

__all__ = ["ELEMENTS", "NEEDS_SEARCH", "WITH_CLAIMS", "home", *ELEMENTS.values()]


def home(element: str) -> ModuleType:
    """The module of a paper element, e.g. ``home("Figure 4a")`` is :mod:`rc.paper.fig4a`."""
    if element not in ELEMENTS:
        raise ValueError(f"unknown element {element!r}; expected one of {list(ELEMENTS)}")
    return importlib.import_module(f"{__name__}.{ELEMENTS[element]}")


def __getattr__(name: str) -> ModuleType:  # rc.paper.fig4a without importing every module
    if name in ELEMENTS.values():
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
