"""Tests of rc.metrics: per-image AMI equal to scikit-learn's, and the paper's score()."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_mutual_info_score

import rc
import rc.metrics as metrics
from rc.metrics import AVERAGE_METHODS, ami, score

TOL = 1e-9


def sklearn_ami(lt, lp, mask=None, average_method="max") -> np.ndarray:
    """Reference: one scikit-learn call per image (row)."""
    lt, lp = np.asarray(lt), np.asarray(lp)
    mask = np.ones(lt.shape, bool) if mask is None else np.asarray(mask, bool)
    return np.array(
        [
            adjusted_mutual_info_score(t[m], p[m], average_method=average_method)
            for t, p, m in zip(lt, lp, mask)
        ],
        dtype=np.float64,
    ).reshape(lt.shape[0])


def assert_matches_sklearn(lt, lp, mask=None, methods=AVERAGE_METHODS, tol=TOL):
    for method in methods:
        got = ami(lt, lp, mask, average_method=method)
        want = sklearn_ami(lt, lp, mask, method)
        assert got.shape == want.shape and got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=0, atol=tol, err_msg=method)


def vectorised_only(lt, lp, mask, method="max"):
    """The vectorised AMI and the ill-conditioned flags, bypassing the sklearn fallback."""
    m = np.ones(np.shape(lt), bool) if mask is None else mask
    out, general, n, mi, emi, norm = metrics._ami_parts(np.asarray(lt), np.asarray(lp), m, method)
    return out, metrics._ill_conditioned(n, general, mi, emi, norm)


def blobs(rng, n_img=30, side=28, n_groups=3, noise=0.2, k=3):
    """Ground truth of square blobs on background 0, and noisy permuted predictions."""
    groups = np.zeros((n_img, side, side), np.int64)
    for i in range(n_img):
        for g in range(1, n_groups + 1):
            y, x = rng.integers(0, side - 8, 2)
            h, w = rng.integers(4, 9, 2)
            groups[i, y:y + h, x:x + w] = g
    perm = rng.permutation(max(k, n_groups + 1))
    pred = perm[groups] % k
    flip = rng.random(groups.shape) < noise
    pred = np.where(flip, rng.integers(0, k, groups.shape), pred)
    return groups, pred


# --------------------------------------------------------------------------------------
# ami() against scikit-learn
# --------------------------------------------------------------------------------------
@st.composite
def label_batches(draw):
    """Random (labels_true, labels_pred, mask) batches: arbitrary label values with gaps,
    tiny to moderate images, sparse to full masks, correlated or independent labelings."""
    n_img = draw(st.integers(0, 5))
    n_pix = draw(st.integers(0, 60))
    values = st.lists(st.integers(0, 10**9), min_size=1, max_size=10, unique=True)
    vt, vp = np.array(draw(values)), np.array(draw(values))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    lt = vt[rng.integers(0, vt.size, (n_img, n_pix))]
    kind = draw(st.sampled_from(["independent", "noisy copy", "all distinct", "constant"]))
    if kind == "independent":
        lp = vp[rng.integers(0, vp.size, (n_img, n_pix))]
    elif kind == "noisy copy":
        lp = np.where(rng.random((n_img, n_pix)) < 0.7, lt * 3 + 1,
                      vp[rng.integers(0, vp.size, (n_img, n_pix))])
    elif kind == "all distinct":
        lp = np.tile(np.arange(n_pix) * 5, (n_img, 1))
    else:
        lp = np.full((n_img, n_pix), vp[0])
    density = draw(st.sampled_from([0.0, 0.05, 0.3, 0.9, 1.0]))
    mask = rng.random((n_img, n_pix)) < density
    if draw(st.booleans()):
        lt, lp = lp, lt
    return lt, lp, mask


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label_batches(), st.sampled_from(AVERAGE_METHODS))
def test_matches_sklearn_random(batch, method):
    lt, lp, mask = batch
    assert_matches_sklearn(lt, lp, mask, methods=[method])


def set_partitions(n: int) -> list[tuple[int, ...]]:
    """All labelings of n items up to renaming (restricted growth strings)."""
    out = [()]
    for _ in range(n):
        out = [p + (k,) for p in out for k in range(max(p, default=-1) + 2)]
    return out


@pytest.mark.parametrize("n_pix", [0, 1, 2, 3, 4])
def test_matches_sklearn_all_tiny_labelings(n_pix):
    """Every pair of partitions of 0..4 pixels (0-4 scored pixels, single class, all
    distinct, the ill-conditioned eps/eps cases), with arbitrary label values."""
    parts = set_partitions(n_pix)
    pairs = list(itertools.product(parts, parts))
    lt = np.array([p for p, _ in pairs], dtype=np.int64).reshape(len(pairs), n_pix)
    lp = np.array([q for _, q in pairs], dtype=np.int64).reshape(len(pairs), n_pix)
    assert_matches_sklearn(np.array([7, 0, 123456, 3])[lt], lp * 2 + 1)


def test_matches_sklearn_with_masks_on_tiny_images():
    rng = np.random.default_rng(3)
    lt = rng.integers(0, 3, (120, 5))
    lp = rng.integers(0, 3, (120, 5))
    mask = rng.random((120, 5)) < 0.6
    assert_matches_sklearn(lt, lp, mask)


@pytest.mark.parametrize("n_pix", [2, 5, 17, 100])
def test_all_distinct_labels(n_pix):
    """sklearn's value is a round-off ratio here (e.g. -1.0 for 'min'); it must be matched."""
    rng = np.random.default_rng(n_pix)
    distinct = np.tile(np.arange(n_pix), (4, 1))
    lp = np.stack([np.arange(n_pix), rng.integers(0, 2, n_pix),
                   rng.integers(0, n_pix, n_pix), rng.permutation(n_pix)])
    assert_matches_sklearn(distinct, lp)
    assert_matches_sklearn(lp, distinct)


def test_realistic_blobs_match_sklearn_without_fallback():
    rng = np.random.default_rng(0)
    for n_groups, k, noise in [(3, 3, 0.2), (3, 2, 0.4), (3, 5, 0.1), (12, 12, 0.3)]:
        groups, pred = blobs(rng, n_groups=n_groups, k=k, noise=noise)
        lt, lp = groups.reshape(len(groups), -1), pred.reshape(len(pred), -1)
        mask = lt != 0
        assert_matches_sklearn(lt, lp, mask, tol=1e-12)
        for method in AVERAGE_METHODS:
            out, ill = vectorised_only(lt, lp, mask, method)
            assert not ill.any()  # the vectorised path alone is tested here
            np.testing.assert_allclose(out, sklearn_ami(lt, lp, mask, method), rtol=0, atol=1e-12)


def test_large_images_without_fallback():
    rng = np.random.default_rng(1)
    lt = rng.integers(0, 6, (3, 5000))
    lp = np.where(rng.random((3, 5000)) < 0.5, lt, rng.integers(0, 9, (3, 5000)))
    assert_matches_sklearn(lt, lp, tol=1e-12)
    assert not vectorised_only(lt, lp, None)[1].any()


def test_perfect_and_permuted_clusterings():
    rng = np.random.default_rng(2)
    groups, _ = blobs(rng, n_img=10)
    lt = groups.reshape(10, -1)
    mask = lt != 0
    lp = np.array([9, 4, 7, 1])[lt]  # a relabelling: perfect clustering
    got = ami(lt, lp, mask)
    np.testing.assert_allclose(got, sklearn_ami(lt, lp, mask), rtol=0, atol=TOL)
    np.testing.assert_allclose(got, 1.0, rtol=0, atol=1e-12)
    # permuting the predicted (or true) label values does not change the score
    _, noisy = blobs(rng, n_img=10, noise=0.3)
    noisy = noisy.reshape(10, -1)
    base = ami(lt, noisy, mask)
    np.testing.assert_allclose(ami(lt, np.array([5, 0, 2])[noisy], mask), base, atol=1e-12)
    np.testing.assert_allclose(ami(np.array([0, 3, 1, 2])[lt], noisy, mask), base, atol=1e-12)


def test_default_average_method_is_max():
    rng = np.random.default_rng(4)
    lt, lp = rng.integers(0, 3, (5, 50)), rng.integers(0, 5, (5, 50))
    np.testing.assert_allclose(ami(lt, lp), sklearn_ami(lt, lp, None, "max"), atol=TOL)
    assert np.abs(ami(lt, lp) - sklearn_ami(lt, lp, None, "arithmetic")).max() > 1e-6


def test_special_cases():
    lt = np.array([[1, 1, 1, 1], [1, 2, 1, 2], [3, 3, 3, 3], [0, 1, 2, 3]])
    lp = np.array([[5, 5, 5, 5], [7, 7, 7, 7], [1, 2, 1, 2], [0, 1, 2, 3]])
    np.testing.assert_array_equal(ami(lt, lp), [1.0, 0.0, 0.0, 1.0])
    none = np.zeros((2, 4), bool)
    one = np.array([[True, False, False, False]] * 2)
    np.testing.assert_array_equal(ami(lt[:2], lp[:2], none), [1.0, 1.0])
    np.testing.assert_array_equal(ami(lt[:2], lp[:2], one), [1.0, 1.0])
    assert ami(np.zeros((0, 3), int), np.zeros((0, 3), int)).shape == (0,)
    np.testing.assert_array_equal(ami(np.zeros((2, 0), int), np.zeros((2, 0), int)), [1.0, 1.0])


def test_label_dtypes_and_huge_values():
    rng = np.random.default_rng(5)
    lt = rng.integers(0, 4, (6, 40))
    lp = rng.integers(0, 3, (6, 40))
    want = sklearn_ami(lt, lp)
    for cast in [np.uint8, np.int32, np.uint64, np.float64]:
        np.testing.assert_allclose(ami(lt.astype(cast), lp.astype(cast)), want, atol=TOL)
    huge = np.array([3, 10**12, 2**62, 17])[lt]
    np.testing.assert_allclose(ami(huge, lp), want, atol=TOL)
    np.testing.assert_allclose(ami(lt > 1, lp), sklearn_ami(lt > 1, lp), atol=TOL)


def test_many_distinct_labels_use_sparse_tables():
    rng = np.random.default_rng(6)
    lt = rng.integers(0, 10**9, (6, 300))  # ~all distinct: too many for a dense table
    lp = rng.integers(0, 10**6, (6, 300)) // 1000
    lp[:2] = lt[:2] // 3
    mask = rng.random(lt.shape) < 0.8
    assert_matches_sklearn(lt, lp, mask, methods=["max", "min"])


def test_dense_sparse_and_blocking_agree(monkeypatch):
    rng = np.random.default_rng(7)
    groups, pred = blobs(rng, n_img=20, n_groups=5, k=4)
    lt, lp = groups.reshape(20, -1), pred.reshape(20, -1)
    mask = lt != 0
    base = ami(lt, lp, mask)
    monkeypatch.setattr(metrics, "_DENSE_CELLS", 0)
    np.testing.assert_allclose(ami(lt, lp, mask), base, rtol=0, atol=1e-13)
    monkeypatch.setattr(metrics, "_EMI_BLOCK", 7)
    np.testing.assert_allclose(ami(lt, lp, mask), base, rtol=0, atol=1e-13)
    monkeypatch.setattr(metrics, "_PAIR_CHUNK", 45)  # chunks of one to a few images
    np.testing.assert_allclose(ami(lt, lp, mask), base, rtol=0, atol=1e-13)
    np.testing.assert_allclose(base, sklearn_ami(lt, lp, mask), rtol=0, atol=TOL)


# --------------------------------------------------------------------------------------
# score()
# --------------------------------------------------------------------------------------
def test_score_hand_computed():
    groups = np.array([[[1, 1, 0], [2, 2, 0]]])
    gamma = np.array([[[[0.9, 0.1], [0.6, 0.4], [0.5, 0.5]],
                       [[0.3, 0.7], [0.2, 0.8], [0.0, 1.0]]]])
    amis, conf = score(groups, gamma)
    assert amis.shape == conf.shape == (1,) and amis.dtype == conf.dtype == np.float64
    np.testing.assert_allclose(conf, [(0.9 + 0.6 + 0.7 + 0.8) / 4])
    assert amis[0] == adjusted_mutual_info_score([1, 1, 2, 2], [0, 0, 1, 1], average_method="max")


def test_score_uses_argmax_and_ignores_background():
    rng = np.random.default_rng(8)
    groups, _ = blobs(rng, n_img=8, n_groups=3)
    gamma = rng.dirichlet(np.ones(3), size=groups.shape)
    amis, conf = score(groups, gamma)
    lt, lp = groups.reshape(8, -1), gamma.argmax(-1).reshape(8, -1)
    mask = lt != 0
    np.testing.assert_allclose(amis, sklearn_ami(lt, lp, mask), rtol=0, atol=TOL)
    top = gamma.max(-1).reshape(8, -1)
    np.testing.assert_allclose(conf, [t[m].mean() for t, m in zip(top, mask)], rtol=1e-12)
    # changing gamma where groups == 0 changes nothing
    other = gamma.copy()
    other[groups == 0] = rng.dirichlet(np.ones(3) * 0.1, size=int((groups == 0).sum()))
    amis2, conf2 = score(groups, other)
    np.testing.assert_array_equal(amis2, amis)
    np.testing.assert_array_equal(conf2, conf)
    # argmax only: a sharper gamma with the same argmax gives the same AMI
    sharper = gamma ** 3 / (gamma ** 3).sum(-1, keepdims=True)
    np.testing.assert_array_equal(score(groups, sharper)[0], amis)


def test_score_perfect_and_average_method():
    rng = np.random.default_rng(9)
    groups, _ = blobs(rng, n_img=5, n_groups=3)
    gamma = np.eye(4)[np.array([2, 0, 3, 1])[groups]]  # one-hot of permuted groups, K = 4
    amis, conf = score(groups, gamma)
    np.testing.assert_allclose(amis, 1.0, atol=1e-12)
    np.testing.assert_allclose(conf, 1.0)
    lt, lp = groups.reshape(5, -1), gamma.argmax(-1).reshape(5, -1)
    for method in AVERAGE_METHODS:
        np.testing.assert_allclose(score(groups, gamma, method)[0],
                                   sklearn_ami(lt, lp, lt != 0, method), atol=TOL)


def test_score_accepts_torch_tensors():
    rng = np.random.default_rng(10)
    groups, _ = blobs(rng, n_img=4)
    gamma = rng.dirichlet(np.ones(3), size=groups.shape).astype(np.float32)
    want = score(groups, gamma)
    t_gamma = torch.tensor(gamma, requires_grad=True)
    got = score(torch.from_numpy(groups), t_gamma)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_score_empty_batch_and_non_contiguous_gamma():
    amis, conf = score(np.zeros((0, 4, 4), int), np.zeros((0, 4, 4, 3)))
    assert amis.shape == conf.shape == (0,)
    rng = np.random.default_rng(11)
    groups, _ = blobs(rng, n_img=3)
    gamma = rng.dirichlet(np.ones(3), size=groups.shape)
    k_first = np.ascontiguousarray(np.moveaxis(gamma, -1, 0))
    view = np.moveaxis(k_first, 0, -1)  # same values, non-contiguous
    for a, b in zip(score(groups, view), score(groups, gamma)):
        np.testing.assert_array_equal(a, b)


def test_score_image_without_scored_pixels():
    groups = np.zeros((2, 3, 3), np.int64)
    groups[1, 0, :2] = [1, 2]
    gamma = np.full((2, 3, 3, 2), 0.5)
    gamma[1, 0, 0] = [0.8, 0.2]
    with pytest.warns(rc.metrics.UnscoredImageWarning, match="1 of 2 image"):
        amis, conf = score(groups, gamma)
    assert np.isnan(amis[0]) and np.isnan(conf[0])  # nothing to score
    # two classes, one cluster (the tie at the second pixel goes to index 0): AMI 0
    assert amis[1] == 0.0 and conf[1] == pytest.approx(0.65)


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------
def test_ami_errors():
    a = np.zeros((2, 5), int)
    with pytest.raises(ValueError, match=r"same shape.*\(2, 5\).*\(2, 4\)"):
        ami(a, np.zeros((2, 4), int))
    with pytest.raises(ValueError, match="labels_true must have shape"):
        ami(np.zeros(5, int), np.zeros(5, int))
    with pytest.raises(ValueError, match="labels_pred must have shape"):
        ami(a, np.zeros((2, 5, 1), int))
    with pytest.raises(ValueError, match="mask"):
        ami(a, a, np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="non-negative"):
        ami(a - 1, a)
    with pytest.raises(ValueError, match="non-negative"):
        ami(a, a - 1)
    with pytest.raises(ValueError, match="integer"):
        ami(a + 0.5, a)
    with pytest.raises(ValueError, match="integer"):
        ami(a.astype(str), a)
    with pytest.raises(ValueError, match="average_method"):
        ami(a, a, average_method="mean")


def test_score_errors():
    groups = np.ones((2, 3, 3), int)
    gamma = np.full((2, 3, 3, 2), 0.5)
    with pytest.raises(ValueError, match="groups must have shape"):
        score(groups[0], gamma)
    with pytest.raises(ValueError, match="gamma must have shape"):
        score(groups, gamma[..., 0])
    with pytest.raises(ValueError, match=r"must match groups.*\(2, 3, 4, 2\).*\(2, 3, 3\)"):
        score(groups, np.full((2, 3, 4, 2), 0.5))
    with pytest.raises(ValueError, match="K >= 1"):
        score(groups, np.zeros((2, 3, 3, 0)))
    for where in [(1, 2, 0, 1), (0, 0, 0, 0)]:  # NaN after / before the largest value
        bad = gamma.copy()
        bad[where] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            score(groups, bad)
    bad = np.full((2, 3, 3, 2), 0.5, np.float32)
    bad[1, 1, 1, 0] = np.nan
    groups[1, 1, 1] = 0  # NaN in a pixel that is not scored still is an error
    with pytest.raises(ValueError, match="NaN"):
        score(groups, bad)
    with pytest.raises(ValueError, match="groups must be non-negative"):
        score(-groups, gamma)
    with pytest.raises(ValueError, match="average_method"):
        score(groups, gamma, average_method="median")


# --------------------------------------------------------------------------------------
# ari() against scikit-learn
# --------------------------------------------------------------------------------------
def assert_ari_matches_sklearn(lt, lp, mask=None):
    from sklearn.metrics import adjusted_rand_score

    ours = rc.ari(lt, lp, mask)
    m = np.ones(lt.shape, bool) if mask is None else mask
    ref = np.array([adjusted_rand_score(lt[i][m[i]], lp[i][m[i]]) for i in range(len(lt))])
    assert ours.shape == (len(lt),) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label_batches())
def test_ari_matches_sklearn_random(batch):
    """Random, identical-up-to-renaming, all-distinct and constant labelings, with masks."""
    assert_ari_matches_sklearn(*batch)


@pytest.mark.parametrize("n_pix", [0, 1, 2, 3, 4])
def test_ari_matches_sklearn_on_all_tiny_labelings(n_pix):
    parts = set_partitions(n_pix)
    lt = np.array([a for a in parts for _ in parts], dtype=int).reshape(len(parts) ** 2, n_pix)
    lp = np.array([b for _ in parts for b in parts], dtype=int).reshape(len(parts) ** 2, n_pix)
    assert_ari_matches_sklearn(lt, lp)


def test_ari_identical_constant_and_realistic():
    rng = np.random.default_rng(3)
    lt = rng.integers(1, 4, (20, 784))
    assert_ari_matches_sklearn(lt, lt * 7 + 2)                     # identical up to names
    np.testing.assert_array_equal(rc.ari(lt, lt * 7 + 2), 1.0)
    assert_ari_matches_sklearn(lt, np.zeros_like(lt))              # constant prediction
    assert_ari_matches_sklearn(np.zeros_like(lt), np.zeros_like(lt))
    noisy = np.where(rng.random(lt.shape) < 0.8, lt, rng.integers(1, 4, lt.shape))
    assert_ari_matches_sklearn(lt, noisy, rng.random(lt.shape) < 0.9)


def test_ari_errors():
    with pytest.raises(ValueError, match="same shape"):
        rc.ari(np.zeros((2, 3), int), np.zeros((2, 4), int))
    with pytest.raises(ValueError, match="non-negative"):
        rc.ari(np.full((1, 3), -1), np.zeros((1, 3), int))
    with pytest.raises(ValueError, match="mask"):
        rc.ari(np.zeros((1, 3), int), np.zeros((1, 3), int), np.zeros((1, 2), bool))
