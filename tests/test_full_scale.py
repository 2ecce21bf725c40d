"""The committed full-scale results (results/full): never stale, never made up.

* every committed entry is one that today's code asks for (its recorded inputs equal
  what the code would compute them from), so a change of meaning needs a recompute
  before it lands;
* a cheap committed DAE retrained from scratch has the stored weights bit for bit;
* RC re-run with a stored DAE reproduces the stored per-image scores.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import rc
from rc import protocol
from rc.beyond import robustness
from rc.cache import Cache
from rc.paper import full_scale
from rc.pipeline import evaluate, results_dir
from rc.storage import REPO, read_json, read_npz

ROOT = results_dir() / full_scale.PROFILE
#: Megabytes (10**6 bytes) the committed full-scale results may hold (the issue's limit).
LIMIT_MB = 50


def _committable(paths: list[Path]) -> list[Path]:
    """``paths`` without those git ignores (the extra seeds' weights of a local run)."""
    if not paths:
        return []
    done = subprocess.run(["git", "check-ignore", "--stdin"], cwd=REPO, text=True,
                          input="\n".join(map(str, paths)), capture_output=True)
    ignored = {Path(line) for line in done.stdout.splitlines()}
    return [p for p in paths if p not in ignored]


ENTRIES = _committable(sorted(
    p for p in ROOT.rglob("*") if p.is_file() and p.suffix in (".npz", ".json")
    and p.name not in ("provenance.json", "scorecard.json")))

pytestmark = pytest.mark.skipif(not ENTRIES, reason=f"no full-scale results in {ROOT}")


def _record(path):
    if path.suffix == ".json":
        return read_json(path)["record"]
    return read_npz(path)[1]["record"]


@pytest.fixture(scope="module")
def requested():
    """(name, file) of every entry that the full profile's protocol asks for (each
    step's stored-or-not check looks up exactly what the step needs)."""
    seen = set()
    original = Cache.path

    def recording(self, name, inputs, kind=dict):
        path = original(self, name, inputs, kind)
        seen.add((name, path.name))
        return path

    Cache.path = recording
    try:
        pipe = full_scale.pipeline()
        for step in protocol.plan(pipe):
            step.done()
        robustness.compute(pipe, partial=True)  # the spreads' seeds stored so far
    finally:
        Cache.path = original
    return seen


def test_every_committed_entry_is_asked_for_by_todays_code(requested):
    names = {path for _, path in requested}
    stale = [str(p.relative_to(ROOT)) for p in ENTRIES if p.name not in names]
    assert not stale, (f"{len(stale)} committed full-scale entries are not what today's code "
                       f"computes (recompute them with `make full`): {stale[:5]}")


def test_committed_entries_record_their_own_key():
    for path in ENTRIES:
        record = _record(path)
        assert path.name.split(".")[-2] == record["key"][:16], path


def test_retraining_a_committed_dae_gives_its_weights_bit_for_bit():
    again = full_scale.retrain("bars", 1)  # what `make full-retrain` runs
    assert again.identical, again.report()
    assert again.epochs[0] == again.epochs[1] and again.score[0] == again.score[1]
    assert "identical weights, bit for bit" in again.report()


def test_rc_with_a_stored_dae_reproduces_the_stored_scores():
    pipe = full_scale.pipeline()
    spec = pipe.eval_spec("shapes", 1)
    stored = pipe.evaluate(spec)
    images, groups = pipe.load(spec.data)
    n = 50
    again = evaluate(spec, pipe.trained(spec.training).dae, images[:n], groups[:n])
    # the same random starts per image (one stream per image): the same clusters, up to
    # float rounding of the batched products
    np.testing.assert_allclose(again.ami, stored.ami[:n], atol=1e-6)
    np.testing.assert_allclose(again.confidence, stored.confidence[:n], atol=1e-5)


def test_stored_full_scale_results_fit_the_size_limit():
    """The issue's limit. The eleven table DAEs' weights take 33 MB; the first RC start of
    each evaluation keeps its per-iteration trajectories (the figures draw them), every
    repeat (other RC starts, other trainings) only its final scores
    (:class:`rc.pipeline.FinalScores`)."""
    files = _committable(sorted(p for p in ROOT.rglob("*") if p.is_file()
                                and not rc.storage.is_temporary(p)))
    size = sum(p.stat().st_size for p in files)
    assert size <= LIMIT_MB * 10**6, (f"results/full holds {size / 10**6:.2f} MB "
                                      f"(limit {LIMIT_MB} MB)")


def test_the_full_scale_caption_names_its_origin():
    text = full_scale.caption()
    assert "make full" in text
    assert rc.get_profile("full").tables_from_search is False
