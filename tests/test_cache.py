"""rc.cache and rc.storage: keys from every input, never a stale or corrupt entry, atomic writes."""
import json
import os
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pytest

from rc.cache import Cache, CacheWarning, MissingResultError, Record, cache_key
from rc.storage import atomic_write, read_npz, write_json, write_npz


@dataclass(frozen=True)
class Result(Record):
    values: np.ndarray
    label: str
    meta: dict


def counted(calls, value):
    def compute():
        calls.append(1)
        return value
    return compute


def test_key_depends_on_every_input_and_not_on_order():
    base = {"a": 1, "b": {"c": [1, 2], "d": 0.1}}
    assert cache_key("x", base) == cache_key("x", {"b": {"d": 0.1, "c": [1, 2]}, "a": 1})
    assert cache_key("x", base) != cache_key("y", base)
    for changed in ({"a": 2, "b": base["b"]}, {"a": 1, "b": {"c": [1, 3], "d": 0.1}},
                    {"a": 1, "b": {"c": [1, 2], "d": 0.1 + 1e-12}}, {**base, "version": 2}):
        assert cache_key("x", changed) != cache_key("x", base)


@pytest.mark.parametrize("kind", [dict, Result])
def test_same_inputs_load_changed_inputs_recompute(tmp_path, kind):
    cache = Cache(tmp_path)
    value = ({"score": 0.5} if kind is dict else
             Result(np.arange(4.0), "a", {"n": 1}))
    calls = []
    inputs = {"config": {"lr": 0.1}, "version": 1}
    first = cache.get_or_compute("thing", inputs, counted(calls, value), kind)
    again = Cache(tmp_path).get_or_compute("thing", inputs, counted(calls, value), kind)
    assert len(calls) == 1
    if kind is dict:
        assert again == first
    else:
        np.testing.assert_array_equal(again.values, first.values)
        assert (again.label, again.meta) == ("a", {"n": 1})
    for changed in ({"config": {"lr": 0.2}, "version": 1}, {"config": {"lr": 0.1}, "version": 2}):
        cache.get_or_compute("thing", changed, counted(calls, value), kind)
    assert len(calls) == 3
    assert len(list(tmp_path.iterdir())) == 3  # one entry per set of inputs


@pytest.mark.parametrize("kind", [dict, Result])
def test_truncated_entry_warns_and_is_recomputed(tmp_path, kind):
    cache = Cache(tmp_path)
    value = {"score": 0.5} if kind is dict else Result(np.arange(1000.0), "a", {})
    cache.get_or_compute("thing", {"x": 1}, lambda: value, kind)
    path = cache.path("thing", {"x": 1}, kind)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    calls = []
    with pytest.warns(CacheWarning, match="unreadable"):
        cache.get_or_compute("thing", {"x": 1}, counted(calls, value), kind)
    assert calls == [1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache.get_or_compute("thing", {"x": 1}, counted(calls, value), kind)  # repaired
    assert calls == [1]


def test_an_entry_recorded_for_other_inputs_is_never_used(tmp_path):
    cache = Cache(tmp_path)
    cache.get_or_compute("thing", {"x": 1}, lambda: {"v": 1})
    cache.get_or_compute("thing", {"x": 2}, lambda: {"v": 2})
    # copy the x=1 entry over the x=2 one (as a careless copy of results would)
    good, other = cache.path("thing", {"x": 1}), cache.path("thing", {"x": 2})
    other.write_bytes(good.read_bytes())
    with pytest.warns(CacheWarning, match="other inputs"):
        assert cache.get_or_compute("thing", {"x": 2}, lambda: {"v": 22}) == {"v": 22}
    # an edited record (same key, different inputs) is refused too
    doc = json.loads(good.read_text())
    doc["record"]["inputs"] = {"x": 3}
    good.write_text(json.dumps(doc))
    with pytest.warns(CacheWarning, match="other inputs"):
        assert cache.get_or_compute("thing", {"x": 1}, lambda: {"v": 11}) == {"v": 11}


def test_recompute_since_a_time(tmp_path):
    calls = []
    Cache(tmp_path).get_or_compute("a", {}, counted(calls, {"n": 1}))
    fresh = Cache(tmp_path, recompute=True)
    fresh.get_or_compute("a", {}, counted(calls, {"n": 2}))
    fresh.get_or_compute("a", {}, counted(calls, {"n": 3}))  # once per run, not on every call
    assert len(calls) == 2
    later = Cache(tmp_path, recompute_before=time.time() + 10)
    later.get_or_compute("a", {}, counted(calls, {"n": 4}))
    assert len(calls) == 3


def test_no_compute_raises_a_clear_error(tmp_path):
    cache = Cache(tmp_path, may_compute=False)
    with pytest.raises(MissingResultError, match="the DAE shapes.*not in"):
        cache.get_or_compute("dae/shapes", {"x": 1}, lambda: pytest.fail("computed"),
                             describe="the DAE shapes")


def test_counts_what_was_computed_and_loaded(tmp_path):
    cache = Cache(tmp_path)
    cache.get_or_compute("a", {}, lambda: {})
    cache.get_or_compute("a", {}, lambda: {})
    assert (cache.computed, cache.loaded) == (["a"], ["a"])
    assert cache.has("a", {}) and not cache.has("b", {})


def test_interrupted_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.npz"

    def crash(handle):
        handle.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, crash)
    assert list(tmp_path.iterdir()) == []
    write_json(target.with_suffix(".json"), {"a": 1})
    with pytest.raises(RuntimeError):
        atomic_write(target.with_suffix(".json"), lambda h: (_ for _ in ()).throw(RuntimeError()))
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # the old file survives
    assert json.loads((tmp_path / "out.json").read_text()) == {"a": 1}


def test_a_computation_that_fails_stores_nothing(tmp_path):
    cache = Cache(tmp_path)
    with pytest.raises(ZeroDivisionError):
        cache.get_or_compute("a", {}, lambda: 1 / 0)
    assert not any(tmp_path.iterdir())


def test_npz_round_trip_without_pickles(tmp_path):
    path = write_npz(tmp_path / "x.npz", {"a": np.arange(3), "b": np.eye(2, dtype=np.float32)},
                     {"name": "x", "nested": {"k": [1, 2.5]}})
    arrays, doc = read_npz(path)
    assert doc == {"name": "x", "nested": {"k": [1, 2.5]}}
    assert arrays["b"].dtype == np.float32 and set(arrays) == {"a", "b"}
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    with pytest.raises(ValueError, match="object"):
        write_npz(tmp_path / "y.npz", {"a": np.array([{}], dtype=object)})


def test_best_effort_cache_only_warns_when_it_cannot_write(tmp_path):
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the folder should be")
    cache = Cache(blocker / "sub", best_effort=True)
    with pytest.warns(CacheWarning, match="could not write"):
        assert cache.get_or_compute("a", {}, lambda: {"v": 1}) == {"v": 1}
    with pytest.raises(OSError):
        Cache(blocker / "sub").get_or_compute("a", {}, lambda: {"v": 1})


def test_time_record_of_computations(tmp_path, monkeypatch):
    """With RC_TIME_RECORD set, each computation (not a load) appends one line; nested
    computations count in the outer one's time but not in its own time."""
    from rc.cache import TIME_RECORD, timed

    record = tmp_path / "times.jsonl"
    cache = Cache(tmp_path / "cache")
    monkeypatch.delenv(TIME_RECORD, raising=False)
    cache.get_or_compute("quiet", {"a": 0}, lambda: {"v": 0})
    assert not record.exists()  # off unless asked for
    monkeypatch.setenv(TIME_RECORD, str(record))

    def outer():
        cache.get_or_compute("inner", {"a": 1}, lambda: time.sleep(0.05) or {"v": 1})
        return {"v": 2}
    cache.get_or_compute("outer", {"a": 2}, outer)
    cache.get_or_compute("outer", {"a": 2}, outer)  # loaded: no line
    with pytest.raises(ZeroDivisionError):
        with timed("failed"):
            raise ZeroDivisionError("a computation that fails")
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [r["name"] for r in lines] == ["inner", "outer"]
    inner, outer_row = lines
    assert inner["value_type"] == "dict" and inner["key"] == cache_key("inner", {"a": 1})
    assert inner["seconds"] >= 0.05 and outer_row["seconds"] >= inner["seconds"]
    assert outer_row["self_seconds"] <= outer_row["seconds"] - inner["seconds"] + 1e-3
    assert cache.path("outer", {"a": 2}).is_file()


def _fetch_slowly(root: str, counter: str, start: float, out: str) -> None:
    """In a child process: fetch one entry whose computation takes 0.5 s and counts
    itself in ``counter``; write what was fetched to ``out``."""
    def compute():
        with open(counter, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        time.sleep(0.5)
        return {"v": 42}
    time.sleep(max(0.0, start - time.time()))  # both ask at the same moment
    value = Cache(root).get_or_compute("shared", {"a": 1}, compute)
    write_json(out, value)


def test_processes_that_need_the_same_entry_compute_it_once(tmp_path):
    """Two processes fetching one missing entry at once: one computes, the other waits
    for it and loads it (the entry's lock), so both get the same value."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    counter, start = tmp_path / "computed.txt", time.time() + 2.0
    children = [context.Process(target=_fetch_slowly, args=(
        str(tmp_path / "cache"), str(counter), start, str(tmp_path / f"out{i}.json")))
        for i in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    assert len(counter.read_text().splitlines()) == 1
    assert [json.loads((tmp_path / f"out{i}.json").read_text()) for i in range(2)] \
        == [{"v": 42}] * 2
