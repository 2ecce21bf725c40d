"""The call stack from a notebook's call into rc down to an SGD step stays shallow (issue 27).

A spy in place of :func:`rc.batched_dae._sgd_step` records the stack at every step; the
frames of rc code above the step (the entry point's included, the step's own not) must be
at most :data:`MAX_RC_FRAMES`: for a Table 1 evaluation (its DAE of the paper's
configuration, or of its search's best, the search trained first), a Table 2 element and
a search, each computed from an empty results folder of the tiny profile. A task's missing
dependencies are computed one after another at the same depth (:meth:`rc.Results.get`),
not one recursion level per dependency, so that a deeper stack means a new pass-through
layer: this test fails then.
"""
from __future__ import annotations

import traceback
from pathlib import Path

import pytest
from helpers import TINY

import rc
import rc.batched_dae
from rc.paper import table1, table2

#: At most this many frames of rc code from the caller's call into rc to an SGD step.
MAX_RC_FRAMES = 10
RC = Path(rc.__file__).resolve().parent


@pytest.fixture
def deepest(monkeypatch):
    """A list that receives, at every SGD step, the rc frames of the stack above it."""
    stacks: list[list[traceback.FrameSummary]] = []
    step = rc.batched_dae._sgd_step

    def spy(*args, **kwargs):
        stack = traceback.extract_stack()[:-1]  # the spy's own frame is not rc's
        stacks.append([f for f in stack if Path(f.filename).resolve().is_relative_to(RC)])
        return step(*args, **kwargs)

    monkeypatch.setattr(rc.batched_dae, "_sgd_step", spy)
    return stacks


def _check(stacks: list) -> None:
    assert stacks, "no SGD step was taken: nothing was trained"
    worst = max(stacks, key=len)
    listing = "\n".join(f"  {Path(f.filename).name}:{f.lineno} {f.name}" for f in worst)
    assert len(worst) <= MAX_RC_FRAMES, (
        f"{len(worst)} frames of rc code above an SGD step (at most {MAX_RC_FRAMES}):\n"
        f"{listing}")


@pytest.mark.parametrize("what", ["table1", "table1 from its search", "table2", "search"])
def test_sgd_step_is_at_most_ten_rc_frames_deep(what, deepest, tmp_path):
    profile = TINY.replace(tables_from_search=True) if "search" in what else TINY
    results = rc.Results(profile, root=tmp_path, progress=False, device="cpu")
    if what.startswith("table1"):
        # its DAEs trained under the evaluations that need them; from its search: the
        # search trained first, under the table's configuration that it gives
        table1.compute(results)
    elif what == "table2":
        table2.compute(results)
    else:
        results.search("bars", 1)
    _check(deepest)
