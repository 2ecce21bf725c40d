"""rc.beyond.robustness: metrics, spreads, intervals and the selection on validation."""
import helpers
import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

import rc
from rc.beyond import robustness
from rc.claims import Claim

TINY = helpers.TINY.replace(search_runs=3, spread_seeds=3, spread_tables=(1,), rc_restarts=3,
                            n_val=12, n_boot=300)


@pytest.fixture
def results(warm_results):
    """On a copy of the session's tiny world (its bars evaluation computed: conftest.py)."""
    return rc.Results(TINY, progress=False, root=warm_results)


def test_bootstrap_interval_holds_the_mean_and_narrows_with_more_images():
    rng = np.random.default_rng(0)
    small, large = rng.random(50), rng.random(5000)
    lo, hi = robustness.bootstrap_interval(small, 2000, seed=1)
    assert lo < small.mean() < hi
    lo2, hi2 = robustness.bootstrap_interval(large, 2000, seed=1)
    assert hi2 - lo2 < (hi - lo) / 4  # ~ 1/sqrt(100) as wide
    again = robustness.bootstrap_interval(small, 500, 3)
    assert robustness.bootstrap_interval(small, 500, 3) == again
    assert robustness.bootstrap_interval(np.full(10, 0.5), 100, 0) == (0.5, 0.5)
    with pytest.raises(ValueError, match="non-empty"):
        robustness.bootstrap_interval([], 100, 0)


def test_selection_rules():
    sel = robustness.Selection("bars", 1, np.array([0.5, 0.9, 0.7]), np.array([0.6, 0.2, 0.8]))
    assert (sel.by_test, sel.by_validation) == (0.9, 0.7)
    assert sel.optimism == pytest.approx(0.2)
    same = robustness.Selection("bars", 1, np.array([0.5, 0.9]), np.array([0.1, 0.3]))
    assert same.optimism == 0.0 and np.isnan(same.by_val_loss)
    by_loss = robustness.Selection("bars", 1, np.array([0.5, 0.9, 0.7]),
                                   np.array([0.6, 0.2, 0.8]), np.array([30.0, 29.0, 31.0]))
    assert by_loss.by_val_loss == 0.9  # the run with the lowest denoising loss


def test_a_winner_is_known_once_its_search_is_complete_and_judged_like_a_retraining(
        tmp_path):
    results = rc.Results(TINY, progress=False, root=tmp_path)
    assert robustness.winner_task(results, "bars") is None  # no run stored yet
    with pytest.raises(rc.MissingResultError, match="not complete"):
        robustness.winner_dae(results, "bars")
    same = robustness.Winner("bars", 3, {}, (10, 10), (0.5, 0.5), (0.9, 0.9))
    assert same.verdict == "identical"
    rounded = robustness.Winner("bars", 3, {}, (10, 10), (0.5, 0.5 + 1e-6), (0.9, 0.9001))
    assert rounded.verdict == "within tolerance"
    assert robustness.Winner("bars", 3, {}, (10, 11), (0.5, 0.5), (0.9, 0.9)).verdict \
        == "diverged"
    assert robustness.Winner("bars", 3, {}, (10, 10), (0.5, 0.5), (0.9, 0.95)).verdict \
        == "diverged"


def test_an_evaluation_scores_its_clusters_with_all_three_metrics(results):
    spec = results.eval_spec("bars")
    ev = results.scores_per_iteration(spec)
    images, groups = results.load(spec.data)
    res = spec.rc.run(results.trained(spec.training).dae, images)
    for i in range(len(images)):
        m = groups[i] > 0
        truth, labels = groups[i][m], res.labels[i][m]
        assert ev.ari[i] == pytest.approx(adjusted_rand_score(truth, labels), abs=1e-9)
        assert ev.ami_arithmetic[i] == pytest.approx(
            adjusted_mutual_info_score(truth, labels, average_method="arithmetic"), abs=1e-9)
        assert ev.ami[i, -1] == pytest.approx(
            adjusted_mutual_info_score(truth, labels, average_method="max"), abs=1e-9)


@pytest.mark.slow  # trains the spreads' seeds and a search
def test_robustness_of_a_tiny_profile(results):
    rob = robustness.compute(results)
    s = rob.spreads[1]["bars"]
    assert len(s.seed_scores) == 3 and len(s.restart_scores) == 3
    assert s.seed_scores[0] == s.ami == results.evaluation("bars").score  # the table DAE first
    assert s.restart_scores[0] == s.ami
    assert len(set(s.seed_scores)) == 3  # other seeds, other networks
    assert s.interval[0] <= s.ami <= s.interval[1]
    assert -1 <= s.ari <= 1 and len(rob.spreads[2]["bars"].seed_scores) == 1  # Table 2: no
    sel = rob.selections[1]["bars"]
    assert len(sel.test_scores) == 3 and np.isfinite(sel.val_scores).all()
    assert "simple_superposition" not in rob.selections[1]  # no validation images there
    runs = results.search("bars")
    assert all(r.n_val == 12 and r.val_score is not None for r in runs)
    # the spreads are shown beside the table claims, and only there
    claims = [Claim("table1.bars", "Table 1", "s", 0.9, s.ami, "r", False),
              Claim("best_k.bars", "Figure 4a", "s", 12, 12, "r", True)]
    annotated = robustness.annotate(claims, rob)
    assert "interval" in annotated[0].spread and "3 trainings" in annotated[0].spread
    assert annotated[1].spread == ""
    # the winner of each complete Table 1 search trained again from its record: the same
    # epochs, loss and score, bit for bit, and its weights stored
    assert set(rob.winners) == {"simple_superposition", "bars"}
    w = rob.winners["bars"]
    assert w.run == max(runs, key=lambda r: r.score).run and w.verdict == "identical"
    assert robustness.winner_dae(results, "bars").n_hidden == w.config["n_hidden"]
    assert "identical" in robustness.winners_table(rob)
    # everything is cached: a second computation trains and runs nothing
    again = rc.Results(TINY, progress=False, root=results.cache.root.parent)
    robustness.compute(again)
    assert again.cache.computed == []


@pytest.mark.slow  # trains the spreads' seeds
def test_a_costly_entry_trains_its_seeds_one_at_a_time(tmp_path, monkeypatch):
    """Each extra training of a costly entry is stored on its own (and resumable), so a
    run stopped after hours keeps every training it finished; cheap ones share a batch."""
    profile = TINY.replace(costly_spread=("table1:bars",), costly_spread_seeds=3)
    results = rc.Results(profile, progress=False, root=tmp_path)
    batched, order = [], []
    trained_many, trained, final_scores = (rc.Results.trained_many, rc.Results.trained,
                                           rc.Results.final_scores)

    def record(self, specs):
        batched.append([s.data.dataset for s in specs])
        return trained_many(self, specs)

    def record_training(self, spec):
        order.append(("train", spec.data.dataset, spec.seed))
        return trained(self, spec)

    def record_evaluation(self, spec):
        order.append(("evaluate", spec.training.data.dataset, spec.training.seed))
        return final_scores(self, spec)
    monkeypatch.setattr(rc.Results, "trained_many", record)
    monkeypatch.setattr(rc.Results, "trained", record_training)
    monkeypatch.setattr(rc.Results, "final_scores", record_evaluation)
    rob = robustness.compute(results)
    assert batched == [["simple_superposition"] * 2]
    for spec in robustness.seed_specs(results, "bars", 1)[1:]:  # each scored before the next
        trained_at = order.index(("train", "bars", spec.seed))
        assert order[trained_at + 1] == ("evaluate", "bars", spec.seed)
    assert len(rob.spreads[1]["bars"].seed_scores) == 3
    assert len(rob.spreads[1]["simple_superposition"].seed_scores) == 3
