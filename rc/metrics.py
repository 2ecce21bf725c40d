"""Per-image scoring of a (soft) clustering against ground truth, vectorised over images.

The paper scores every test image by the adjusted mutual information (AMI) between its true
groups and ``argmax_k gamma`` over the pixels whose true group is not 0, normalised by the
MAXIMUM of the two entropies (scikit-learn's behaviour before 0.22, which the paper used), and
reports a confidence, the mean of ``max_k gamma`` over the same pixels. Calling
:func:`sklearn.metrics.adjusted_mutual_info_score` once per image costs ~1-2 ms per image, so
:func:`ami` computes the same quantity for a whole batch with numpy:

* one dense ``np.bincount`` contingency table for all images (labels mapped to 0..R-1 first
  when they are large, a sort when even that is too big), reduced to lists of non-empty
  rows, columns and cells in scikit-learn's order;
* entropies and mutual information from those lists with scikit-learn's formulas (including
  zeroing MI terms below eps and clipping MI at 0), summed per image with ``np.bincount``;
* the expected mutual information (EMI): every term of the hypergeometric sum of every
  (image, row, column) triple, evaluated in cache-sized blocks from ``gammaln`` tables
  (see :func:`_expected_mi`);
* scikit-learn's special cases (1.0 when both labelings have at most one class, 0.0 when
  exactly one has a single class) and its sign-preserving eps clamps of numerator and
  denominator.

An image with nothing to score: :func:`ami` and :func:`ari` keep scikit-learn's
convention (1.0 for empty labelings); the paper's score, :func:`score`, gives NaN for an
image without a pixel of an object (``groups != 0``), with an :class:`UnscoredImageWarning`,
since there is nothing to bind (so do the foreground ARI and AMI of an evaluation,
:func:`rc.pipeline.scores_per_iteration`, through :func:`nan_where_unscored`). The means over images
of the book's figures and tables skip such NaN (``np.nanmean``); the scored images of
every data set of the project all have object pixels.

Results agree with scikit-learn 1.9.1 to round-off (~1e-15). Where the AMI itself is
ill-conditioned -- numerator and denominator at round-off level, e.g. all-distinct labels,
where scikit-learn returns +-eps / +-eps, a value anywhere in [-1, 1] decided by the signs of
its round-off errors -- the few affected images are recomputed by scikit-learn itself, so
:func:`ami` equals it to 1e-9 (in practice ~1e-13) in all cases.
"""
from __future__ import annotations

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import gammaln

from ._checks import check_assignments, check_choice

__all__ = ["ami", "ari", "nan_where_unscored", "score", "AVERAGE_METHODS",
           "UnscoredImageWarning"]

AVERAGE_METHODS = ("max", "min", "arithmetic", "geometric")
#: Version of the per-image scores; part of every cached evaluation's key.
#: 2: evaluations also hold the final ARI and AMI with the arithmetic normaliser.
VERSION = 2

_EPS = float(np.finfo(np.float64).eps)
# Largest number of cells of a dense (images x true labels x predicted labels) table.
_DENSE_CELLS = 1 << 22
# Largest number of (row, column) pairs of images whose EMI is prepared at once.
_PAIR_CHUNK = 1 << 20
# Number of EMI terms evaluated per block (a few float64 arrays of this size stay in cache).
_EMI_BLOCK = 1 << 15
# Bound on |ours - sklearn| for MI, EMI and the normaliser of an image with n scored pixels:
#   _ROUNDOFF * (32 + sqrt(n)) * (1 + |MI| + |EMI| + |normaliser|) + 8 eps lgamma(n + 1) |EMI|.
# The differences come from 1-ulp disagreements of scipy's gammaln / numpy's exp with the C
# library's lgamma / exp used by sklearn and from a different order of summation; measured
# <= 3e-14 (relative) up to n = 30000, well inside the first term. The second term covers the
# worst case of the pmf's log-gamma sums (~n log n) being rounded differently.
_ROUNDOFF = 1e-15
# Images whose AMI could move by more than this under such round-off go to sklearn.
_AMI_TOL = 1e-10
#: How far the assignments of a pixel may sum from 1 over the clusters (float32 rounding).
SUM_TOLERANCE = 1e-3


class UnscoredImageWarning(RuntimeWarning):
    """Some images have no pixel to score (no object pixel): their score is NaN."""


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------
def _as_labelings(labels_true, labels_pred, mask):
    """Validated (labels_true, labels_pred, mask) of equal shape (N, P)."""
    lt = _as_labels(labels_true, "labels_true")
    lp = _as_labels(labels_pred, "labels_pred")
    if lt.shape != lp.shape:
        raise ValueError(
            f"labels_true and labels_pred must have the same shape; got {lt.shape} and {lp.shape}"
        )
    return lt, lp, _as_mask(mask, lt.shape)


def _as_labels(x, name: str) -> np.ndarray:
    """Return ``x`` as a 2-D integer array of non-negative labels, or raise ValueError."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (N, P); got an array with shape {arr.shape}")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name} must hold integer labels; got non-integer values")
        arr = arr.astype(np.int64)
    elif not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer labels; got dtype {arr.dtype}")
    if arr.size and np.issubdtype(arr.dtype, np.signedinteger) and arr.min() < 0:
        raise ValueError(f"{name} must be non-negative; found the label {int(arr.min())}")
    return arr


def _to_numpy(x) -> np.ndarray:
    """``x`` as a numpy array; torch tensors are detached and moved to the CPU first."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor, without importing torch
        x = x.detach().cpu()
        try:
            return x.numpy()
        except TypeError:  # dtypes numpy lacks (bfloat16, ...)
            return x.float().numpy()
    return np.asarray(x)


def _as_mask(mask, shape: tuple[int, ...]) -> np.ndarray:
    """Return ``mask`` as a bool array of ``shape`` (all True when None), or raise ValueError."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    m = np.asarray(mask)
    if m.shape != shape:
        raise ValueError(f"mask must have the shape of the labels {shape}; got {m.shape}")
    if m.dtype != bool:
        if not (np.issubdtype(m.dtype, np.number) and np.all((m == 0) | (m == 1))):
            raise ValueError("mask must be boolean (or hold only 0 and 1)")
        m = m.astype(bool)
    return m


def _compact(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Map labels to 0..R-1 preserving order; a look-up table when small, else a sort."""
    if values.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    top = int(values.max())
    if np.issubdtype(values.dtype, np.integer) and top < max(4 * values.size, 1 << 16):
        present = np.zeros(top + 1, dtype=bool)
        present[values] = True
        lut = np.cumsum(present, dtype=np.int64) - 1
        return lut[values], int(lut[-1]) + 1
    uniq, inv = np.unique(values, return_inverse=True)
    return inv.reshape(-1).astype(np.int64), int(uniq.size)


# --------------------------------------------------------------------------------------
# contingency tables as lists of non-empty rows / columns / cells
# --------------------------------------------------------------------------------------
def _tables(lt: np.ndarray, lp: np.ndarray, m: np.ndarray):
    """Non-empty rows, columns and cells of every image's contingency table.

    Returns (row_img, a, col_img, b, cell_row, cell_col, nij, n): rows sorted by (image,
    true label) with their counts ``a``, columns by (image, predicted label) with counts
    ``b``, cells by (image, true, predicted) -- the order in which scikit-learn visits them --
    with ``cell_row``/``cell_col`` indexing the row/column lists, and ``n`` the number of
    scored pixels per image. Small labels go straight into one dense bincount table; many
    distinct labels are first mapped to 0..R-1, and a sort replaces the table when even
    that would be too large.
    """
    n_img = lt.shape[0]
    n_t = int(lt.max()) + 1 if lt.size else 0
    n_p = int(lp.max()) + 1 if lp.size else 0
    if n_img * n_t * n_p <= _DENSE_CELLS:
        key = lt.astype(np.int64) * n_p
        key += lp.astype(np.int64, copy=False)
        key += (np.arange(n_img, dtype=np.int64) * (n_t * n_p))[:, None]
        return _from_dense(np.bincount(key[m], minlength=n_img * n_t * n_p), n_img, n_t, n_p)
    img = np.nonzero(m)[0]
    t, n_t = _compact(lt[m])
    p, n_p = _compact(lp[m])
    if n_img * n_t * n_p <= _DENSE_CELLS:
        key = (img * n_t + t) * n_p + p
        return _from_dense(np.bincount(key, minlength=n_img * n_t * n_p), n_img, n_t, n_p)
    # Sparse: too many distinct labels for a dense table; sort instead.
    rows, row_inv = np.unique(img * n_t + t, return_inverse=True)
    cols, col_inv = np.unique(img * n_p + p, return_inverse=True)
    a = np.bincount(row_inv, minlength=rows.size)
    b = np.bincount(col_inv, minlength=cols.size)
    cells, nij = np.unique(row_inv * cols.size + col_inv, return_counts=True)
    n = np.bincount(img, minlength=n_img)
    return (rows // n_t, a, cols // n_p, b, cells // cols.size, cells % cols.size, nij, n)


def _from_dense(flat_counts: np.ndarray, n_img: int, n_t: int, n_p: int):
    """:func:`_tables` output from a dense (images x true x predicted) count table."""
    counts = flat_counts.reshape(n_img, n_t, n_p)
    a_full, b_full = counts.sum(axis=2), counts.sum(axis=1)
    row_nz, col_nz = a_full > 0, b_full > 0
    row_id = np.cumsum(row_nz.ravel()).reshape(row_nz.shape) - 1
    col_id = np.cumsum(col_nz.ravel()).reshape(col_nz.shape) - 1
    row_img = np.nonzero(row_nz)[0]
    col_img = np.nonzero(col_nz)[0]
    ci, ct, cp = np.nonzero(counts)
    return (row_img, a_full[row_nz], col_img, b_full[col_nz],
            row_id[ci, ct], col_id[ci, cp], counts[ci, ct, cp], a_full.sum(axis=1))


def _chunks(sizes: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Consecutive ranges [lo, hi) of items whose sizes sum to <= limit (>= 1 item each)."""
    ends = np.cumsum(sizes)
    out, lo = [], 0
    while lo < sizes.size:
        base = ends[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(ends, base + limit, side="right")))
        out.append((lo, hi))
        lo = hi
    return out


def _ragged_arange(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For segments of the given lengths: (segment id, position within segment) per element."""
    seg = np.repeat(np.arange(lengths.size), lengths)
    starts = np.cumsum(lengths) - lengths
    return seg, np.arange(seg.size) - starts[seg]


def _expected_mi(ai: np.ndarray, bj: np.ndarray, nn: np.ndarray, pair_img: np.ndarray,
                 n_img: int) -> np.ndarray:
    """Expected mutual information per image under the permutation (hypergeometric) model.

    For every (row, column) pair of an image (marginals ``ai``, ``bj``, image size ``nn``)
    it sums, like scikit-learn's ``expected_mutual_information``, over
    n_ij = max(1, a + b - n) .. min(a, b) the terms
    (n_ij / n) * log(n n_ij / (a b)) * hypergeometric_pmf(n_ij; n, a, b).

    Speed: pairs are bucketed by the length of their n_ij range and processed as dense
    (pairs x width) blocks of ~_EMI_BLOCK terms (cache-sized, bounding memory). Every
    log-gamma term of a block row is a contiguous slice of a padded ``gammaln`` table, so
    it is read through a sliding-window view with one row gather instead of per-term fancy
    indexing; out-of-range padding is +inf in the table, which makes the pmf exactly 0.
    """
    emi = np.zeros(n_img)
    if ai.size == 0:
        return emi
    n_max = int(nn.max())
    start = np.maximum(1, ai + bj - nn)
    end = np.minimum(ai, bj)
    length = end - start + 1
    # Widths: length rounded up to a multiple of ~1/8 of its octave (padding <= ~25%).
    gran = np.maximum(4, 1 << np.maximum(0, np.floor(np.log2(length)).astype(np.int64) - 3))
    width = -(-length // gran) * gran
    w_max = int(width.max())

    # Padded tables, indexed by value + off: gammaln(x) for 1 <= x <= n_max + 1 (else +inf),
    # log(x) for 1 <= x <= n_max (else 0), and x itself.
    off = n_max + w_max + 2
    size = off + n_max + w_max + 3
    lg_tab = np.full(size, np.inf)
    lg_tab[off + 1: off + n_max + 2] = gammaln(np.arange(1, n_max + 2, dtype=np.float64))
    lg_rev = lg_tab[::-1].copy()  # lg_rev[size - 1 - i] = lg_tab[i]
    log_tab = np.zeros(size)
    log_tab[off + 1: off + n_max + 1] = np.log(np.arange(1, n_max + 1, dtype=np.float64))

    # Per-pair constants. With n_ij = k, the summand is (k / n) * term2 * pmf where
    # k * pmf = exp(const - lg[k] - lg[a-k+1] - lg[b-k+1] - lg[n-a-b+k+1])  (k / k! = 1 / (k-1)!)
    # and term2 = log(n k / (a b)) = log k + shift.
    const = (lg_tab[off + ai + 1] + lg_tab[off + bj + 1] + lg_tab[off + nn - ai + 1]
             + lg_tab[off + nn - bj + 1] - lg_tab[off + nn + 1])
    shift = np.log(nn) - log_tab[off + ai] - log_tab[off + bj]
    # Rows of the sliding windows (window row i, column j = table[i + j]) giving each term.
    i_k = off + start                               # lg[k] and log k
    i_nab = off + nn - ai - bj + start + 1          # lg[n - a - b + k + 1]
    i_a = size - 2 - off - ai + start               # lg[a - k + 1], reversed table
    i_b = size - 2 - off - bj + start               # lg[b - k + 1], reversed table

    per_pair = np.zeros(ai.size)
    order = np.argsort(width, kind="stable")
    bounds = np.flatnonzero(np.diff(width[order])) + 1
    for group in np.split(order, bounds):
        w = int(width[group[0]])
        win_lg = sliding_window_view(lg_tab, w)
        win_rev = sliding_window_view(lg_rev, w)
        win_log = sliding_window_view(log_tab, w)
        rows = max(1, _EMI_BLOCK // w)
        for r0 in range(0, group.size, rows):
            q = group[r0: r0 + rows]
            g = win_lg[i_k[q]]
            g += win_lg[i_nab[q]]
            g += win_rev[i_a[q]]
            g += win_rev[i_b[q]]
            k_pmf = np.exp(np.subtract(const[q, None], g, out=g), out=g)
            term2 = win_log[i_k[q]]
            term2 += shift[q, None]
            per_pair[q] = np.einsum("ij,ij->i", k_pmf, term2)
    return np.bincount(pair_img, weights=per_pair / nn, minlength=n_img)


def _generalized_average(u: np.ndarray, v: np.ndarray, method: str) -> np.ndarray:
    """Elementwise version of scikit-learn's ``_generalized_average``."""
    if method == "min":
        return np.minimum(u, v)
    if method == "max":
        return np.maximum(u, v)
    if method == "geometric":
        return np.sqrt(u * v)
    return (u + v) / 2.0


def _clamp_eps(x: np.ndarray) -> np.ndarray:
    """Push |x| up to machine epsilon keeping the sign (0 counts as positive), as sklearn."""
    return np.where(x < 0, np.minimum(x, -_EPS), np.maximum(x, _EPS))


def _ami_parts(lt: np.ndarray, lp: np.ndarray, m: np.ndarray, average_method: str):
    """Vectorised AMI of validated inputs, without the ill-conditioning fallback.

    Returns (ami, general, n, mi, emi, normalizer), all (N,): ``general`` marks images that are
    not one of scikit-learn's special cases (for which ``ami`` is exactly 1.0 or 0.0 and the
    other entries are unused).
    """
    n_img = lt.shape[0]
    row_img, a, col_img, b, cell_row, cell_col, nij, n = _tables(lt, lp, m)
    n_rows = np.bincount(row_img, minlength=n_img)
    n_cols = np.bincount(col_img, minlength=n_img)

    # Special cases of scikit-learn (decided before any arithmetic).
    both_trivial = (n_rows == n_cols) & (n_rows <= 1)
    one_trivial = ~both_trivial & ((n_rows == 1) | (n_cols == 1))
    general = ~(both_trivial | one_trivial)
    out = np.where(both_trivial, 1.0, 0.0)
    if not general.any():
        zeros = np.zeros(n_img)
        return out, general, n, zeros, zeros, zeros

    nf = n.astype(np.float64)
    log_n = np.log(np.maximum(nf, 1.0))

    # Entropies: -sum (a/n) (log a - log n), summed in label order.
    def entropy(seg_img: np.ndarray, counts: np.ndarray) -> np.ndarray:
        terms = (counts / nf[seg_img]) * (np.log(counts) - log_n[seg_img])
        return -np.bincount(seg_img, weights=terms, minlength=n_img)

    h_true = entropy(row_img, a)
    h_pred = entropy(col_img, b)

    # Mutual information over non-empty cells; tiny elements zeroed, total clipped at 0.
    cell_img = row_img[cell_row]
    cnm = nij / nf[cell_img]
    outer = a[cell_row].astype(np.int64) * b[cell_col].astype(np.int64)
    log_outer = -np.log(outer) + log_n[cell_img] + log_n[cell_img]
    mi_terms = cnm * (np.log(nij) - log_n[cell_img]) + cnm * log_outer
    mi_terms = np.where(np.abs(mi_terms) < _EPS, 0.0, mi_terms)
    mi = np.clip(np.bincount(cell_img, weights=mi_terms, minlength=n_img), 0.0, None)

    # Expected MI over all (row, column) pairs of each general image, in chunks of images
    # with at most _PAIR_CHUNK pairs (bounds memory when images have many labels).
    emi = np.zeros(n_img)
    col_start = np.cumsum(n_cols) - n_cols
    row_end = np.cumsum(n_rows)
    for lo, hi in _chunks(np.where(general, n_rows * n_cols, 0), _PAIR_CHUNK):
        rows = np.arange(row_end[lo] - n_rows[lo], row_end[hi - 1])
        rows = rows[general[row_img[rows]]]
        seg, off = _ragged_arange(n_cols[row_img[rows]])
        pair_row = rows[seg]
        pair_img = row_img[pair_row]
        pair_col = col_start[pair_img] + off
        emi += _expected_mi(a[pair_row], b[pair_col], n[pair_img], pair_img, n_img)

    normalizer = _generalized_average(h_true, h_pred, average_method)
    num_raw = mi - emi
    den_raw = normalizer - emi
    with np.errstate(divide="ignore", invalid="ignore"):
        value = _clamp_eps(num_raw) / _clamp_eps(den_raw)
    out = np.where(general, value, out)
    return out, general, n, mi, emi, normalizer


def _ill_conditioned(n, general, mi, emi, normalizer) -> np.ndarray:
    """Images whose AMI = (MI - EMI) / (normaliser - EMI) is too sensitive to round-off.

    With absolute errors up to ``delta`` in numerator and denominator the ratio can move by
    delta * (1 + |num| / |den|) / (|den| - delta); such images (typically numerator and
    denominator both ~0, where sklearn returns +-eps / +-eps, i.e. a round-off sign) are
    recomputed by sklearn itself.
    """
    delta = (_ROUNDOFF * (32.0 + np.sqrt(n)) * (1.0 + np.abs(mi) + np.abs(emi) + np.abs(normalizer))
             + 8.0 * _EPS * gammaln(n + 1.0) * np.abs(emi))
    num, den = np.abs(mi - emi), np.abs(normalizer - emi)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = delta * (1.0 + num / den) / (den - delta)
    return general & ~((den > delta) & (bound <= _AMI_TOL))


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------
def ami(
    labels_true: np.ndarray,
    labels_pred: np.ndarray,
    mask: np.ndarray | None = None,
    average_method: str = "max",
) -> np.ndarray:
    """Adjusted mutual information of every image (row) of two labelings.

    Parameters
    ----------
    labels_true, labels_pred : (N, P) arrays of non-negative integer labels (any values,
        gaps allowed; float arrays holding integers are accepted).
    mask : optional (N, P) bool array of the pixels to score (default: all).
    average_method : "max" (default, the paper's: scikit-learn < 0.22), "min",
        "arithmetic" (today's scikit-learn default) or "geometric" normaliser.

    Returns
    -------
    (N,) float64 array: entry n equals
    ``adjusted_mutual_info_score(labels_true[n][mask[n]], labels_pred[n][mask[n]])`` of
    ``sklearn.metrics`` (with ``average_method``),
    including its conventions: 1.0 when both labelings have a single class or no pixel
    (an image with nothing to score: :func:`score` gives NaN instead),
    0.0 when exactly one of them has a single class. Images whose AMI is ill-conditioned
    (round-off could move it by > 1e-10, e.g. all-distinct labels) are computed by calling
    scikit-learn itself; realistic images never are.
    """
    check_choice(average_method, "average_method", AVERAGE_METHODS)
    lt, lp, m = _as_labelings(labels_true, labels_pred, mask)
    out, general, n, mi, emi, normalizer = _ami_parts(lt, lp, m, average_method)
    for i in np.nonzero(_ill_conditioned(n, general, mi, emi, normalizer))[0]:
        # imported here: scikit-learn takes seconds to import and is rarely needed
        from sklearn.metrics import adjusted_mutual_info_score

        out[i] = adjusted_mutual_info_score(
            lt[i][m[i]], lp[i][m[i]], average_method=average_method
        )
    return out


def ari(labels_true: np.ndarray, labels_pred: np.ndarray,
        mask: np.ndarray | None = None) -> np.ndarray:
    """Adjusted Rand index of every image (row) of two labelings.

    Computed as scikit-learn computes it, from the pair confusion matrix in integers
    (true positives ``tp``: pairs together in both labelings, ``fn``: together only in
    ``labels_true``, ``fp``: only in ``labels_pred``, ``tn``: in neither), as
    ``2 (tp tn - fn fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn))``, and 1.0 when
    ``fn = fp = 0`` (identical partitions, or fewer than two pixels, none included: for
    an image with nothing to score, :func:`nan_where_unscored` gives NaN instead). Over
    the pixels of ``mask`` with ``groups != 0`` this is the foreground ARI ("FG-ARI") of
    later object-discovery work.

    Parameters
    ----------
    labels_true, labels_pred : array_like, shape (N, P)
        Non-negative integer labels.
    mask : array_like of bool, shape (N, P), optional
        The pixels to score (default: all).

    Returns
    -------
    ndarray of float64, shape (N,)
        Entry n equals ``sklearn.metrics.adjusted_rand_score`` of the masked row n.
    """
    lt, lp, m = _as_labelings(labels_true, labels_pred, mask)
    n_img = lt.shape[0]
    row_img, a, col_img, b, cell_row, _, nij, n = _tables(lt, lp, m)
    a, b, nij, n = (x.astype(np.int64) for x in (a, b, nij, n))
    sum_squares = np.bincount(row_img[cell_row], weights=nij * nij, minlength=n_img)
    sum_squares = np.rint(sum_squares).astype(np.int64)
    rows = np.rint(np.bincount(row_img, weights=a * a, minlength=n_img)).astype(np.int64)
    cols = np.rint(np.bincount(col_img, weights=b * b, minlength=n_img)).astype(np.int64)
    tp = sum_squares - n
    fp = cols - sum_squares            # contingency . n_k, summed: sum_j b_j^2
    fn = rows - sum_squares
    tn = n * n - fp - fn - sum_squares
    num = 2.0 * (tp.astype(np.float64) * tn - fn.astype(np.float64) * fp)
    den = ((tp + fn).astype(np.float64) * (fn + tn) + (tp + fp).astype(np.float64) * (fp + tn))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where((fn == 0) & (fp == 0), 1.0, out)


def score(groups, gamma, average_method: str = "max") -> tuple[np.ndarray, np.ndarray]:
    """Paper score of every image: (AMI, confidence) of soft assignments ``gamma``.

    Parameters
    ----------
    groups : (N, H, W) non-negative integer ground truth; 0 = background / overlap, not scored.
    gamma : (N, H, W, K) soft assignments (numpy array or torch tensor), K >= 1: finite,
        in [0, 1] and summing to 1 over K within :data:`SUM_TOLERANCE` (ValueError
        otherwise).
    average_method : AMI normaliser, default "max" as in the paper (see :func:`ami`).

    Returns
    -------
    ami : (N,) float64, AMI between ``groups`` and ``argmax_k gamma`` over pixels with
        ``groups != 0``; NaN for an image without such a pixel (nothing to score), with
        an :class:`UnscoredImageWarning`.
    confidence : (N,) float64, mean of ``max_k gamma`` over the same pixels (NaN for an
        image without a scored pixel).
    """
    check_choice(average_method, "average_method", AVERAGE_METHODS)
    g = _to_numpy(groups)
    if g.ndim != 3:
        raise ValueError(f"groups must have shape (N, H, W); got an array with shape {g.shape}")
    gm = _to_numpy(gamma)
    if gm.ndim != 4:
        raise ValueError(f"gamma must have shape (N, H, W, K); got an array with shape {gm.shape}")
    if gm.shape[:3] != g.shape:
        raise ValueError(
            f"gamma (N, H, W, K) must match groups (N, H, W); got gamma {gm.shape} "
            f"and groups {g.shape}"
        )
    if gm.shape[3] < 1:
        raise ValueError(f"gamma must have K >= 1 clusters; got shape {gm.shape}")
    check_assignments(gm, "gamma", SUM_TOLERANCE)

    n_img, n_pix, k = g.shape[0], g.shape[1] * g.shape[2], gm.shape[3]
    labels_true = _as_labels(g.reshape(n_img, n_pix), "groups")
    flat = np.ascontiguousarray(gm).reshape(-1)
    labels_pred = flat.reshape(n_img, n_pix, k).argmax(axis=2)
    # max_k gamma by gathering at the argmax (much faster than a max over a short last axis)
    pos = np.arange(0, labels_pred.size * k, k, dtype=np.intp).reshape(labels_pred.shape)
    pos += labels_pred
    top = flat.take(pos)
    # argmax returns the position of the first NaN of a pixel, so any NaN shows up in top.
    if top.dtype.kind == "f" and np.isnan(top).any():
        raise ValueError("gamma contains NaN")
    return _score_hard(labels_true, labels_pred, top, average_method)


def score_argmax(groups, labels, top, average_method: str = "max"
                 ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`score` from ``labels = argmax_k gamma`` and ``top = max_k gamma``, each
    (N, P) with P = H * W, so that callers holding gamma elsewhere (e.g. on a GPU) only
    move these two small arrays. ``groups`` is (N, H, W) or (N, P); ``top`` must hold
    finite values in [0, 1]."""
    check_choice(average_method, "average_method", AVERAGE_METHODS)
    g = _to_numpy(groups)
    g = g.reshape(g.shape[0], -1) if g.ndim >= 2 else g
    labels, top = _to_numpy(labels), _to_numpy(top)
    if g.ndim != 2 or labels.shape != g.shape or top.shape != g.shape:
        raise ValueError(f"groups, labels and top must describe the same (N, P) pixels; got "
                         f"{np.shape(groups)}, {labels.shape} and {top.shape}")
    if top.dtype.kind == "f" and np.isnan(top).any():
        raise ValueError("gamma contains NaN")
    if top.size and (not np.isfinite(top).all() or top.min() < 0 or top.max() > 1):
        raise ValueError("gamma must hold finite probabilities in [0, 1]")
    return _score_hard(_as_labels(g, "groups"), labels, top, average_method)


def nan_where_unscored(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``values`` (N,) as float64 with NaN for the images (rows) whose ``mask`` (N, P)
    selects no pixel: the score of an image with nothing to score."""
    out = np.asarray(values, dtype=np.float64).copy()
    out[~np.asarray(mask).reshape(len(out), -1).any(axis=1)] = np.nan
    return out


def _score_hard(labels_true, labels_pred, top, average_method):
    mask = labels_true != 0
    scores = ami(labels_true, labels_pred, mask, average_method)
    unscored = int((~mask.any(axis=1)).sum())
    if unscored:
        warnings.warn(f"{unscored} of {len(mask)} image(s) have no object pixel (groups != "
                      "0) to score; their AMI is NaN", UnscoredImageWarning, stacklevel=3)
        scores = nan_where_unscored(scores, mask)

    count = np.count_nonzero(mask, axis=1)
    total = np.where(mask, top, 0).sum(axis=1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        confidence = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return scores, confidence
