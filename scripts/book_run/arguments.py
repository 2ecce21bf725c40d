"""The checks of run_book's command line, each refusing what cannot work in one line (exit
status 2) before any kernel starts: notebook names, the ``-p`` parameters that the
notebooks take, and the options; and the parameters injected into every notebook."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .book import NOTEBOOK_DIR, NOTEBOOKS


def _parse_value(text: str):
    """A ``-p`` value as YAML (like papermill's CLI): 1 -> int, true -> bool, x -> str."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _normalise_name(name: str) -> str:
    stem = Path(name).name
    for suffix in (".md", ".ipynb"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    if stem not in NOTEBOOKS:  # a unique prefix such as "04" is enough
        matches = [n for n in NOTEBOOKS if n.startswith(stem)]
        if len(matches) == 1:
            return matches[0]
        raise SystemExit(f"run_book: unknown notebook {name!r}; known: {', '.join(NOTEBOOKS)}")
    return stem


def selected_notebooks(only: list[str]) -> list[str]:
    """The notebooks to execute, in book order: those that ``--only`` names (default all)
    whose source exists; a note for each that does not."""
    selected = [_normalise_name(n) for n in only] or list(NOTEBOOKS)
    names = [n for n in NOTEBOOKS if n in selected]
    missing = [n for n in names if not (NOTEBOOK_DIR / f"{n}.md").exists()]
    for n in missing:
        print(f"run_book: note: notebooks/{n}.md does not exist yet; skipped", file=sys.stderr)
    return [n for n in names if n not in missing]


def _refuse(message: str):
    """Stop with a one-line error and exit status 2 (arguments that cannot work)."""
    print(f"run_book: ERROR: {message}", file=sys.stderr)
    raise SystemExit(2)


def notebook_parameters(name: str) -> tuple[str, ...]:
    """The names that the cell tagged ``parameters`` of notebook ``name`` assigns: what
    papermill may set in it (``-p``)."""
    import ast

    import jupytext

    for cell in jupytext.read(NOTEBOOK_DIR / f"{name}.md").cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            targets = [t for node in ast.parse(cell.source).body
                       if isinstance(node, (ast.Assign, ast.AnnAssign))
                       for t in (node.targets if isinstance(node, ast.Assign)
                                 else [node.target])]
            return tuple(t.id for t in targets if isinstance(t, ast.Name))
    return ()


def _settings_value(text: str, profile: str) -> dict | None:
    """``-p settings TEXT``: a YAML mapping of changes to the profile's settings that
    :meth:`rc.config.Profile.replace` accepts, or a one-line error."""
    import yaml

    from rc.config import get_profile

    example = "e.g. -p settings '{n_iters: 20}'"
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "it cannot be parsed"
        mark = getattr(exc, "problem_mark", None)
        where = f" at column {mark.column + 1}" if mark is not None else ""
        _refuse(f"-p settings {text!r} is not valid YAML ({problem}{where}); give a "
                f"mapping of profile settings, {example}")
    if value is None:  # no changes, as the notebooks' default {}
        return value
    if not isinstance(value, dict):
        _refuse(f"-p settings {text!r}: give a mapping of profile settings, {example}; "
                f"got {value!r}")
    try:
        get_profile(profile).replace(**{str(k): v for k, v in value.items()})
    except (TypeError, ValueError) as exc:
        _refuse(f"-p settings {text!r}: {exc}")
    return value


def _parameter_value(key: str, text: str, profile: str):
    """The value of ``-p KEY TEXT`` as the notebooks take it, or a one-line error that
    names the parameter and the values it accepts."""
    if key == "settings":
        return _settings_value(text, profile)
    value = _parse_value(text)
    if key in ("may_compute", "compute") and not isinstance(value, bool):
        _refuse(f"-p {key} {text!r}: give true (compute what is missing) or false (only "
                f"load stored results)")
    if key == "recompute" and not (isinstance(value, bool) or _is_time(value)):
        _refuse(f"-p recompute {text!r}: give true (recompute every cached result once), "
                f"false, or a UNIX time (recompute what was stored before it)")
    if key == "recompute_before" and not (value is None or _is_time(value)):
        _refuse(f"-p recompute_before {text!r}: give a UNIX time (recompute what was "
                f"stored before it) or null")
    return value


def _is_time(value) -> bool:
    """Whether ``value`` is a UNIX time (a finite number >= 0, not a bool)."""
    return (not isinstance(value, bool) and isinstance(value, (int, float))
            and 0 <= value < float("inf"))


def check_parameters(pairs, names: list[str], profile: str) -> dict:
    """The ``-p`` (key, text) ``pairs`` as the values to inject into notebooks ``names``.

    A key must be assigned by the ``parameters`` cell of one of them
    (:func:`notebook_parameters`) and its value be one they take; anything else stops the
    run with a one-line error (exit status 2) naming the parameter, before any kernel
    starts. A profile setting given as a parameter is pointed to ``settings``.
    """
    import dataclasses

    from rc.config import Profile

    names = names or [n for n in NOTEBOOKS if (NOTEBOOK_DIR / f"{n}.md").exists()]
    known = {key for name in names for key in notebook_parameters(name)} - {"profile"}
    if "recompute_before" in known:  # -p recompute true|TIME sets it (injected_parameters)
        known.add("recompute")
    if "may_compute" in known:  # -p compute true|false, its old name, sets it
        known.add("compute")
    known = sorted(known)
    settings = {f.name for f in dataclasses.fields(Profile)}
    values = {}
    for key, text in pairs:
        if key not in known:
            hint = (f"; {key} is a profile setting: pass it inside settings, e.g. -p "
                    f"settings '{{{key}: {text}}}'" if key in settings else "")
            _refuse(f"-p {key}: not a parameter of the notebooks (they take "
                    f"{', '.join(known)}; --profile chooses the profile){hint}")
        values[key] = _parameter_value(key, text, profile)
    return values


def check_arguments(args: argparse.Namespace) -> None:
    """One-line errors (exit status 2) for arguments that cannot work."""
    fail = _refuse
    if args.compute and args.profile not in ("paper", "full"):
        fail("--compute applies to --profile paper or full only (the others compute)")
    for key, _ in args.parameter:
        if not key.isidentifier():
            fail(f"-p {key!r}: a parameter name must be a Python identifier")
        if key == "profile":
            fail("-p profile: choose the profile with --profile")
    if args.jobs != "auto" and not (args.jobs.isdigit() and int(args.jobs) >= 1):
        fail(f"--jobs {args.jobs!r}: give a whole number of at least 1, or auto")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        fail(f"--out {args.out} is a file, not a folder")


def injected_parameters(profile: str, compute: bool, given: dict) -> dict:
    """What papermill injects into every notebook: the profile, whether it may compute
    what is missing (``may_compute``; ``--compute``), and the checked ``-p`` values
    ``given`` (``-p compute``, the old name of ``may_compute``, sets ``may_compute``)."""
    # may_compute is always injected, so that a launch's RC_PROFILE/RC_COMPUTE in the
    # shell (rc.config.launch) cannot change what the book runs
    parameters = {"profile": profile, "may_compute": True}
    if profile in ("paper", "full") and not compute:
        # the paper and full profiles render from stored results (results/<profile>/,
        # made by `make paper` on a GPU or `make full` over hours on a CPU); a missing
        # result stops the run with a message naming it
        parameters["may_compute"] = False
    given = dict(given)
    if "compute" in given:  # -p compute X: the old name of may_compute
        alias = given.pop("compute")
        given.setdefault("may_compute", alias)
    parameters.update(given)
    recompute = parameters.pop("recompute", False)
    if _is_time(recompute):  # -p recompute TIME: what was stored before TIME
        parameters["recompute_before"] = recompute
    elif recompute is True and parameters.get("recompute_before") is None:
        # one point in time for all notebooks: each cached result is recomputed once per
        # run, not once per notebook that uses it (see rc.cache.Cache)
        parameters["recompute_before"] = time.time()
    return parameters
