"""rc.pipeline: profiles to specifications, cached computations that are never stale."""
import dataclasses
import json
import math

import helpers
import numpy as np
import pytest

import rc
from rc import scorecard
from rc.cache import MissingResultError
from rc.config import PROFILES, epoch_cap, get_profile
from rc.paper import fig4a, fig5, table1
from rc.search import SEARCH_SPACE, search_configs

TINY = helpers.TINY


@pytest.fixture
def results_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RC_RESULTS", str(tmp_path))
    return tmp_path


def pipeline(profile=TINY, **kw):
    return rc.Results(profile, progress=False, **kw)


def test_profiles_and_errors():
    assert set(PROFILES) == {"ci", "default", "full", "paper"}
    paper = get_profile("paper")
    assert (paper.search_runs, paper.loss_runs, paper.max_epochs,
            paper.patience) == (100, 100, 500, 10)
    assert paper.n_test is None and paper.train_limit is None and paper.train_tflop is None
    assert get_profile(paper) is paper
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        get_profile("fast")


def test_epoch_cap_follows_the_compute_budget():
    assert epoch_cap(None, 500, 784, 100, 4500) == 500
    # 10 FLOPs per pixel and hidden unit for a training image: 4 forward, 6 backward
    per_epoch = 10 * 784 * 500 * 9000
    assert epoch_cap(1.0, 500, 784, 500, 9000) == int(1e12 // per_epoch)
    # the benchmark's and the protocol's counts are the same model
    results = rc.Results(rc.get_profile("ci"), may_compute=False, progress=False)
    spec = results.table_spec("shapes")
    d, h = 784, spec.config.n_hidden
    assert rc.protocol.train_flop(spec, 1) >= 10 * d * h * int(spec.data.n * 0.9)
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
    for c in search_configs(5, seed=0, study="loss"):
        assert (c["n_hidden"], c["activation"], c["noise"]) == (250, "relu", 0.3)


def test_specs_follow_the_profile():
    results = pipeline()
    spec = results.eval_spec("bars", 2)
    assert (spec.data.split, spec.data.n, spec.rc.k, spec.rc.e_step) == ("test", 16, 12, "hard")
    assert spec.training.data.split == "train_multi" and spec.training.data.n == TINY.train_limit
    assert spec.training.config == rc.specs.DAEConfig.from_mapping(rc.paper.table2.PAPER["bars"])
    assert spec.training.max_epochs == TINY.max_epochs and spec.rc.n_iters == TINY.n_iters
    assert results.eval_spec("bars", 1, k=2, e_step="hard").rc.k == 2
    inputs = spec.inputs()
    assert inputs["dae"]["train_version"] == rc.training.VERSION
    assert inputs["data"]["generator_version"] == rc.datasets.GENERATOR_VERSION
    assert inputs["rc"]["rc_version"] == rc.clustering.VERSION


def test_unchanged_inputs_load_and_compute_nothing(results_folder, monkeypatch):
    trained = []
    original = rc.pipeline.train_population
    monkeypatch.setattr(rc.pipeline, "train_population",
                        lambda *a, **k: trained.append(1) or original(*a, **k))
    results = pipeline()
    ev = results.evaluation("bars")
    assert ev.ami.shape == (16, TINY.n_iters + 1)
    assert ev.log_likelihood.shape == (16, 2 * TINY.n_iters + 1)
    assert ev.provenance["profile"] == "ci" and "git_commit" in ev.provenance
    results.evaluation("bars", k=2)
    assert len(trained) == 1  # one Table 1 DAE, trained once, used for both K
    again = pipeline()
    np.testing.assert_array_equal(again.evaluation("bars").ami, ev.ami)
    assert len(trained) == 1 and again.cache.computed == []


def test_a_changed_setting_recomputes_even_under_the_same_profile_name(warm_results, monkeypatch):
    results = pipeline()
    before = results.evaluation("bars")
    assert results.cache.computed == []  # the shared tiny world's (conftest.py)
    changed = pipeline(TINY.replace(n_iters=TINY.n_iters - 1))  # same name, "ci"
    after = changed.evaluation("bars")
    assert after.ami.shape[1] == TINY.n_iters and before.ami.shape[1] == TINY.n_iters + 1
    assert changed.cache.computed == ["rc/bars-train_single-k12-soft"]  # the DAE is reused
    fresh = rc.Results(TINY.replace(n_iters=TINY.n_iters - 1), progress=False,
                       root=warm_results / "empty")
    np.testing.assert_array_equal(fresh.evaluation("bars").ami, after.ami)
    # a changed training setting retrains the DAE and re-runs RC
    longer = pipeline(TINY.replace(max_epochs=TINY.max_epochs + 1))
    longer.evaluation("bars")
    assert longer.cache.computed == ["dae/bars-train_single-100relu-s0",
                                     "rc/bars-train_single-k12-soft"]


@pytest.mark.parametrize("module, name", [("datasets", "GENERATOR_VERSION"),
                                          ("training", "VERSION"), ("clustering", "VERSION"),
                                          ("metrics", "VERSION")])
def test_a_new_code_version_recomputes(warm_results, monkeypatch, module, name):
    pipeline().evaluation("bars")
    target = rc.specs if module == "datasets" else getattr(rc, module)
    monkeypatch.setattr(target, name, getattr(target, name) + 1)
    results = pipeline()
    results.evaluation("bars")
    assert "rc/bars-train_single-k12-soft" in results.cache.computed
    assert ("dae/bars-train_single-100relu-s0" in results.cache.computed) == (
        module in ("datasets", "training"))


def test_nothing_is_computed_when_computing_is_off(results_folder):
    with pytest.raises(MissingResultError, match="the RC evaluation bars-train_single.*"
                                                 "rc.Results\\('ci'\\)"):
        pipeline(may_compute=False).evaluation("bars")
    with pytest.raises(MissingResultError, match="the DAE bars-train_single"):
        pipeline(may_compute=False).table_dae("bars")
    assert pipeline(may_compute=False).search("bars") == []  # a search not begun: no runs
    pipeline().evaluation("bars")
    assert pipeline(may_compute=False).evaluation("bars").n_images == 16


def test_a_search_run_scores_as_its_evaluation(warm_results):
    results = pipeline()
    spec = results.eval_spec("bars")
    dae = results.trained(spec.training).dae
    images, groups = results.load(spec.data)
    scored = results.scores_per_iteration(spec)
    assert rc.pipeline.mean_final_ami(spec, dae, images, groups) == scored.score
    np.testing.assert_array_equal(rc.pipeline.final_amis(spec, dae, images, groups),
                                  results.scores_per_iteration(spec).ami[:, -1])
    for run in results.search("bars"):  # each run keeps its per-image scores beside the mean
        assert len(run.ami) == run.n_test and run.score == np.nanmean(run.ami)


@pytest.mark.parametrize("dataset, table", [("bars", 1), ("corners", 2)])
def test_final_scores_are_the_evaluations_last_column(warm_results, dataset, table):
    results = pipeline()
    spec = results.eval_spec(dataset, table, restart=1)
    full, final = results.scores_per_iteration(spec), results.final_scores(spec)
    assert isinstance(final, rc.pipeline.FinalScores)
    np.testing.assert_array_equal(final.ami, full.ami[:, -1])
    np.testing.assert_array_equal(final.ari, full.ari)
    np.testing.assert_array_equal(final.ami_arithmetic, full.ami_arithmetic)
    assert (final.score, final.mean_ari, final.mean_ami_arithmetic, final.n_images) == (
        full.score, full.mean_ari, full.mean_ami_arithmetic, full.n_images)
    # its own entry, loaded the next time
    assert results.is_stored(spec, final=True)
    again = pipeline(may_compute=False).final_scores(spec)
    np.testing.assert_array_equal(again.ami, final.ami)


def test_restarts_are_one_evaluation_then_final_scores(warm_results):
    results = pipeline()
    runs = results.restarts("bars", 1, 3)
    assert len(runs) == results.profile.rc_restarts >= 2
    assert isinstance(runs[0], rc.pipeline.Evaluation)
    np.testing.assert_array_equal(runs[0].ami, results.evaluation("bars", 1, 3).ami)
    assert all(isinstance(r, rc.pipeline.FinalScores) for r in runs[1:])
    assert runs[1].score == results.final_scores(results.eval_spec("bars", 1, 3, restart=1)).score
    assert len({r.score for r in runs}) > 1  # other random starts


def test_examples_reproduce_the_evaluation(warm_results):
    results = pipeline()
    spec = results.eval_spec("bars")
    ev = results.scores_per_iteration(spec)
    exm = fig5.example_runs(results, spec, count=3)
    np.testing.assert_allclose(exm.ami[:, -1], ev.ami[exm.ids, -1], atol=1e-6)
    assert exm.gamma_history.shape == (TINY.n_iters + 1, 3, 20, 20, 12)
    order = np.argsort(-ev.ami[:, -1], kind="stable")
    np.testing.assert_array_equal(exm.ids, order[exm.ranks])
    assert fig5.example_ranks(1000) == [0, 200, 400, 600, 800, 999]
    assert fig5.example_ranks(3) == [0, 1, 2]


def test_search_is_resumable(results_folder, monkeypatch):
    results = pipeline()
    runs = results.search("simple_superposition")
    assert [r.run for r in runs] == [0, 1]
    assert all(np.isfinite(r.score) and r.n_test == 16 for r in runs)
    name = "search/table1-simple_superposition/run001"
    results.cache.path(name, results.run_inputs("simple_superposition")[1]).unlink()
    trained = []
    original = rc.pipeline.train_population

    def counting(images, configs, **kw):
        trained.extend(configs)
        return original(images, configs, **kw)
    monkeypatch.setattr(rc.pipeline, "train_population", counting)
    again = pipeline().search("simple_superposition")
    assert len(trained) == 1 and again[0] == runs[0]
    assert again[1].score == pytest.approx(runs[1].score, abs=1e-6)


def test_a_killed_training_resumes_from_its_checkpoint_beside_the_entry(results_folder,
                                                                         monkeypatch):
    """A table DAE whose process stops after every epoch (deadline passed, a checkpoint
    each epoch) ends with the weights of an uninterrupted training, and leaves nothing."""
    spec = pipeline().table_spec("bars")
    reference = pipeline(root=results_folder / "reference").trained(spec)
    monkeypatch.setattr(rc.training, "CHECKPOINT_SECONDS", 0.0)
    monkeypatch.setattr(rc.Results, "_check_deadline", lambda self, what: None)
    stops = 0
    while True:
        results = pipeline()
        results.deadline = 0.0
        try:
            trained = results.trained(spec)
            break
        except rc.training.DeadlineReached:
            stops += 1
            (kept,) = [p for p in results_folder.rglob(".*.checkpoint")]
            assert kept.parent == results.cache.root / "dae" and rc.storage.is_temporary(kept)
            assert stops <= spec.max_epochs
            [(entry, progress)] = rc.protocol.unfinished_trainings(results)
            assert entry == f"dae/{kept.name[1:-len('.checkpoint')]}"
            assert progress["epoch"] == stops - 1 and progress["seconds"] > 0
    assert stops == reference.history.epochs > 1
    for a, b in zip(reference.dae.state_dict().values(), trained.dae.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy())
    assert trained.history.val_loss == reference.history.val_loss
    assert not list(results_folder.rglob(".*.checkpoint"))


def test_table_rules():
    results = pipeline()
    with pytest.raises(ValueError, match="Simple Superposition has no multi-object"):
        results.table_dae("simple_superposition", 2)
    with pytest.raises(ValueError, match="table must be 1 or 2"):
        results.evaluation("bars", table=3)


@pytest.mark.slow
@pytest.mark.e2e
def test_scorecard_collects_the_claims_of_every_element(shared_ci_book, tmp_path):
    """The scorecard built again from a copy of the shared ci world's protocol (conftest.py):
    every element's claims, as the protocol stored them. (Until issue 29's second round it
    read a tiny protocol of its own, about 85 s a session.)"""
    import shutil

    root = tmp_path / "results"
    shutil.copytree(shared_ci_book.results, root)
    results = rc.Results("ci", progress=False, device="cpu", root=root)
    card = scorecard.build(results)
    assert results.cache.computed == []  # the protocol stored all that the card needs
    ids = [c.id for c in card.claims]
    assert {"table1.simple_superposition", "table1.bars", "table2.bars", "best_k.bars",
            "convergence", "loss_vs_score", "single_beats_multi"} <= set(ids)
    assert len(ids) == len(set(ids))
    for c in card.claims:
        assert c.holds in (True, False, None) and c.verdict in ("holds", "fails", "not tested")
        assert isinstance(c.ours, (int, float)) and math.isfinite(c.ours)
        assert c.rule and c.element
    stored = json.loads((root / "ci" / "scorecard.json").read_text())
    assert [c["id"] for c in stored["claims"]] == ids
    assert stored["profile"]["n_iters"] == results.profile.n_iters
    assert "git_commit" in stored["provenance"]
    t1 = card.claim("table1.bars")
    assert t1.holds == (t1.ours >= t1.paper - rc.claims.SCORE_TOLERANCE)
    # every claim is one its element's module declares
    declared = {e: rc.paper.home(e).CLAIM_IDS for e in rc.paper.WITH_CLAIMS}
    for c in card.claims:
        patterns = [p.replace("<data set>", d) for p in declared[c.element]
                    for d in rc.DATASETS]
        assert c.id in patterns, (c.element, c.id)
    # the scorecard's claims are exactly those of the elements' modules (with the spread
    # of rc.beyond.robustness beside the table scores)
    assert [dataclasses.replace(c, spread="") for c in card.claims
            if c.element == "Table 1"] == table1.claims(table1.compute(results))
    assert all("interval" in c.spread for c in card.claims if c.element == "Table 1")
    sweep = fig4a.compute(results)
    assert card.claim("best_k.shapes").holds == (sweep.best_k["shapes"] == 3)
    assert card.claim("best_k.bars").holds is None  # K = 12 is not among the ci profile's
    assert card.claim("scores.above_0.5").holds is not None  # all six data sets
    fewer = dataclasses.replace(sweep, scores={d: sweep.scores[d] for d in ("shapes", "bars")})
    (above,) = [c for c in fig4a.claims(fewer) if c.id == "scores.above_0.5"]
    assert above.holds is None  # needs all six data sets


def _plus_one(calls, name, ctx, *values):
    """A task's work for the tests of Results.get: one more than its dependencies' sum."""
    calls.append(name)
    return {"n": 1 + sum(v["n"] for v in values)}


def test_get_computes_the_missing_dependencies_in_order_and_loads_the_stored(tmp_path):
    import functools

    from rc.tasks import Task

    calls: list[str] = []

    def task(name, *deps):
        return Task(name, {"v": 1}, dict, deps=deps,
                    work=functools.partial(_plus_one, calls, name))

    a = task("a")
    b = task("b", a)
    c = task("c", a, b)   # a diamond: a is computed once
    results = pipeline(root=tmp_path)
    assert results.get(c) == {"n": 4} and calls == ["a", "b", "c"]
    calls.clear()
    results.cache.root.joinpath(f"c.{c.key[:16]}.json").unlink()
    results.cache.root.joinpath(f"a.{a.key[:16]}.json").unlink()
    d = task("d", b)      # b stored: loaded, and what it depends on (a, gone) not visited
    reads: list[str] = []
    examine = results.cache._examine
    results.cache._examine = lambda path, name, *rest: reads.append(name) or examine(path, name,
                                                                                  *rest)
    assert results.get(d) == {"n": 3} and calls == ["d"]
    assert reads.count("b") == 1  # the stored dependency is read once, not checked then read
    del results.cache._examine
    assert results.get(c) == {"n": 4} and calls == ["d", "a", "c"]
