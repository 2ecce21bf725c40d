"""Profiles, the artifact store, the search space and the cached experiment pipeline."""
import json
import math

import numpy as np
import pytest

import rc
from rc.artifacts import Store, provenance
from rc.config import PROFILES, epoch_cap, get_profile
from rc.experiments import Experiment, example_ranks
from rc.scorecard import build_scorecard, converged_by
from rc.search import SEARCH_SPACE, search_configs

TINY = get_profile("ci").replace(datasets=("simple_superposition", "bars"), ks=(2, 12),
                                 n_test=16, loss_runs=3, search_runs=2)


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("RC_RESULTS", str(tmp_path))
    return tmp_path


def test_profiles_and_errors():
    assert set(PROFILES) == {"ci", "default", "paper"}
    paper = get_profile("paper")
    assert (paper.search_runs, paper.loss_runs, paper.max_epochs, paper.patience) == (100, 100, 500, 10)
    assert paper.n_test is None and paper.train_limit is None and paper.train_tflop is None
    assert get_profile(paper) is paper
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        get_profile("fast")


def test_epoch_cap_follows_the_compute_budget():
    assert epoch_cap(None, 500, 784, 100, 4500) == 500
    per_epoch = 6 * 784 * 500 * 9000
    assert epoch_cap(1.0, 500, 784, 500, 9000) == int(1e12 // per_epoch)
    assert epoch_cap(1e-9, 500, 784, 500, 9000) == 1


def test_search_configs_are_in_the_space_reproducible_and_prefix_stable():
    a = search_configs(40, seed=3)
    assert a[:10] == search_configs(10, seed=3)
    assert a != search_configs(40, seed=4)
    lo, hi = SEARCH_SPACE["learning_rate"]
    for c in a:
        assert lo <= c["learning_rate"] <= hi
        assert c["noise"] in SEARCH_SPACE["noise"] and c["n_hidden"] in SEARCH_SPACE["n_hidden"]
        assert c["activation"] in SEARCH_SPACE["activation"]
    assert len({c["activation"] for c in a}) == 3 and len({c["n_hidden"] for c in a}) == 4
    for c in search_configs(5, seed=0, kind="loss"):
        assert (c["n_hidden"], c["activation"], c["noise"]) == (250, "relu", 0.3)


def test_store_computes_once_and_recomputes_on_request(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3), "meta": {"n": len(calls)}}
    s = Store(tmp_path)
    assert s.arrays("a.npz", compute)["meta"] == {"n": 1}
    again = s.arrays("a.npz", compute)
    assert len(calls) == 1 and again["meta"] == {"n": 1}
    np.testing.assert_array_equal(again["x"], np.arange(3))
    fresh = Store(tmp_path, recompute=True)
    fresh.arrays("a.npz", compute)
    fresh.arrays("a.npz", compute)  # recomputed once per run, not on every call
    assert len(calls) == 2
    assert s.json("b.json", lambda: {"v": 1}) == s.json("b.json", lambda: {"v": 2}) == {"v": 1}


def test_provenance_names_versions_and_commit():
    p = provenance("ci", 0, "cpu")
    for key in ("profile", "seed", "device", "torch", "numpy", "git_commit", "created"):
        assert key in p
    json.dumps(p)


def test_example_ranks():
    assert example_ranks(1000) == [0, 200, 400, 600, 800, 999]
    assert example_ranks(3) == [0, 1, 2]


def test_converged_by():
    ll = np.zeros((2, 21))
    ll[:, 0::2] = np.array([0, 5, 9, 9.95, 10, 10, 10, 10, 10, 10, 10])
    assert converged_by(ll) == 3


def test_pipeline_caches_and_examples_reproduce_the_evaluation(results, monkeypatch):
    ex = Experiment(TINY, progress=False)
    trained = []
    original = rc.experiments.train_dae

    def counting(*a, **kw):
        trained.append(1)
        return original(*a, **kw)
    monkeypatch.setattr(rc.experiments, "train_dae", counting)
    ev = ex.evaluate("bars")
    assert ev["ami"].shape == (16, TINY.n_iters + 1)
    assert ev["log_likelihood"].shape == (16, 2 * TINY.n_iters + 1)
    assert ev["meta"]["provenance"]["profile"] == "ci"
    ex.evaluate("bars", k=2)
    assert len(trained) == 1  # the Table 1 DAE is trained once and reused
    again = Experiment(TINY, progress=False).evaluate("bars")
    np.testing.assert_array_equal(again["ami"], ev["ami"])
    assert len(trained) == 1
    exm = ex.examples("bars", count=3)
    np.testing.assert_allclose(exm["ami"][:, -1], ev["ami"][exm["ids"], -1], atol=1e-6)
    assert exm["gamma_history"].shape == (TINY.n_iters + 1, 3, 20, 20, 12)
    order = np.argsort(-ev["ami"][:, -1], kind="stable")
    np.testing.assert_array_equal(exm["ids"], order[exm["ranks"]])


def test_search_is_resumable(results, monkeypatch):
    ex = Experiment(TINY, progress=False)
    runs = ex.search("simple_superposition")
    assert [r["run"] for r in runs] == [0, 1]
    assert all(0 <= r["score"] <= 1 or r["score"] < 0.1 for r in runs)
    (results / "ci/search/table1-simple_superposition/run001.json").unlink()
    trained = []
    original = rc.experiments.train_population

    def counting(images, configs, **kw):
        trained.extend(configs)
        return original(images, configs, **kw)
    monkeypatch.setattr(rc.experiments, "train_population", counting)
    again = ex.search("simple_superposition")
    assert len(trained) == 1 and again[0] == runs[0]
    assert again[1]["score"] == pytest.approx(runs[1]["score"], abs=1e-6)


def test_table_two_rules():
    ex = Experiment(TINY, progress=False)
    with pytest.raises(ValueError, match="Simple Superposition has no multi-object"):
        ex.table_dae("simple_superposition", 2)
    with pytest.raises(ValueError, match="table must be 1 or 2"):
        ex.evaluate("bars", table=3)


def test_scorecard_lists_every_claim(results):
    ex = Experiment(TINY, progress=False)
    claims = build_scorecard(ex)
    ids = [c["id"] for c in claims]
    assert {"table1.simple_superposition", "table1.bars", "table2.bars"} <= set(ids)
    for c in claims:
        assert set(c) == {"id", "claim", "paper", "ours", "tolerance", "holds"}
        assert c["holds"] in (True, False, None)
        assert isinstance(c["ours"], (int, float)) and math.isfinite(c["ours"])
    stored = json.loads((results / "ci/scorecard.json").read_text())
    assert stored == json.loads(json.dumps(claims))
    t1 = next(c for c in claims if c["id"] == "table1.bars")
    assert t1["holds"] == (t1["ours"] >= t1["paper"] - 0.03)
