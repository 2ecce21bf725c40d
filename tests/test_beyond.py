"""rc.beyond: grey levels, the convolutional DAE, RC inside training, choosing K."""
import math

import helpers
import numpy as np
import pytest
import torch
from helpers import stripes

import rc
from rc.beyond import choose_k, conv, grey, rc_training
from rc.clustering import LIKELIHOODS, pixel_log_prob, posterior

TINY = helpers.TINY.replace(datasets=("shapes", "bars"), ks=(2, 3), n_test=12, rc_restarts=1,
                            spread_seeds=1, rc_training_datasets=("bars",))


# ------------------------------------------------------------------ grey levels
@pytest.mark.parametrize("likelihood", LIKELIHOODS[1:])
def test_grey_e_step_is_the_posterior_of_its_mixture(likelihood):
    """gamma_ik = pi_k p(x_i | mu_ik) / sum_j pi_j p(x_i | mu_ij), with the densities
    written out independently."""
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.random((3, 10)))
    mu = torch.tensor(rng.uniform(0.05, 0.95, (3, 4, 10)))
    pi = torch.tensor(rng.dirichlet(np.ones(4), size=3))
    xs, ms = x.numpy()[:, None, :], mu.numpy()
    if likelihood == "gaussian":
        dens = np.exp(-0.5 * ((xs - ms) / 0.3) ** 2) / (0.3 * math.sqrt(2 * math.pi))
    else:
        dens = ms ** xs * (1 - ms) ** (1 - xs)
        if likelihood == "continuous_bernoulli":
            dens = dens * 2 * np.arctanh(1 - 2 * ms) / (1 - 2 * ms)
    joint = pi.numpy()[:, :, None] * dens
    expected = joint / joint.sum(1, keepdims=True)
    got = posterior(pixel_log_prob(x, mu, likelihood, 0.3), pi).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_continuous_bernoulli_is_a_density_and_smooth_at_one_half():
    xs = torch.linspace(0, 1, 20001, dtype=torch.float64)
    for m in (0.1, 0.3, 0.4999, 0.5, 0.5001, 0.8):
        mu = torch.full((1, 1, xs.numel()), m, dtype=torch.float64)
        p = pixel_log_prob(xs[None], mu, "continuous_bernoulli").exp()[0, 0]
        assert float(torch.trapezoid(p, xs)) == pytest.approx(1.0, abs=1e-4)


def test_grey_data_sets_are_generated_validated_and_cached_like_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv("RC_DATA", str(tmp_path))
    images, groups = rc.load_dataset("shapes_grey", "test", n=50)
    assert images.dtype == np.float32 and 0 <= images.min() and images.max() <= 1
    assert len(np.unique(images)) > 3  # grey levels, not 0/1
    assert np.all((groups > 0) <= (images > 0))  # an object's pixels have ink
    again, _ = rc.load_dataset("shapes_grey", "test", n=50)  # from the cache
    np.testing.assert_array_equal(again, images)
    binary, binary_groups = rc.load_dataset("shapes", "test", n=50, cache=False)
    assert rc.dataset_info("shapes_grey").grey and not rc.dataset_info("shapes").grey
    with pytest.raises(ValueError, match="split"):
        rc.load_dataset("shapes_grey", "validation")
    with pytest.raises(ValueError, match="binary"):
        rc.reconstruction_clustering(lambda x: x.clamp(0.1, 0.9), images[:2], k=2)
    res = rc.reconstruction_clustering(lambda x: x.clamp(0.1, 0.9), images[:2], k=2,
                                       likelihood="gaussian", n_iters=2)
    assert res.config["likelihood"] == "gaussian" and np.isfinite(res.log_likelihood).all()
    with pytest.raises(ValueError, match="grey levels"):
        rc.reconstruction_clustering(lambda x: x, images[:2] * 2, k=2, likelihood="gaussian")
    with pytest.raises(ValueError, match="likelihood"):
        rc.reconstruction_clustering(lambda x: x, images[:2], k=2, likelihood="poisson")


def test_a_dae_trains_on_grey_levels_only_when_told():
    images = stripes() * 0.6
    with pytest.raises(ValueError, match="binary"):
        rc.train_dae(rc.DAE(64, 8), images, learning_rate=0.1, noise=0.1, progress=False)
    hist = rc.train_dae(rc.DAE(64, 8), images, learning_rate=0.1, noise=0.1, grey=True,
                        max_epochs=3, progress=False)
    assert hist.epochs == 3 and math.isfinite(hist.best_val_loss)


# ------------------------------------------------------------------ the convolutional DAE
def test_conv_dae_is_a_drop_in_for_rc():
    model = conv.ConvDAE((8, 8), (4, 8), 16, seed=0)
    assert model.n_pixels == 64
    x = torch.rand(5, 64)
    with torch.no_grad():
        assert model(x).shape == (5, 64) and float(model(x).min()) > 0
    same = conv.ConvDAE((8, 8), (4, 8), 16, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), same.parameters()))
    res = rc.reconstruction_clustering(model, stripes()[:3], k=2, n_iters=2)
    assert res.gamma.shape == (3, 8, 8, 2)
    with pytest.raises(ValueError, match="divisible by 4"):
        conv.ConvDAE((10, 8))
    with pytest.raises(ValueError, match="expects a"):
        model(torch.rand(2, 50))
    with pytest.raises(ValueError, match="expects 64"):
        rc.reconstruction_clustering(model, np.zeros((2, 7, 7)), k=2)


def test_conv_dae_trains_with_the_shared_loop():
    model = conv.ConvDAE((8, 8), (4, 8), 16, seed=0)
    hist = rc.training.train_module(model, stripes(), learning_rate=0.05, noise=0.1,
                                    batch_size=16, max_epochs=6, patience=2, progress=False)
    assert hist.val_loss[hist.best_epoch] < hist.val_loss[0]
    assert hist.stopped in ("early stopping", "max epochs")
    with pytest.raises(ValueError, match="expects 64"):
        rc.training.train_module(model, np.zeros((10, 7, 7)), learning_rate=0.1, noise=0.1)


def test_train_module_equals_train_dae_for_the_paper_dae():
    a, b = rc.DAE(64, 16, "tanh", seed=3), rc.DAE(64, 16, "tanh", seed=3)
    kw = dict(learning_rate=0.3, noise=0.2, seed=3, batch_size=16, max_epochs=8, patience=3,
              progress=False)
    ha = rc.training.train_module(a, stripes(), **kw)
    hb = rc.train_dae(b, stripes(), **kw)
    assert (ha.epochs, ha.best_epoch, ha.stopped) == (hb.epochs, hb.best_epoch, hb.stopped)
    for p, q in zip(a.state_dict().values(), b.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)


# ------------------------------------------------------------------ RC inside training
def _responsive_dae():
    """A small DAE whose reconstructions depend on the input (scaled-up weights): at a
    plain initialisation every cluster gets nearly the same reconstruction, gamma stays
    near 1/K and the path through gamma carries almost no gradient."""
    dae = rc.DAE(64, 8, "sigmoid", seed=0)
    with torch.no_grad():
        dae.encoder.weight.mul_(6.0)
        dae.decoder.weight.mul_(6.0)
    return dae


@pytest.mark.parametrize("detach", [False, True])
def test_gradients_reach_the_dae_through_unrolled_rc(detach):
    dae = _responsive_dae()
    x = torch.from_numpy(stripes()[:10].reshape(10, 64))
    loss_fn = rc_training.UnrolledRCLoss(k=2, n_iters=3, detach_gamma=detach, seed=0)
    loss = loss_fn(dae, x, x)
    loss.backward()
    grads = [p.grad for p in dae.parameters()]
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)
    # the other variant computes the same loss but its gradients differ: the path through
    # the assignments (and the earlier R-steps) carries gradient
    other = _responsive_dae()
    other_loss = rc_training.UnrolledRCLoss(2, 3, not detach, seed=0)(other, x, x)
    other_loss.backward()
    assert float(other_loss.detach()) == pytest.approx(float(loss.detach()), rel=1e-6)
    diff = (dae.encoder.weight.grad - other.encoder.weight.grad).abs().max()
    assert float(diff) > 0.01 * float(dae.encoder.weight.grad.abs().max())


def test_unrolled_rc_loss_is_a_reconstruction_by_the_mixture():
    # the assignments sum to one over K, so a model that reconstructs every cluster as
    # the same image c gives the mixture c, whatever the assignments
    x = torch.from_numpy(stripes()[:4].reshape(4, 64)).double()
    loss = rc_training.UnrolledRCLoss(3, 2, seed=1)
    oracle = lambda part: x.repeat_interleave(3, dim=0).clamp(1e-6, 1 - 1e-6)  # noqa: E731
    assert torch.allclose(loss.mixture(oracle, x), x, atol=1e-5)
    half = lambda part: torch.full_like(part, 0.5)  # noqa: E731
    assert torch.allclose(loss.mixture(half, x), torch.full_like(x, 0.5))
    # the loss: cross-entropy per image, summed over pixels (64 log 2 for means of 1/2)
    assert float(loss(half, x, x)) == pytest.approx(64 * np.log(2.0), rel=1e-9)


# ------------------------------------------------------------------ choosing K
def test_rc_training_answer_counts_gains_within_the_allowance_as_none():
    def result(best):
        sets = list(best)
        return rc_training.RCTraining(
            "t", {d: 0.9 for d in sets}, {d: 0.7 for d in sets},
            {d: {v: best[d] for v in rc_training.VARIANTS} for d in sets},
            {d: {v: 0.0 for v in rc_training.VARIANTS} for d in sets},
            {d: {v: 1 for v in rc_training.VARIANTS} for d in sets})
    tol = rc.claims.SCORE_TOLERANCE
    assert rc_training.answer(result({"shapes": 0.7 + tol / 2})).startswith("No:")
    assert "no better than Table 2" in rc_training.answer(result({"shapes": 0.7 + tol / 2}))
    assert "worse than Table 2" in rc_training.answer(result({"bars": 0.1}))
    assert rc_training.answer(result({"shapes": 0.85, "bars": 0.1})).startswith("Partly:")
    assert rc_training.answer(result({"shapes": 0.85})).startswith("Yes:")
    assert "75% of the gap closed" in rc_training.answer(result({"shapes": 0.85}))
    assert rc_training.answer(result({"shapes": 0.75})).startswith("Partly:")


def test_k_estimators_on_constructed_likelihoods():
    ks = [1, 2, 3, 4, 5]
    ll = np.array([[-100, -60, -30, -29.5, -29.4],    # elbow at 3, maximum at 5
                   [-100, -40, -45, -50, -55],        # peak at 2
                   [-50, -50, -50, -50, -50]])        # nothing gained: 1
    np.testing.assert_array_equal(choose_k.estimate_k(ll, ks, "likelihood"), [5, 2, 1])
    np.testing.assert_array_equal(choose_k.estimate_k(ll, ks, "gain"), [3, 2, 1])
    with pytest.raises(ValueError, match="shape"):
        choose_k.estimate_k(ll[:, :3], ks)
    with pytest.raises(ValueError, match="rule"):
        choose_k.estimate_k(ll, ks, "bic")
    groups = np.zeros((2, 4, 4), int)
    groups[0, 0, 0], groups[0, 1, 1], groups[1, 2, 2] = 1, 3, 2
    np.testing.assert_array_equal(choose_k.visible_objects(groups), [2, 1])


def test_rc_likelihood_finds_the_number_of_objects_with_an_ideal_denoiser():
    """Two separated objects and a model that completes whichever object a cluster holds
    most of: the final likelihood is highest for K = 2."""
    objects = np.zeros((2, 8, 8), np.float32)
    objects[0, 1:3, 1:7] = 1
    objects[1, 5:7, 1:7] = 1
    image = objects.max(0)[None]

    def ideal(part):
        share = torch.stack([(part * torch.from_numpy(o).reshape(1, -1)).sum(1)
                             for o in objects], 1)
        best = torch.from_numpy(objects.reshape(2, -1))[share.argmax(1)]
        return best.clamp(0.01, 0.99) * (share.max(1).values[:, None] > 0.5) + 0.01
    ks = [1, 2, 3, 4]
    ll = np.array([[rc.reconstruction_clustering(ideal, image, k=k, n_iters=5, seed=2)
                    .log_likelihood[0, -1] for k in ks]])
    assert choose_k.estimate_k(ll, ks, "likelihood")[0] == 2


# ------------------------------------------------------------------ the chapters' computations
@pytest.mark.slow
def test_every_question_on_a_tiny_profile(tmp_path):
    results = rc.Results(TINY, progress=False, root=tmp_path)
    g = grey.compute(results)
    assert set(g.grey) == {"shapes_grey"} and set(g.grey["shapes_grey"]) == set(grey.LIKELIHOODS)
    c = conv.compute(results)
    assert set(c.conv) == {"shapes"} and np.isfinite(c.conv["shapes"])
    r = rc_training.compute(results)
    assert set(r.rc_soft) == {"bars"} and set(r.rc_soft["bars"]) == set(rc_training.VARIANTS)
    k = choose_k.compute(results)
    assert k.ks["bars"] == list(range(1, 15)) and 0 <= k.accuracy("shapes", "gain") <= 1
    again = rc.Results(TINY, progress=False, root=tmp_path)
    grey.compute(again), conv.compute(again), rc_training.compute(again), choose_k.compute(again)
    assert again.cache.computed == []


@pytest.mark.parametrize("dataset", ["shapes", "multi_mnist"])
def test_every_network_of_a_data_set_gets_the_same_compute_budget(dataset):
    """One budget rule: the table DAE, the convolutional DAE and the DAE trained through RC
    each get the epochs that fit into the profile's TFLOP (the last epoch would overflow
    it), counting the training part of their images at their own cost per image."""
    from rc.beyond import conv, rc_training
    from rc.config import dae_image_flop
    from rc.training import train_split

    results = rc.Results("default", may_compute=False, progress=False)
    _, tflop = results.table_budget()
    budget = tflop * 1e12
    info = rc.dataset_info(dataset)
    d = info.shape[0] * info.shape[1]

    def check(epochs, image_flop, n_images):
        per_epoch = image_flop * train_split(n_images, 0.1)
        assert epochs * per_epoch <= budget or epochs == 1
        assert (epochs + 1) * per_epoch > budget or epochs == results.profile.max_epochs

    for table in (1, 2):
        spec = results.table_spec(dataset, table)
        check(spec.max_epochs, dae_image_flop(d, spec.config.n_hidden), spec.data.n)
    inputs = conv.training_inputs(results, dataset)
    check(inputs["max_epochs"], conv.conv_flop(info.shape), inputs["data"]["n"])
    for variant in rc_training.VARIANTS:
        inputs, data = rc_training.training(results, dataset, variant)
        check(inputs["max_epochs"],
              rc_training.image_flop(dataset, inputs["config"]["n_hidden"]), data.n)
