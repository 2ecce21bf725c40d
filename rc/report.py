"""Small text helpers for the book's tables: one way to format a table or a cell."""
from __future__ import annotations

import math


def cell(value, digits: int = 3) -> str:
    """A table cell: floats with ``digits`` decimals, None as a dash, booleans as marks."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float):
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


def config_text(config) -> str:
    """A DAE configuration (dict or PaperConfig) in one line: lr, hidden activation, p."""
    c = config if isinstance(config, dict) else vars(config)
    return (f"{c['learning_rate']:.4g}, {c['n_hidden']} {c['activation']}, "
            f"p = {c['noise']:.1f}")
