"""Reconstruction clustering: the math of the E-step, the likelihood trace, batching."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rc
from rc.clustering import CLIP, bernoulli_log_prob, initial_gamma, posterior


def random_images(n=6, h=6, w=5, seed=0):
    return (np.random.default_rng(seed).random((n, h, w)) < 0.4).astype(np.float32)


@given(st.integers(1, 6), st.integers(1, 5), st.booleans(), st.integers(0, 10_000))
@settings(max_examples=40, deadline=None)
def test_soft_e_step_is_the_posterior_of_eq7(k, n_pix, uniform_pi, seed):
    rng = np.random.default_rng(seed)
    x = (rng.random((2, n_pix)) < 0.5).astype(np.float64)
    mu = rng.uniform(0.01, 0.99, (2, k, n_pix))
    pi = np.full((2, k), 1 / k) if uniform_pi else rng.dirichlet(np.ones(k), 2)
    lik = mu ** x[:, None] * (1 - mu) ** (1 - x[:, None])  # P(x_i | mu_ik)
    expected = pi[:, :, None] * lik / (pi[:, :, None] * lik).sum(1, keepdims=True)
    got = posterior(bernoulli_log_prob(torch.tensor(x), torch.tensor(mu)), torch.tensor(pi))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_hard_e_step_is_one_hot_argmax_of_the_posterior():
    torch.manual_seed(0)
    log_p = torch.log(torch.rand(3, 4, 10))
    pi = torch.softmax(torch.randn(3, 4), 1)
    hard = posterior(log_p, pi, hard=True)
    soft = posterior(log_p, pi)
    assert set(hard.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(hard.sum(1), torch.ones(3, 10))
    assert torch.equal(hard.argmax(1), soft.argmax(1))


def test_log_prob_clips_mu():
    x = torch.tensor([[1.0, 0.0]])
    mu = torch.tensor([[[0.0, 1.0]]])
    lp = bernoulli_log_prob(x, mu)  # float32: 1 - 1e-6 is itself rounded
    assert torch.allclose(lp, torch.full_like(lp, float(np.log(CLIP))), rtol=2e-3)


@pytest.mark.parametrize("init", ["gaussian", "uniform", "spatial"])
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_initial_gamma_is_a_distribution_over_clusters(init, k):
    g = initial_gamma(k, range(4), (6, 7), init, 0)
    assert g.shape == (4, k, 42) and g.dtype == np.float32
    np.testing.assert_allclose(g.sum(1), 1.0, rtol=1e-6)
    assert (g >= 0).all()


def test_gaussian_init_is_normalised_absolute_normal():
    g = initial_gamma(3, [5, 9], (4, 4), "gaussian", 7)
    n = np.abs([np.random.default_rng([7, i]).standard_normal((3, 16)) for i in (5, 9)])
    np.testing.assert_allclose(g, n / n.sum(1, keepdims=True), rtol=1e-6)


def test_uniform_init_range_before_normalising():
    g = initial_gamma(2, range(50), (5, 5), "uniform", 0)
    ratio = g[:, 0] / g[:, 1]  # u0 / u1 with u in [0.25, 0.75]
    assert ratio.min() >= 1 / 3 - 1e-5 and ratio.max() <= 3 + 1e-4


class TableModel:
    """A callable 'autoencoder' with no parameters: mu = sigmoid(x @ W + b)."""

    def __init__(self, d, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.w = torch.randn(d, d, generator=g) * 0.5
        self.b = torch.randn(d, generator=g) * 0.1

    def __call__(self, x):
        return torch.sigmoid(x @ self.w + self.b)


def reference_rc(model, images, k, n_iters, gamma0, hard=False, estimate_pi=False):
    """The straightforward per-image, per-cluster loop, in float64 numpy."""
    out_gamma, out_ll = [], []
    for x, g in zip(images.reshape(len(images), -1).astype(np.float64), gamma0):
        g = g.astype(np.float64)
        pi = np.full(k, 1 / k)
        ll = [float((g * np.log(0.5)).sum())]
        for _ in range(n_iters):
            mu = np.stack([model(torch.tensor(g[j] * x, dtype=torch.float32)[None])[0]
                           .double().numpy() for j in range(k)])
            mu = np.clip(mu, CLIP, 1 - CLIP)
            logp = x * np.log(mu) + (1 - x) * np.log(1 - mu)
            ll.append(float((g * logp).sum()))
            post = pi[:, None] * np.exp(logp)
            g = post / post.sum(0, keepdims=True)
            if hard:
                g = np.eye(k)[g.argmax(0)].T
            if estimate_pi:
                pi = g.mean(1)
            ll.append(float((g * logp).sum()))
        out_gamma.append(g)
        out_ll.append(ll)
    return np.array(out_gamma), np.array(out_ll)


@pytest.mark.parametrize("hard,estimate_pi", [(False, False), (True, False), (False, True)])
def test_batched_rc_equals_the_per_image_loop(hard, estimate_pi):
    imgs = random_images()
    model = TableModel(30)
    res = rc.reconstruction_clustering(model, imgs, k=3, n_iters=4, seed=11,
                                       e_step="hard" if hard else "soft",
                                       estimate_pi=estimate_pi, keep_history=True)
    gamma0 = res.gamma_history[0].reshape(len(imgs), 30, 3).transpose(0, 2, 1)
    ref_gamma, ref_ll = reference_rc(model, imgs, 3, 4, gamma0, hard, estimate_pi)
    got = res.gamma.reshape(len(imgs), 30, 3).transpose(0, 2, 1)
    np.testing.assert_allclose(got, ref_gamma, atol=2e-5)
    np.testing.assert_allclose(res.log_likelihood, ref_ll, rtol=1e-4)
    if estimate_pi:
        np.testing.assert_allclose(res.pi, got.mean(2), atol=1e-6)


def test_log_likelihood_trace_definitions():
    imgs = random_images(n=3)
    res = rc.reconstruction_clustering(TableModel(30, 1), imgs, k=2, n_iters=3,
                                       keep_history=True)
    assert res.log_likelihood.shape == (3, 7)
    np.testing.assert_allclose(res.log_likelihood[:, 0], 30 * np.log(0.5), rtol=1e-6)
    x = torch.from_numpy(imgs.reshape(3, 30))
    for t in range(3):
        mu = torch.from_numpy(res.mu_history[t].reshape(3, 30, 2)).permute(0, 2, 1)
        lp = bernoulli_log_prob(x, mu)
        for j, g in ((2 * t + 1, res.gamma_history[t]), (2 * t + 2, res.gamma_history[t + 1])):
            g = torch.from_numpy(g.reshape(3, 30, 2)).permute(0, 2, 1)
            np.testing.assert_allclose(res.log_likelihood[:, j], (g * lp).sum((1, 2)).numpy(),
                                       rtol=1e-5)


def test_hard_rc_gives_one_hot_assignments():
    res = rc.reconstruction_clustering(TableModel(30), random_images(), k=4, n_iters=2,
                                       e_step="hard")
    assert set(np.unique(res.gamma)) == {0.0, 1.0}
    np.testing.assert_array_equal(res.gamma.sum(-1), 1.0)


def test_same_seed_same_numbers_and_chunking_does_not_matter():
    imgs = random_images(n=9)
    dae = rc.DAE(30, 12, "tanh", seed=0)
    # (an untrained DAE drives soft RC to uniform gamma, so stop after 2 iterations)
    a = rc.reconstruction_clustering(dae, imgs, k=3, n_iters=2, seed=4)
    b = rc.reconstruction_clustering(dae, imgs, k=3, n_iters=2, seed=4)
    c = rc.reconstruction_clustering(dae, imgs, k=3, n_iters=2, seed=4, batch_size=2)
    d = rc.reconstruction_clustering(dae, imgs, k=3, n_iters=2, seed=5)
    np.testing.assert_array_equal(a.gamma, b.gamma)
    np.testing.assert_array_equal(a.log_likelihood, b.log_likelihood)
    np.testing.assert_allclose(a.gamma, c.gamma, atol=1e-5)
    assert not np.allclose(a.gamma, d.gamma)


def test_a_subset_with_its_image_ids_reproduces_the_full_run():
    imgs = random_images(n=8)
    dae = rc.DAE(30, 12, "tanh", seed=0)
    full = rc.reconstruction_clustering(dae, imgs, k=3, n_iters=3, seed=2)
    ids = np.array([6, 1])
    part = rc.reconstruction_clustering(dae, imgs[ids], k=3, n_iters=3, seed=2, image_ids=ids)
    np.testing.assert_allclose(part.gamma, full.gamma[ids], atol=1e-5)
    np.testing.assert_allclose(part.log_likelihood, full.log_likelihood[ids], rtol=1e-5)
    with pytest.raises(ValueError, match="image_ids"):
        rc.reconstruction_clustering(dae, imgs, k=3, image_ids=[1, 2])


def test_zero_iterations_returns_the_initial_assignments():
    res = rc.reconstruction_clustering(TableModel(30), random_images(n=2), k=2, n_iters=0,
                                       keep_history=True)
    assert res.log_likelihood.shape == (2, 1)
    np.testing.assert_array_equal(res.gamma, res.gamma_history[0])
    assert res.mu_history.shape == (0, 2, 6, 5, 2)


def oracle(patterns):
    """An ideal denoiser for a fixed set of patterns: return the best-matching pattern."""
    p = torch.from_numpy(patterns.reshape(len(patterns), -1).astype(np.float32))

    def model(x):
        # overlap with each pattern minus what the pattern fails to explain
        fit = x @ p.T - x @ (1 - p).T
        return p[fit.argmax(1)] * 0.98 + 0.01
    return model


def test_rc_binds_two_objects_with_an_ideal_denoiser():
    rng = np.random.default_rng(0)
    h = np.zeros((12, 12), np.float32)
    patterns = []
    for r in range(0, 12, 3):  # horizontal and vertical bars, non-overlapping rows/cols
        a, b = h.copy(), h.copy()
        a[r, :] = 1
        b[:, r + 1] = 1
        patterns += [a, b]
    patterns = np.array(patterns)
    pairs = [(i, j) for i in range(0, 8, 2) for j in range(1, 8, 2)]
    imgs = np.array([np.maximum(patterns[i], patterns[j]) for i, j in pairs])
    groups = np.array([(patterns[i] * 1 + patterns[j] * 2) * (patterns[i] + patterns[j] == 1)
                       for i, j in pairs]).astype(np.int64)
    res = rc.reconstruction_clustering(oracle(patterns), imgs, k=2, n_iters=5,
                                       groups=groups, seed=int(rng.integers(100)))
    assert res.ami.shape == (len(pairs), 6)
    assert res.ami[:, -1].mean() > 0.95 > res.ami[:, 0].mean()
    final, conf = rc.score(groups, res.gamma)
    np.testing.assert_allclose(final, res.ami[:, -1])
    np.testing.assert_allclose(conf, res.confidence[:, -1])


def test_spatial_init_needs_no_seed():
    imgs = random_images(n=2)
    a = rc.reconstruction_clustering(TableModel(30), imgs, k=3, n_iters=1, init="spatial", seed=0)
    b = rc.reconstruction_clustering(TableModel(30), imgs, k=3, n_iters=1, init="spatial", seed=9)
    np.testing.assert_array_equal(a.gamma, b.gamma)


@pytest.mark.parametrize("kwargs,match", [
    ({"k": 0}, "k must be >= 1"),
    ({"k": 2.5}, "k must be an integer"),
    ({"n_iters": -1}, "n_iters must be >= 0"),
    ({"e_step": "fuzzy"}, "unknown e_step"),
    ({"init": "zeros"}, "unknown init"),
    ({"seed": -3}, "seed"),
    ({"groups": np.zeros((2, 6, 5), int)}, "groups must have the images' shape"),
])
def test_rc_argument_errors(kwargs, match):
    args = {"k": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        rc.reconstruction_clustering(TableModel(30), random_images(), **args)


def test_rc_input_errors():
    with pytest.raises(ValueError, match="binary"):
        rc.reconstruction_clustering(TableModel(30), random_images() * 0.5, k=2)
    with pytest.raises(ValueError, match=r"shape \(N, H, W\)"):
        rc.reconstruction_clustering(TableModel(30), np.zeros((30,)), k=2)
    with pytest.raises(ValueError, match="images have 30 pixels but the DAE expects 64"):
        rc.reconstruction_clustering(rc.DAE(64, 8), random_images(), k=2)
    with pytest.raises(ValueError, match="logits"):
        rc.reconstruction_clustering(lambda x: x * 5 - 2, random_images(), k=2)
    with pytest.raises(ValueError, match="same shape"):
        rc.reconstruction_clustering(lambda x: x[:, :3], random_images(), k=2)
    with pytest.raises(ValueError, match="callable"):
        rc.reconstruction_clustering("dae", random_images(), k=2)
