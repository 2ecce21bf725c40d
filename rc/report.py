"""Text for the book: one way to format a table or a cell, and to hand numbers to the prose."""
from __future__ import annotations

import math
import sys
from collections.abc import Mapping

import numpy as np


def cell(value, digits: int = 3) -> str:
    """A table cell: floats with ``digits`` decimals, None as a dash, booleans as marks."""
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "✓" if value else "✗"
    if isinstance(value, (float, np.floating)):
        return "n/a" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


class Markdown(str):
    """A string that Jupyter displays as Markdown (``_repr_markdown_``)."""

    def _repr_markdown_(self) -> str:
        return str(self)


def markdown_table(header, rows, digits: int = 3) -> Markdown:
    """A GitHub-flavoured Markdown table; a notebook displays it as a table."""
    header = [str(h) for h in header]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells but the header has {len(header)}")
        lines.append("| " + " | ".join(cell(c, digits) for c in row) + " |")
    return Markdown("\n".join(lines))


def plain(value):
    """``value`` as a plain Python number or string (numpy scalars converted)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def glue_all(values: Mapping[str, object], prefix: str = "") -> None:
    """Glue every value under ``prefix + key`` for ``{glue:text}`` in the prose (myst-nb).

    Numpy scalars become Python numbers, so that format specs such as ``:.3f`` work.
    """
    from myst_nb import glue

    for key, value in values.items():
        glue(f"{prefix}{key}", plain(value), display=False)


def glue_figure(name: str, fig) -> None:
    """Glue a figure for a ``{glue:figure}`` directive: a matplotlib figure (closed
    afterwards) or any displayable image, e.g. the ``IPython.display.Image`` of an
    animated GIF (:func:`rc.animation.display`), which the built book keeps as a GIF."""
    from myst_nb import glue

    glue(name, fig, display=False)
    pyplot = sys.modules.get("matplotlib.pyplot")  # loaded by whoever drew a figure
    if pyplot is not None and hasattr(fig, "savefig"):
        pyplot.close(fig)
