"""Nothing served that was not computed, no run that breaks another (issue 19).

Stored values checked on loading (digest, types, shapes), the protocol's record written as
it goes and never silently reset, no stray temporary files, every bad input at a public
boundary a clear error or a documented result; the slow tests kill a ci protocol run at
random points and run two at once (on copies of the shared ci world less one data set,
tests/conftest.py), and compare every entry with an uninterrupted run (the world).
"""
import dataclasses
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import copy_world_less_one_dataset

import rc
from rc import protocol
from rc.cache import Cache, CacheWarning, MissingResultError, value_digest
from rc.config import PROFILES
from rc.data_cache import _Split
from rc.pipeline import Evaluation, SearchRun, TrainedDAE
from rc.storage import (
    CorruptFileError,
    atomic_write,
    is_temporary,
    read_checked_json,
    read_json,
    read_npz,
    remove_stale_temporaries,
    write_checked_json,
    write_json,
    write_npz,
)
from rc.training import TrainHistory

REPO = Path(__file__).resolve().parent.parent
PAPER_PY = str(REPO / "scripts" / "paper.py")


# ------------------------------------------------------------------------------ helpers
def evaluation(n=4, t=3, **changes) -> Evaluation:
    rng = np.random.default_rng(0)
    fields = dict(ami=rng.random((n, t + 1)), confidence=rng.random((n, t + 1)),
                  log_likelihood=-rng.random((n, 2 * t + 1)), ari=rng.random(n),
                  ami_arithmetic=rng.random(n), dataset="bars", k=12, e_step="soft",
                  average_method="max", dae="bars-x", provenance={"seconds": 1.0})
    return Evaluation(**{**fields, **changes})


def search_run(**changes) -> SearchRun:
    fields = dict(run=0, kind="search", dataset="bars", table=1,
                  config={"learning_rate": 0.1, "n_hidden": 50, "activation": "relu",
                          "noise": 0.1},
                  seed=3, score=0.75, best_val_loss=12.5, epochs=4, best_epoch=3,
                  stopped="max epochs", train_seconds=1.5, rc_seconds=0.5, n_images=200,
                  n_test=24, provenance={}, val_score=0.7, n_val=16)
    return SearchRun(**{**fields, **changes})


def rewrite_json_value(path: Path, edit) -> None:
    """Change the value of a JSON entry and store a digest that matches the change (so
    that only the type and shape checks can catch it)."""
    doc = read_json(path)
    edit(doc["value"])
    doc["digest"] = value_digest(doc["value"])
    write_json(path, doc)


def rewrite_npz(path: Path, edit) -> None:
    """Change the arrays or fields of an ``.npz`` entry, with a matching digest."""
    arrays, doc = read_npz(path)
    edit(arrays, doc["fields"])
    doc["digest"] = value_digest(doc["fields"], arrays)
    write_npz(path, arrays, doc)


@contextmanager
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---------------------------------------------------------------------- 1. checked values
def test_an_edited_digit_is_detected_and_recomputed(tmp_path):
    """The issue's first probe: one digit of a stored score changed by hand."""
    cache = Cache(tmp_path)
    cache.store("search/x", {"i": 1}, search_run(score=0.75), SearchRun)
    path = cache.path("search/x", {"i": 1}, SearchRun)
    path.write_text(path.read_text().replace('"score": 0.75', '"score": 0.95'))
    with pytest.warns(CacheWarning, match=f"{path.name}.*does not match the digest"):
        value = cache.get_or_compute("search/x", {"i": 1}, lambda: search_run(score=0.5), SearchRun)
    assert value.score == 0.5


@pytest.mark.parametrize("field, bad", [("score", "0.75"), ("epochs", 2.5), ("run", None),
                                        ("stopped", 3), ("config", [1, 2]),
                                        ("val_score", "n/a")])
def test_a_search_run_of_the_wrong_type_is_unusable(tmp_path, field, bad):
    cache = Cache(tmp_path)
    cache.store("search/x", {"i": 1}, search_run(), SearchRun)
    path = cache.path("search/x", {"i": 1}, SearchRun)
    rewrite_json_value(path, lambda v: v.__setitem__(field, bad))
    with pytest.warns(CacheWarning, match=rf"{path.name} is unreadable.*SearchRun\.{field}"):
        assert cache.load("search/x", {"i": 1}, SearchRun) is None
    strict = Cache(tmp_path, may_compute=False, hint="run `python scripts/paper.py`")
    with pytest.raises(MissingResultError,
                       match=rf"{path.name}.*{field}.*python scripts/paper"):
        strict.get_or_compute("search/x", {"i": 1}, lambda: pytest.fail("computed"), SearchRun)
    assert not cache.has("search/x", {"i": 1}, SearchRun)
    # a missing or unknown field, and a value that is not a record at all
    for edit in (lambda v: v.pop("score"), lambda v: v.__setitem__("extra", 1)):
        cache.store("search/x", {"i": 1}, search_run(), SearchRun)
        rewrite_json_value(path, edit)
        with pytest.warns(CacheWarning, match="unreadable"):
            assert cache.load("search/x", {"i": 1}, SearchRun) is None
    doc = read_json(path)
    doc["value"], doc["digest"] = [1, 2], value_digest([1, 2])
    write_json(path, doc)
    with pytest.warns(CacheWarning, match="holds a list"):
        assert cache.load("search/x", {"i": 1}, SearchRun) is None


@pytest.mark.parametrize("edit, message", [
    (lambda a, f: a.__setitem__("ami", a["ami"][:, :2]), r"confidence has shape"),
    (lambda a, f: a.__setitem__("ari", a["ari"][:3]), r"ari has shape \(3,\)"),
    (lambda a, f: a.__setitem__("ami", a["ami"][0]), r"ami should have 2 dimension"),
    (lambda a, f: a.__setitem__("ami", a["ami"].astype(str)), r"ami should be"),
    (lambda a, f: f.__setitem__("k", "twelve"), r"k should be int"),
    (lambda a, f: f.__setitem__("dataset", 7), r"dataset should be str"),
    (lambda a, f: a.pop("ari"), r"lacks \['ari'\]"),
])
def test_an_evaluation_of_the_wrong_shape_or_type_is_unusable(tmp_path, edit, message):
    cache = Cache(tmp_path)
    good = evaluation()
    cache.store("rc/x", {"i": 1}, good, Evaluation)
    path = cache.path("rc/x", {"i": 1}, Evaluation)
    rewrite_npz(path, edit)
    with pytest.warns(CacheWarning, match=message):
        value = cache.get_or_compute("rc/x", {"i": 1}, lambda: good, Evaluation)
    assert value is good
    with no_warnings():  # repaired
        np.testing.assert_array_equal(Cache(tmp_path).load("rc/x", {"i": 1}, Evaluation).ami,
                                      good.ami)


def test_a_trained_dae_with_a_bad_history_or_weights_is_unusable(tmp_path):
    cache = Cache(tmp_path)
    dae = rc.DAE(16, 4, "relu", seed=0)
    hist = TrainHistory(train_loss=[math.nan, 1.0], val_loss=[2.0, 1.5], best_epoch=1,
                        best_val_loss=1.5, epochs=1, seconds=0.1, stopped="max epochs")
    cache.store("dae/x", {"i": 1}, TrainedDAE(dae, hist, {}), TrainedDAE)
    path = cache.path("dae/x", {"i": 1}, TrainedDAE)
    with no_warnings():
        loaded = cache.load("dae/x", {"i": 1}, TrainedDAE)
    assert loaded.history.train_loss[1] == 1.0 and math.isnan(loaded.history.train_loss[0])
    rewrite_npz(path, lambda a, f: f["history"].__setitem__("best_val_loss", "low"))
    with pytest.warns(CacheWarning, match=r"history\.best_val_loss should be float"):
        assert cache.load("dae/x", {"i": 1}, TrainedDAE) is None
    cache.store("dae/x", {"i": 1}, TrainedDAE(dae, hist, {}), TrainedDAE)
    rewrite_npz(path, lambda a, f: a.__setitem__("encoder.weight", a["encoder.weight"][:2]))
    with pytest.warns(CacheWarning, match="unreadable"):
        assert cache.load("dae/x", {"i": 1}, TrainedDAE) is None


def test_every_stored_result_class_declares_what_is_checked():
    """The one mechanism: field types from the annotations, shapes from rc._checks.checked_field."""
    from rc._checks import check_fields
    from rc.beyond.conv import ConvScores
    from rc.beyond.rc_training import Scores
    from rc.paper.fig1c import Predictability
    from rc.paper.fig5 import ExampleRuns
    from rc.paper.fig7 import NovelObjects

    for cls in (Evaluation, Predictability, ExampleRuns, NovelObjects, Scores, ConvScores,
                _Split):
        assert any(f.metadata.get("dims") for f in dataclasses.fields(cls)), cls
    runs = ExampleRuns(np.arange(2), np.arange(2), np.zeros((2, 5, 5)), np.zeros((2, 5, 5)),
                       np.full((4, 2, 5, 5, 3), 1 / 3), np.zeros((2, 7)), np.zeros((2, 4)), {})
    check_fields(runs)
    bad = dataclasses.replace(runs, gamma_history=np.full((4, 2, 5, 6, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"gamma_history has shape .*dimension 3 should be 5"):
        check_fields(bad)
    nan = dataclasses.replace(runs, gamma_history=np.full((4, 2, 5, 5, 3), np.nan))
    with pytest.raises(ValueError, match="gamma_history should be finite"):
        check_fields(nan)
    with pytest.raises(ValueError, match=r"Scores\.epochs should be int"):
        check_fields(Scores(np.zeros(3), np.zeros(3), "4", {}))


def test_the_data_cache_checks_its_splits(tmp_path, monkeypatch):
    """A generated data set stored with the wrong size is regenerated, with a warning."""
    monkeypatch.setenv("RC_DATA", str(tmp_path))
    images, groups = rc.load_dataset("simple_superposition", "test")  # the whole split
    path = rc.datasets.cache_path("simple_superposition", "test")
    rewrite_npz(path, lambda a, f: (a.__setitem__("images", a["images"][:100]),
                                    a.__setitem__("groups", a["groups"][:100])))
    rc.data_cache._memo.clear()  # the process keeps what it has read: forget it
    with pytest.warns(CacheWarning, match=r"images has shape \(100, 8, 8\); its dimension "
                                          r"0 should be 120"):
        again = rc.load_dataset("simple_superposition", "test")
    np.testing.assert_array_equal(again[0], images)
    rc.data_cache._memo.clear()
    with no_warnings():
        assert rc.load_dataset("simple_superposition", "test", n=5)[0].shape == (5, 8, 8)
    rc.data_cache._memo.clear()
    path.write_bytes(path.read_bytes()[:-7])  # a flipped or lost byte: the digest
    with pytest.warns(CacheWarning, match="unreadable"):
        np.testing.assert_array_equal(rc.load_dataset("simple_superposition", "test")[1],
                                      groups)


def test_checked_json_detects_edits_truncation_and_a_missing_digest(tmp_path):
    path = tmp_path / "card.json"
    write_checked_json(path, {"claims": [{"id": "a", "ours": 0.5}]})
    assert read_checked_json(path) == {"claims": [{"id": "a", "ours": 0.5}]}
    text = path.read_text()
    path.write_text(text.replace("0.5", "0.6"))
    with pytest.raises(CorruptFileError, match="does not match its digest"):
        read_checked_json(path)
    path.write_text(text[: len(text) // 2])
    with pytest.raises(CorruptFileError, match="not valid JSON"):
        read_checked_json(path)
    write_json(path, {"claims": []})
    with pytest.raises(CorruptFileError, match="no digest"):
        read_checked_json(path)
    assert read_checked_json(path, require_digest=False) == {"claims": []}
    write_json(path, [1, 2])
    with pytest.raises(CorruptFileError, match="JSON object"):
        read_checked_json(path)


def _same(a, b) -> bool:
    """Whether two stored results hold the same values (NaN equal to NaN)."""
    if isinstance(a, TrainedDAE):
        return repr(a.history) == repr(b.history) and all(
            torch.equal(x, y) for x, y in zip(a.dae.state_dict().values(),
                                              b.dae.state_dict().values()))
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            if not (x.shape == y.shape and x.dtype == y.dtype
                    and np.array_equal(x, y, equal_nan=True)):
                return False
        elif repr(x) != repr(y):
            return False
    return True


def _flipped(good: bytes, rng: random.Random) -> bytes:
    data = bytearray(good)
    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def test_a_flipped_bit_never_serves_a_wrong_value(tmp_path):
    """Random single-bit flips in every kind of stored file: each is detected (the entry
    is recomputed, the record set aside, the scorecard rebuilt) or leaves the value as it
    was (a bit of zip metadata that nothing reads, e.g. a time stamp)."""
    rng = random.Random(5)
    cache = Cache(tmp_path)
    hist = TrainHistory([math.nan, 1.0], [2.0, 1.5], 1, 1.5, 1, 0.1, "max epochs")
    values = {"search/x": (SearchRun, search_run()), "rc/x": (Evaluation, evaluation(20, 5)),
              "dae/x": (TrainedDAE, TrainedDAE(rc.DAE(16, 4, "relu", seed=0), hist, {})),
              "data/x": (_Split, _Split(np.ones((9, 8, 8), np.uint8),
                                        np.zeros((9, 8, 8), np.uint8)))}
    for name, (kind, value) in values.items():
        path = cache.store(name, {"i": 1}, value, kind)
        good, ref = path.read_bytes(), cache.load(name, {"i": 1}, kind)
        detected = 0
        for _ in range(60):
            path.write_bytes(_flipped(good, rng))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CacheWarning)
                got = cache.load(name, {"i": 1}, kind)
            detected += got is None
            assert got is None or _same(got, ref), name
        assert detected >= 40, (name, detected)
    card = tmp_path / "scorecard.json"
    write_checked_json(card, {"claims": [{"id": "a", "ours": 0.5}]})
    good = card.read_bytes()
    for _ in range(60):
        card.write_bytes(_flipped(good, rng))
        with pytest.raises((CorruptFileError, OSError)):
            read_checked_json(card)
    record = tmp_path / "prov" / "provenance.json"
    write_checked_json(record, {"sessions": [{"id": "1", "chunks": [{"seconds": 1.5}]}],
                                "complete": False})
    good = record.read_bytes()
    for _ in range(60):
        record.write_bytes(_flipped(good, rng))
        with pytest.warns(CacheWarning, match="kept as provenance.json.corrupt-"):
            assert protocol._read_record(record)["sessions"] == []
        for aside in record.parent.glob("*.corrupt-*"):
            aside.unlink()


# ---------------------------------------------------------------------- 2. the run record
class FakePlan:
    """Steps that record what ran; ``fail`` makes one step raise."""

    def __init__(self, n=3, fail=None, incomplete=None):
        self.state = [0] * n
        self.fail, self.incomplete = fail, incomplete

    def steps(self, results):
        def make(i):
            def run():
                if i == self.fail:
                    raise KeyboardInterrupt
                if i != self.incomplete:
                    self.state[i] = 1
            return protocol.Step(f"step {i}", [], run, current=lambda: self.state[i])
        return [make(i) for i in range(len(self.state))]


def fake_pipe(tmp_path):
    return rc.Results("ci", progress=False, root=tmp_path, device="cpu")


def test_the_record_is_written_after_every_step_and_survives_an_interruption(
        tmp_path, monkeypatch):
    plan = FakePlan(fail=1)
    monkeypatch.setattr(protocol, "plan", plan.steps)
    results = fake_pipe(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        protocol.run(results, progress=False, log=lambda s: None)
    record = read_checked_json(tmp_path / "ci" / "provenance.json")
    (session,) = record["sessions"]
    assert session["finished"] is False
    assert [c["step"] for c in session["chunks"]] == ["step 0", "step 1"]
    assert "KeyboardInterrupt" in session["chunks"][1]["interrupted"]
    assert record["complete"] is False and record["steps_done"] == 1
    plan.fail = None
    second = protocol.run(fake_pipe(tmp_path), progress=False, log=lambda s: None)
    assert second["complete"] is True and len(second["sessions"]) == 2
    assert second["sessions"][1]["finished"] is True


def test_complete_only_when_every_step_is_done(tmp_path, monkeypatch):
    monkeypatch.setattr(protocol, "plan", FakePlan(incomplete=2).steps)
    record = protocol.run(fake_pipe(tmp_path), progress=False, log=lambda s: None)
    assert record["complete"] is False and record["steps_done"] == 2
    assert record["steps_total"] == 3


@pytest.mark.parametrize("damage", ["truncate", "digit", "no sessions", "not json"])
def test_a_corrupt_record_is_kept_aside_never_reset(tmp_path, monkeypatch, damage):
    monkeypatch.setattr(protocol, "plan", FakePlan().steps)
    protocol.run(fake_pipe(tmp_path), progress=False, log=lambda s: None)
    path = tmp_path / "ci" / "provenance.json"
    text = path.read_text()
    broken = {"truncate": text[: len(text) // 2],
              "digit": text.replace('"steps_total": 3', '"steps_total": 4'),
              "no sessions": json.dumps({"sessions": "lost"}),
              "not json": "\x00\x01"}[damage]
    path.write_text(broken)
    monkeypatch.setattr(protocol, "plan", FakePlan().steps)
    with pytest.warns(CacheWarning, match=r"provenance\.json could not be used.*kept as "
                                          r"provenance\.json\.corrupt-"):
        record = protocol.run(fake_pipe(tmp_path), progress=False, log=lambda s: None)
    (aside,) = (tmp_path / "ci").glob("provenance.json.corrupt-*")
    assert aside.read_text() == broken  # kept as it was
    assert record["set_aside"] == [aside.name] and len(record["sessions"]) == 1
    with no_warnings():  # the new record reads back and keeps naming the old one
        again = protocol.run(fake_pipe(tmp_path), progress=False, log=lambda s: None)
    assert again["set_aside"] == [aside.name] and len(again["sessions"]) == 2


def test_a_record_from_before_digests_is_kept(tmp_path, monkeypatch):
    path = tmp_path / "ci" / "provenance.json"
    old = {"sessions": [{"started": "2025-01-01T00:00:00", "chunks": [
        {"step": "a", "seconds": 3.0}]}], "complete": False}
    write_json(path, old)
    monkeypatch.setattr(protocol, "plan", FakePlan().steps)
    with no_warnings():
        record = protocol.run(fake_pipe(tmp_path), progress=False, log=lambda s: None)
    assert len(record["sessions"]) == 2 and record["protocol_wall_seconds"] >= 3.0
    # a record without a digest but with a part no version wrote (a flipped "digest" key)
    write_json(path, {**old, "digesu": "0" * 64})
    with pytest.warns(CacheWarning, match=r"unknown parts \['digesu'\]"):
        assert protocol._read_record(path)["sessions"] == []


@pytest.mark.parametrize("damage", ["truncate", "digit", "empty", "no digest"])
def test_a_corrupt_scorecard_is_not_done(tmp_path, monkeypatch, damage):
    """A scorecard is current when it reads back and holds what the stored results give
    (by content; file times do not count: tests/test_damage.py shuffles them)."""
    from rc import scorecard
    from rc.claims import score_at_least

    results = fake_pipe(tmp_path)
    card = scorecard.Scorecard({"name": "ci"}, [score_at_least("a", "T", "a score", 0.2,
                                                                0.25)], {})
    monkeypatch.setattr(scorecard, "collect", lambda p: card)
    scorecard.build(results)
    assert protocol._scorecard_current(results)
    path = results.cache.root / "scorecard.json"
    text = path.read_text()
    path.write_text({"truncate": text[:-20], "digit": text.replace("0.25", "0.35"),
                     "empty": "", "no digest": json.dumps({"claims": []})}[damage])
    assert not protocol._scorecard_current(results)


# ---------------------------------------------------------------------- 3. stray files
def test_temporaries_of_killed_writes_are_removed_and_never_packed(tmp_path):
    root = tmp_path / "results" / "paper"
    (root / "rc").mkdir(parents=True)
    write_json(root / "rc" / "a.json", {"v": 1})
    stale = root / "rc" / ".a.json.k3j4h5g6.tmp"
    fresh = root / "rc" / ".b.npz.zz99yy88.tmp"
    for f in (stale, fresh):
        f.write_bytes(b"half")
    os.utime(stale, (0, 0))  # a write killed long ago
    assert is_temporary(stale) and is_temporary(fresh)
    assert not is_temporary(root / "rc" / "a.json")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "pack_results.py"), "--root",
                           str(root), "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    import tarfile

    names = [n for p in out.iterdir() for n in tarfile.open(p).getnames()]
    assert names == ["results/paper/rc/a.json"]
    # the next write of the same entry removes what its killed writes left
    write_json(root / "rc" / "a.json", {"v": 2})
    assert not stale.exists() and fresh.exists()  # a recent one may be a live write
    os.utime(fresh, (0, 0))
    assert remove_stale_temporaries(root) == [fresh]


def test_a_temporary_file_being_written_is_never_removed(tmp_path):
    """The writer holds a lock on its temporary file: a sweep while it writes (even after
    a long time) leaves it alone, and the write completes."""
    target = tmp_path / "big.npz"
    seen = []

    def slow(handle):
        handle.write(b"part")
        handle.flush()
        (tmp,) = [p for p in tmp_path.iterdir() if is_temporary(p)]
        os.utime(tmp, (0, 0))
        seen.append(remove_stale_temporaries(tmp_path))
        handle.write(b"rest")

    atomic_write(target, slow)
    assert seen == [[]] and target.read_bytes() == b"partrest"
    assert [p.name for p in tmp_path.iterdir()] == ["big.npz"]


def test_a_protocol_run_sweeps_its_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(protocol, "plan", FakePlan().steps)
    stray = tmp_path / "ci" / "search" / ".run000.abc.json.q1w2e3r4.tmp"
    stray.parent.mkdir(parents=True)
    stray.write_text("{")
    os.utime(stray, (0, 0))
    lines = []
    protocol.run(fake_pipe(tmp_path), progress=False, log=lines.append)
    assert not stray.exists() and any("interrupted write" in s for s in lines)


# ---------------------------------------------------------------------- 4. bad inputs
@pytest.mark.parametrize("settings, message", [
    ({"n_test": "ten"}, "n_test must be an integer"),
    ({"ks": 5}, "ks must be a list or tuple; got 5"),
    ({"ks": "23"}, "ks must be a list or tuple"),
    ({"ks": [2, 0]}, r"ks\[1\] must be >= 1"),
    ({"ks": []}, "ks must not be empty"),
    ({"max_epochs": 0}, "max_epochs must be >= 1"),
    ({"patience": -1}, "patience must be >= 1"),
    ({"n_iters": 2.0}, "n_iters must be an integer"),
    ({"train_tflop": float("nan")}, "train_tflop must be a finite number"),
    ({"search_tflop": 0}, "search_tflop must be > 0"),
    ({"train_limit": 1}, "train_limit must be >= 2"),
    ({"datasets": ("bars", "nope")}, r"unknown datasets\[1\] 'nope'"),
    ({"datasets": ()}, "datasets must not be empty"),
    ({"spread_tables": (3,)}, r"spread_tables\[0\]"),
    ({"beyond": ("everything",)}, r"beyond\[0\]"),
    ({"costly_spread": ("table3:bars",)}, "table1:<data set>"),
    ({"tables_from_search": "yes"}, "True or False"),
    ({"seed": -1}, "seed must be >= 0"),
    ({"name": "../elsewhere"}, "folder name"),
    ({"init": "xavier"}, "unknown init"),
    ({"n_boot": True}, "n_boot must be an integer"),
    ({"no_such": 1}, "unknown profile setting"),
])
def test_profile_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message):
        rc.get_profile("ci").replace(**settings)
    if "no_such" not in settings:
        with pytest.raises(ValueError, match=message):
            rc.Results("ci", settings=settings, progress=False, device="cpu")


def test_valid_profile_settings_are_kept_as_they_were():
    for profile in PROFILES.values():
        assert dataclasses.replace(profile) == profile
    p = rc.get_profile("ci").replace(ks=[2, 3], datasets=["bars"], n_test=None,
                                     train_tflop=1, spread_tables=[])
    assert p.ks == (2, 3) and p.datasets == ("bars",) and p.spread_tables == ()
    assert p.n_test is None and p.train_tflop == 1


def run_paper(capsys, *args):
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import paper
    finally:
        sys.path.pop(0)
    with pytest.raises(SystemExit) as exit_:
        paper.main(list(args))
    err = capsys.readouterr().err
    return exit_.value.code, err


@pytest.mark.parametrize("args, message", [
    (("--budget-seconds", "nan"), "finite number > 0"),
    (("--budget-seconds", "inf"), "finite number > 0"),
    (("--budget-seconds", "0"), "finite number > 0"),
    (("--budget-seconds", "-5"), "finite number > 0"),
    (("--budget-seconds", "3"), "more than the 5 s"),
    (("--budget-seconds", "ten"), "not a number"),
    (("--device", "nope"), "unknown device 'nope'"),
    (("--device", "cuda:99"), "cuda:99"),
    (("--project", "0", "0"), "TFLOPS must be > 0"),
    (("--project", "1", "-3"), "finite number >= 0"),
    (("--project", "nan", "1"), "finite number >= 0"),
    (("--profile", "huge"), "invalid choice"),
    (("--retrain", "bars"), "expected DATASET:TABLE"),
    (("--retrain", "bars:x"), "expected DATASET:TABLE"),
    (("--retrain", "nope:1"), "Table 1 has no 'nope'"),
    (("--retrain", "simple_superposition:2"), "no multi-object training split"),
    (("--retrain", "bars:1"), "compares the stored DAEs of --profile full"),
])
def test_paper_script_rejects_bad_arguments_in_one_line(capsys, args, message):
    code, err = run_paper(capsys, "--profile", "ci", *args)
    assert code == 2
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err


def test_devices_are_checked():
    assert rc.dae.resolve_device("cpu") == torch.device("cpu")
    assert rc.dae.resolve_device(torch.device("cpu")).type == "cpu"
    for bad, message in (("nope", "unknown device"), ("meta", "unknown device"),
                         (3, "must be a string"), ("cpu:x", "unknown device")):
        with pytest.raises(ValueError, match=message):
            rc.dae.resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            rc.dae.resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        rc.Results("ci", device="gpu", progress=False)


def test_protocol_budget_is_checked(tmp_path):
    results = fake_pipe(tmp_path)
    for bad in (float("nan"), float("inf"), 0, -1, "60", 2.0):
        with pytest.raises(ValueError, match="budget_seconds"):
            protocol.run(results, budget_seconds=bad, progress=False, log=lambda s: None)
    assert not (tmp_path / "ci").exists()  # nothing started


def with_value(gamma, value):
    out = gamma.copy()
    out[1, 2, 3, 0] = value
    return out


@pytest.mark.parametrize("change, message", [
    (lambda g: g * 2 - 0.5, r"in \[0, 1\]"),          # confidences of -0.33 or 1.67 before
    (lambda g: with_value(g, 1.5), r"in \[0, 1\]"),
    (lambda g: with_value(g, np.inf), "must be finite; it contains inf"),
    (lambda g: with_value(g, -np.inf), "must be finite; it contains inf"),
    (lambda g: with_value(g, np.nan), "NaN"),
    (lambda g: g * 0.5, "sum to 1"),
    (lambda g: g.astype(complex), "real-valued"),
    (lambda g: g > 2, "exactly one cluster"),
])
def test_score_checks_the_assignments(change, message):
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 3, (3, 5, 5))
    gamma = rng.dirichlet(np.ones(3), size=(3, 5, 5))
    rc.score(groups, gamma)
    rc.score(groups, gamma.astype(np.float32))  # float32 rounding is within tolerance
    rc.score(groups, np.eye(3, dtype=bool)[gamma.argmax(-1)])  # one-hot
    with pytest.raises(ValueError, match=message):
        rc.score(groups, change(gamma))


def test_images_without_object_pixels_score_nan_with_a_warning():
    groups = np.zeros((2, 4, 4), np.int64)
    groups[1, :2] = 1
    groups[1, 2:] = 2
    gamma = np.zeros((2, 4, 4, 2))
    gamma[..., 0] = 1
    gamma[1, 2:] = [0, 1]
    with pytest.warns(rc.metrics.UnscoredImageWarning, match="1 of 2 image"):
        ami, conf = rc.score(groups, gamma)
    assert np.isnan(ami[0]) and np.isnan(conf[0]) and ami[1] == 1.0
    # the evaluation's means skip it; ami and ari keep scikit-learn's convention
    ev = evaluation(n=2, t=0, ami=ami[:, None], confidence=conf[:, None],
                    ari=rc.metrics.nan_where_unscored(rc.ari(groups.reshape(2, -1),
                                                             gamma.argmax(-1).reshape(2, -1),
                                                             groups.reshape(2, -1) != 0),
                                                      groups.reshape(2, -1) != 0))
    assert ev.score == 1.0 and ev.mean_ari == 1.0 and np.isnan(ev.ari[0])
    assert rc.ari(np.zeros((1, 3), int), np.zeros((1, 3), int), np.zeros((1, 3), bool)) == 1.0


def test_k_larger_than_the_pixels_is_an_error():
    dae = rc.DAE(4, 3, "relu", seed=0)
    images = np.ones((2, 2, 2), np.float32)
    rc.reconstruction_clustering(dae, images, k=4, n_iters=1)
    with pytest.raises(ValueError,
                       match=r"k must be at most the number of pixels.*4\); got k=5"):
        rc.reconstruction_clustering(dae, images, k=5, n_iters=1)


def test_status_does_not_crash_on_bad_entries(tmp_path):
    """Stored entries of every kind made unusable: the status counts them as missing."""
    env = {**os.environ, "RC_RESULTS": str(tmp_path)}
    results = rc.Results("ci", progress=False, root=tmp_path, device="cpu")
    name = results.run_names("bars")[0]
    inputs = results.run_inputs("bars")[0]
    results.cache.store(name, inputs, search_run(), SearchRun)
    rewrite_json_value(results.cache.path(name, inputs, SearchRun),
                       lambda v: v.__setitem__("score", "high"))
    spec = results.table_spec("bars")
    path = results.cache.path(f"dae/{spec.name}", spec.inputs(), TrainedDAE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK\x03\x04 not a zip")
    (results.cache.root / "scorecard.json").write_text('{"claims": [')
    done = subprocess.run([sys.executable, PAPER_PY, "--profile", "ci", "--status"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    lines = {line.split("  ")[1].strip(): line for line in done.stdout.splitlines()
             if line.startswith("  ")}
    assert "0/2" in lines["search, Table 1, bars"] and "0/1" in lines["DAE of Table 1, bars"]
    assert "0/1" in lines["scorecard"]


# ---------------------------------------------------------------------- 5. kills, concurrency
VOLATILE = {"provenance", "seconds", "train_seconds", "rc_seconds", "created", "host"}


def _normalised(value):
    """A stored value without the fields that differ between equal computations (wall
    times, provenance)."""
    if isinstance(value, dict):
        return {k: _normalised(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


def _entries(root: Path) -> dict[str, object]:
    """Every cache entry under ``root`` (relative path -> comparable content)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name in ("provenance.json", "scorecard.json") \
                or path.name.startswith("."):
            continue
        rel = str(path.relative_to(root))
        if path.suffix == ".npz":
            arrays, doc = read_npz(path)
            out[rel] = ({k: v.tobytes() + str(v.shape).encode() for k, v in arrays.items()},
                        _normalised(doc["fields"]))
        else:
            out[rel] = _normalised(read_json(path)["value"])
    return out


def _assert_same_entries(got: Path, want: Path) -> None:
    a, b = _entries(got), _entries(want)
    assert sorted(a) == sorted(b)
    different = [k for k in a if a[k] != b[k]]
    assert not different, different[:10]


@pytest.mark.slow  # trains a search of six runs three times: about 20 s
def test_a_search_run_is_the_same_whatever_else_is_trained_and_in_which_order(tmp_path):
    """A stored run depends on its key only: the runs of one search computed all at once,
    then again with a padded grouping after some of them were removed (so that the rest
    train beside other runs, in another order), are the same entries."""
    profile = rc.get_profile("ci").replace(datasets=("shapes",), search_runs=6, n_test=8)

    def search(root, grouping="architecture"):
        results = rc.Results(profile, progress=False, root=root, device="cpu", grouping=grouping)
        return results.search("shapes", 1)
    search(tmp_path / "a")
    search(tmp_path / "b", grouping="all")  # on a GPU: one padded group of all six
    stored = sorted((tmp_path / "b" / "ci").rglob("run00[0-5]*"))
    for path in stored[1::2]:
        path.unlink()
    again = search(tmp_path / "b", grouping="all")
    assert [r.run for r in again] == list(range(6))
    _assert_same_entries(tmp_path / "b" / "ci", tmp_path / "a" / "ci")


def _paper(results: Path, log: Path) -> subprocess.Popen:
    """scripts/paper.py --profile ci (the shared world's command) on ``results`` (output
    in ``log``.out / .err)."""
    env = {**os.environ, "RC_RESULTS": str(results)}
    with open(f"{log}.out", "w") as out, open(f"{log}.err", "w") as err:
        return subprocess.Popen([sys.executable, PAPER_PY, "--profile", "ci", "--quiet"],
                                env=env, stdout=out, stderr=err, start_new_session=True)


def _sessions(results: Path) -> list:
    try:
        return read_checked_json(results / "ci" / "provenance.json")["sessions"]
    except (OSError, ValueError):
        return []


def _has_finished_a_step(results: Path, session: int) -> bool:
    sessions = _sessions(results)
    return len(sessions) > session and bool(sessions[session]["chunks"])


def _assert_same_as_the_world(results: Path, world) -> None:
    """Every entry of the world (an uninterrupted run on an empty folder, complete), no
    other, with the same values, and its scorecard left as it was (the same claims)."""
    _assert_same_entries(results / "ci", world.results / "ci")
    assert (results / "ci" / "scorecard.json").read_bytes() == \
        (world.results / "ci" / "scorecard.json").read_bytes()


@pytest.mark.slow
@pytest.mark.e2e
def test_a_killed_protocol_run_resumes_to_the_same_entries(tmp_path, shared_ci_book):
    """kill -9 at a few random points of a ci protocol run, resume each time, compare with
    an uninterrupted run.

    The run starts on a copy of the shared ci world less one data set's entries
    (:data:`helpers.REDO`; issue 29: it used to start on an empty folder and compare with an
    uninterrupted run of its own); the world, built by one uninterrupted run on an empty
    folder, is what it must end with, entry for entry, its scorecard unchanged. Each
    session is killed once it has recorded its first finished step, after a random
    further 0-10 % of the wall time the world's run took for that data set's own steps:
    every killed session keeps some work, and the three together cannot finish on a
    machine of any speed."""
    assert shared_ci_book.protocol.returncode == 0, shared_ci_book.protocol.stderr[-3000:]
    results = tmp_path / "results"
    removed, seconds = copy_world_less_one_dataset(shared_ci_book, results)
    rng = random.Random(19)
    for attempt in range(1, 4):  # session 0 is the world's own
        proc = _paper(results, log=tmp_path / f"run{attempt}")
        deadline = time.monotonic() + 600
        while not _has_finished_a_step(results, attempt) and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            proc.wait(timeout=rng.uniform(0.0, 0.1) * seconds)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
        record = read_checked_json(results / "ci" / "provenance.json")
        assert record["complete"] is False
        assert record["sessions"][-1]["finished"] is False  # the killed session's trace
    assert any(not (results / "ci" / r).exists() for r in removed)  # work was left
    proc = _paper(results, log=tmp_path / "final")
    assert proc.wait(timeout=3600) == 0, (tmp_path / "final.err").read_text()[-3000:]
    assert "complete=True" in (tmp_path / "final.out").read_text()
    record = read_checked_json(results / "ci" / "provenance.json")
    assert record["complete"] and len(record["sessions"]) == 5  # none dropped
    assert [s["finished"] for s in record["sessions"]] == [True] + [False] * 3 + [True]
    assert sum(len(s["chunks"]) for s in record["sessions"][1:4]) > 0  # finished steps kept
    left = [p for p in results.rglob("*.tmp") if time.time() - p.stat().st_mtime > 60]
    assert not left, left
    _assert_same_as_the_world(results, shared_ci_book)


@pytest.mark.slow
@pytest.mark.e2e
def test_two_protocol_runs_at_once_on_one_folder(tmp_path, shared_ci_book):
    """Two scripts/paper.py --profile ci at the same time, same results folder: both
    finish and leave exactly the entries of one uninterrupted run. (Issue 29: on a copy
    of the shared ci world less one data set's entries, :data:`helpers.REDO`, compared with the
    world, instead of on an empty folder compared with a run of its own.)"""
    assert shared_ci_book.protocol.returncode == 0, shared_ci_book.protocol.stderr[-3000:]
    results = tmp_path / "results"
    copy_world_less_one_dataset(shared_ci_book, results)
    procs = [_paper(results, log=tmp_path / f"run{i}") for i in range(2)]
    for i, proc in enumerate(procs):
        assert proc.wait(timeout=3600) == 0, (tmp_path / f"run{i}.err").read_text()[-3000:]
        assert "complete=True" in (tmp_path / f"run{i}.out").read_text()
    record = read_checked_json(results / "ci" / "provenance.json")
    assert len(record["sessions"]) == 3 and record["complete"]
    assert all(s["finished"] for s in record["sessions"])
    _assert_same_as_the_world(results, shared_ci_book)


def test_a_commit_is_dirty_for_changed_code_not_for_changed_results(tmp_path, monkeypatch):
    """A full-scale run rewrites its own committed record under results/ as it goes: that
    must not mark the code it ran as uncommitted; a changed source file must."""
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "provenance.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "one")
    monkeypatch.setattr(rc.storage, "REPO", tmp_path)

    def commit():
        rc.storage.git_commit.cache_clear()
        return rc.storage.git_commit()
    try:
        (tmp_path / "results" / "provenance.json").write_text('{"sessions": []}')
        clean = commit()
        assert len(clean) == 40 and not clean.endswith("-dirty")
        (tmp_path / "code.py").write_text("x = 2\n")
        assert commit() == clean + "-dirty"
    finally:
        rc.storage.git_commit.cache_clear()
