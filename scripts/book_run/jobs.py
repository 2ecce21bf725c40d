"""How the notebooks of a run are scheduled: how many at a time (two only when the last run
of the same code stored everything), in which order, each in a worker process."""
from __future__ import annotations

import json
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from .book import NOTEBOOK_DIR, REPO
from .execution import NotebookFailed, execute_job
from .record import cache_state, usable_cores


def code_digest() -> str:
    """SHA-256 of the code that determines the notebooks' results and outputs: the
    library (``rc/**/*.py``) and the notebooks (``notebooks/*.md``)."""
    import hashlib

    digest = hashlib.sha256()
    files = sorted([*(REPO / "rc").rglob("*.py"), *NOTEBOOK_DIR.glob("*.md")])
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _last_run(record_path: Path, names: list[str], parameters: dict,
              caches: dict) -> dict | None:
    """The last recorded run of the same notebooks (or more) and parameters with the
    same data and results folders, if the record holds one."""
    try:
        runs = json.loads(record_path.read_text())["runs"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    folders = {k: v.get("folder") for k, v in caches.items()}
    for run in reversed(runs):
        if (run.get("parameters") == parameters
                and {k: v.get("folder") for k, v in run.get("caches", {}).items()} == folders
                and set(names) <= {nb.get("name") for nb in run.get("notebooks", [])}):
            return run
    return None


def choose_jobs(requested: str, last: dict | None, code: str, caches: dict
                ) -> tuple[int, str]:
    """How many notebooks to run at a time, and why (``--jobs``; see run_book.py's text).

    ``auto`` runs two at a time when the last run of these notebooks (``last``) finished
    with the same code (``code``, :func:`code_digest`): everything it computed is stored
    under the same keys, so this run only loads. Otherwise one at a time.
    """
    if requested != "auto":
        return int(requested), "as asked (--jobs)"
    if usable_cores() < 2:
        return 1, "one core"
    if caches["results"]["cold"]:
        return 1, "the results cache is empty"
    if last is None or last.get("status") != "ok":
        return 1, "no finished run of these notebooks and parameters is recorded here"
    if last.get("code") != code:
        return 1, f"the code changed since the last run ({last.get('date')})"
    return 2, (f"the last run ({last.get('date')}) finished with the same code: its "
               "results are stored")


def _longest_first(names: list[str], last: dict | None) -> list[str]:
    """``names`` with the notebooks that took longest in the ``last`` run first (those
    without a time keep their book order, first)."""
    seconds = {nb["name"]: nb.get("seconds") or 0.0 for nb in (last or {}).get("notebooks", [])}
    return sorted(names, key=lambda n: -seconds.get(n, float("inf")))


@dataclass(frozen=True)
class Schedule:
    """How a run executes its notebooks, and what decided it."""

    jobs: int            # notebooks at a time
    why: str             # the reason, for the log
    order: list[str]     # the order they start in
    caches: dict         # the caches' state (cache_state), which the time record keeps
    code: str            # code_digest() of this checkout


def schedule(names: list[str], parameters: dict, requested: str, profile: str,
             record_path: Path) -> Schedule:
    """How to execute the notebooks ``names`` (``--jobs`` ``requested``), from the state of
    the profile's caches, this code and the last run in the time record at ``record_path``."""
    caches, code = cache_state(profile), code_digest()
    last = _last_run(record_path, names, parameters, caches)
    jobs, why = choose_jobs(requested, last, code, caches)
    order = names if jobs == 1 else _longest_first(names, last)
    return Schedule(jobs, why, order, caches, code)


@dataclass
class Progress:
    """What the notebooks of a run have done so far, filled in as they finish."""

    seconds: dict[str, float] = field(default_factory=dict)  # of each finished notebook
    failed: tuple[str, Exception] | None = None              # the first that failed, and why


def run_jobs(plan: Schedule, out_dir: Path, parameters: dict, run_dir: Path,
             progress: Progress) -> None:
    """Execute the notebooks of ``plan`` into ``out_dir``, ``plan.jobs`` at a time in worker
    processes, recording in ``progress`` each one that finishes; a failure starts no
    other notebook."""
    from tqdm.auto import tqdm

    with ProcessPoolExecutor(max_workers=plan.jobs,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(execute_job, name, out_dir, parameters, run_dir): name
                   for name in plan.order}
        bar = tqdm(total=len(plan.order), desc="notebooks", unit="nb", file=sys.stdout)
        for future in as_completed(futures):
            name = futures[future]
            try:
                progress.seconds[name] = future.result()
            except Exception as exc:  # noqa: BLE001 - reported by the caller, in one line
                if not isinstance(exc, NotebookFailed):
                    exc = NotebookFailed(f"notebook {name} could not be executed: "
                                         f"{type(exc).__name__}: {exc}")
                progress.failed = progress.failed or (name, exc)
                for other in futures:  # a failure stops the run: start no other
                    other.cancel()
                continue
            bar.update()
            tqdm.write(f"  {name}: {progress.seconds[name]:.1f} s", file=sys.stdout)
        bar.close()
