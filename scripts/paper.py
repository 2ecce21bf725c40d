#!/usr/bin/env python
"""Run the paper's whole protocol (or what is missing of it) within a time budget.

The ``paper`` profile's random searches, loss-vs-score study, table DAEs, every figure's
RC runs and the scorecard, in resumable steps (``rc.protocol``): every finished result is
stored under ``results/<profile>/`` at once, the run stops before ``--budget-seconds``,
and the next run goes on where it stopped. Meant for a GPU (``make paper``); any profile
works, e.g. ``--profile ci`` for a dry run of the same code on a CPU.

Examples::

    python scripts/paper.py --budget-seconds 420            # the paper profile
    python scripts/paper.py --status                        # what is done, what is left
    python scripts/paper.py --profile ci --budget-seconds 60
    python scripts/paper.py --profile full --retrain bars:1   # check a stored DAE
    python scripts/paper.py --profile ci --scheduler local:2  # on a LocalCluster
    python scripts/paper.py --scheduler tcp://node:8786       # on a running scheduler

A bad argument (a budget that is not a positive finite number, an unknown device, a
projection rate of zero) ends with a one-line error and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rc  # noqa: E402
from rc import protocol  # noqa: E402
from rc.dae import resolve_device  # noqa: E402
from rc.storage import git_commit  # noqa: E402

git_commit()  # results record the commit checked out now, not one made while this runs


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2 (argparse adds the usage)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(minimum: float, strict: bool):
    """An argparse type: a finite float > minimum (``strict``) or >= minimum."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(
                f"must be a finite number {'>' if strict else '>='} {minimum:g}; got {text!r}")
        return value
    return parse


def _settings(text: str) -> dict:
    """An argparse type: a JSON object of profile settings."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object; got {text!r}")
    return value


def _scheduler(text: str) -> str | int | None:
    """An argparse type: none, local:N or a scheduler's address (rc.cluster)."""
    from rc.cluster import parse_scheduler

    try:
        return parse_scheduler(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _table_dae(text: str) -> tuple[str, int]:
    """An argparse type: DATASET:TABLE, e.g. bars:1, naming a table DAE of the paper."""
    dataset, _, table = text.partition(":")
    try:
        rc.experiments.check_table(dataset, int(table))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected DATASET:TABLE with a table DAE of the paper (e.g. bars:1); got "
            f"{text!r}" + ("" if not table.strip().isdigit() else f" ({exc})")) from None
    return dataset, int(table)


def _status(results) -> None:
    """Print every step of the plan with its units done and the training left; a stored
    file that cannot be used is named (with what is wrong) below the first step that
    met it, and the steps that need it say so."""
    rows, named = [], set()
    for step in protocol.plan(results):
        try:  # a stored file that cannot be used is named below its step; never crash
            state = step.check(results)
            damaged = state.damaged
            rows.append((step.name, state.n_done, step.units, state.flop))
        except Exception as exc:  # noqa: BLE001
            print(f"  {step.name:48s} {'?':>9s}  cannot tell ({type(exc).__name__}: "
                  f"{exc})")
            continue
        name, done, units, flop = rows[-1]
        mark = "done" if done == units else f"{done}/{units}"
        again = [n for n in damaged if n in named]  # a file met again: named once
        damaged = [n for n in damaged if n not in named]
        named.update(damaged)
        print(f"  {name:48s} {mark:>9s}  ~{flop / 1e12:9.1f} TFLOP left"
              + (f"  ({len(damaged)} damaged, below)" if damaged else "")
              + (f"  (needs {len(again)} damaged file{'s' if len(again) > 1 else ''} above)"
                 if again else ""))
        for note in damaged:
            print(f"      damaged: {note}")
    done = sum(r[1] for r in rows)
    total = sum(r[2] for r in rows)
    print(f"{done}/{total} results"
          + (f"; {len(named)} stored file{'s' if len(named) > 1 else ''} cannot be used "
             f"(named above; the next run computes {'them' if len(named) > 1 else 'it'} "
             f"again)" if named else "")
          + f"; ~{sum(r[3] for r in rows) / 1e12:.1f} TFLOP of training left "
            f"(cost model: rc.protocol)")
    for entry, progress in protocol.unfinished_trainings(results):
        print(f"unfinished training {entry}: " + (
            "checkpoint unreadable (remove it to train from the start)" if progress is None
            else f"epoch {progress['epoch']} done, {progress['seconds'] / 60:.0f} min "
                 f"trained, best epoch {progress['best_epoch']}; the next run resumes it"))


def _run(results, budget_seconds, progress: bool, scheduler) -> dict:
    """The protocol, in this process or on a Dask cluster."""
    if scheduler is None:
        return protocol.run(results, budget_seconds, progress=progress)
    from rc.cluster import Cluster

    with Cluster(scheduler, gpu=results.device.type == "cuda") as cluster:
        return protocol.run(results, budget_seconds, progress=progress, cluster=cluster)


def _parser() -> _Parser:
    """The command line of this script."""
    ap = _Parser(description=__doc__.split("\n\n")[0],
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="paper", choices=sorted(rc.PROFILES))
    ap.add_argument("--budget-seconds", type=_number(0, strict=True), default=None,
                    help="stop before this many seconds (default: no limit)")
    ap.add_argument("--device", default=None, help="cpu, cuda, ... (default: CUDA if any)")
    ap.add_argument("--grouping", default="architecture", choices=rc.training.GROUPINGS,
                    help="how search runs share batched products (GPU: fewer groups)")
    ap.add_argument("--tf32", action="store_true",
                    help="allow TF32 matrix products on the GPU (recorded in provenance)")
    ap.add_argument("--status", action="store_true", help="print the plan's state and exit")
    ap.add_argument("--project", nargs=2, type=_number(0, strict=False),
                    metavar=("TFLOPS", "STEP_US"),
                    help="print the projected training time at TFLOPS and a minimum of "
                         "STEP_US microseconds per minibatch step (kernel launches), per "
                         "grouping, and exit")
    ap.add_argument("--retrain", type=_table_dae, action="append", default=[],
                    metavar="DATASET:TABLE",
                    help="train a stored table DAE of the full profile again and compare "
                         "(weights, epochs, score); nothing is written. Repeatable")
    ap.add_argument("--scheduler", type=_scheduler, default=None,
                    help="where the heavy tasks run: none (this process, the default), "
                         "local:N (a Dask LocalCluster of N workers) or the address of a "
                         "running Dask scheduler, e.g. tcp://host:8786 (see the README)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    ap.add_argument("--settings", type=_settings, default={},
                    help="changes to the profile as a JSON object, e.g. "
                         "'{\"datasets\": [\"shapes\"]}' (rc.config.Profile.replace)")
    return ap


def _device(ap: _Parser, name: str | None):
    """The torch device that ``--device`` names (a one-line error if none)."""
    try:
        return resolve_device(name)
    except ValueError as exc:
        ap.error(f"argument --device: {exc}")


def _allow_tf32() -> None:
    """Let the GPU's matrix products use TF32 (``--tf32``)."""
    import torch
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


def _pipeline(ap: _Parser, args: argparse.Namespace, device) -> rc.Results:
    """The pipeline of ``--profile`` with ``--settings`` (a one-line error if they do not
    fit)."""
    try:
        return rc.Results(args.profile, device=device, progress=False,
                          grouping=args.grouping, settings=args.settings)
    except ValueError as exc:
        ap.error(f"argument --settings: {exc}")


def _print_projection(results, tflops: float, step_us: float) -> None:
    """Print the projected training time of every grouping (``--project``)."""
    for grouping in rc.training.GROUPINGS:
        parts = protocol.project(results, tflops, step_us * 1e-6, grouping)
        print(f"grouping {grouping:12s}: {sum(parts.values()):8.0f} s of training "
              f"(at {tflops:g} TFLOP/s, >= {step_us:g} us per step)")
        for name, seconds in sorted(parts.items(), key=lambda kv: -kv[1])[:5]:
            print(f"    {name:44s} {seconds:8.1f} s")


def _retrain(ap: _Parser, args: argparse.Namespace, device) -> None:
    """Train the table DAEs of ``--retrain`` again and print how they compare with the
    stored ones."""
    from rc.paper import full_scale

    if args.profile != full_scale.PROFILE:
        ap.error(f"argument --retrain: compares the stored DAEs of --profile "
                 f"{full_scale.PROFILE}; got --profile {args.profile}")
    for dataset, table in args.retrain:
        print(full_scale.retrain(dataset, table, device, progress=not args.quiet).report())


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    args = ap.parse_args(argv)
    if args.project and args.project[0] <= 0:
        ap.error(f"argument --project: TFLOPS must be > 0; got {args.project[0]:g}")
    device = _device(ap, args.device)
    if args.tf32:
        _allow_tf32()
    results = _pipeline(ap, args, device)
    if args.project:
        _print_projection(results, *args.project)
        return 0
    if args.retrain:
        _retrain(ap, args, device)
        return 0
    if args.status:
        _status(results)
        return 0
    if args.budget_seconds is not None and args.budget_seconds <= protocol.MARGIN:
        ap.error(f"argument --budget-seconds: must be more than the {protocol.MARGIN:g} s "
                 f"kept back for writing the record; got {args.budget_seconds:g}")
    record = _run(results, args.budget_seconds, not args.quiet, args.scheduler)
    print(f"protocol_wall_seconds={record['protocol_wall_seconds']} "
          f"complete={record['complete']} results={record['units_done']}/"
          f"{record['units_total']}")
    return 0

if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. `| head`)
        sys.stderr.close()
        sys.exit(0)
