"""Choosing K: can RC tell how many objects an image holds?

RC needs the number of clusters K. The paper sets it to the number of objects and notes
(Section 4.2) that on Shapes the final likelihood peaks at the right K, so that the trend
"can be used to determine the correct number of clusters". This module makes that an
estimator and measures it: RC with the Table 1 DAE runs for every K of :func:`candidates`
on every scored test image, and two rules pick K per image from the final
log-likelihoods:

* ``"likelihood"`` — the K with the highest final log-likelihood (the smallest such K
  where several are equal up to rounding);
* ``"gain"`` — the smallest K whose final log-likelihood has made all but
  :data:`GAIN_FRACTION` of the whole gain from K = 1 to the best K (more clusters add
  little after it: an elbow rule).

Each estimate is compared with the number of objects visible in the image's ground
truth, and RC's score with the estimated K with its score with the true K.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..datasets import dataset_info, label
from ..report import Markdown, markdown_table
from ..tasks import Task
from . import fmt, not_measured, runs

#: The share of the whole gain of the final log-likelihood (K = 1 to the best K) that the
#: gain rule leaves to larger K.
GAIN_FRACTION = 0.05
RULES = ("likelihood", "gain")
#: Relative difference of two final log-likelihoods below which they count as equal (the
#: float32 rounding of RC): the likelihood rule then picks the smaller K.
TIE_TOLERANCE = 1e-6


def candidates(dataset: str) -> list[int]:
    """The K tried: 1 to the data set's K plus 2."""
    return list(range(1, dataset_info(dataset).k + 3))


def estimate_k(final_ll: np.ndarray, ks, rule: str = "likelihood",
               fraction: float = GAIN_FRACTION) -> np.ndarray:
    """Estimated K per image from its final log-likelihoods.

    Parameters
    ----------
    final_ll : array_like, shape (N, len(ks))
        Final log-likelihood of every image for every K.
    ks : sequence of int
        The K of the columns, increasing.
    rule : {"likelihood", "gain"}
        Highest likelihood, or the elbow rule of the module doc.
    fraction : float
        The share of the whole gain that the gain rule leaves to larger K.

    Returns
    -------
    ndarray of int, shape (N,)
    """
    ll = np.asarray(final_ll, dtype=float)
    ks = np.asarray(list(ks))
    if ll.ndim != 2 or ll.shape[1] != ks.size or ks.size == 0:
        raise ValueError(f"final_ll must have shape (N, {ks.size}); got {ll.shape}")
    if np.any(np.diff(ks) <= 0):
        raise ValueError(f"ks must increase; got {ks.tolist()}")
    if rule == "likelihood":  # ties (within float32 rounding): the smaller K
        top = ll.max(axis=1, keepdims=True)
        return ks[np.argmax(ll >= top - TIE_TOLERANCE * np.maximum(np.abs(top), 1.0), axis=1)]
    if rule != "gain":
        raise ValueError(f"rule must be one of {RULES}; got {rule!r}")
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1); got {fraction!r}")
    rise = ll.max(axis=1, keepdims=True) - ll[:, :1]
    enough = ll >= ll[:, :1] + (1.0 - fraction) * rise
    return ks[np.argmax(enough, axis=1)]              # the first K with enough of the gain


def visible_objects(groups: np.ndarray) -> np.ndarray:
    """Objects with at least one pixel of their own, per image."""
    flat = np.asarray(groups).reshape(len(groups), -1)
    return np.array([np.unique(g[g > 0]).size for g in flat])


@dataclass(frozen=True)
class ChooseK:
    """Per data set: the K tried, the estimates per rule, their accuracy and the scores."""

    profile: str
    ks: dict[str, list[int]]
    truth: dict[str, np.ndarray]                   # visible objects per image
    estimates: dict[str, dict[str, np.ndarray]]    # data set -> rule -> K per image
    score_true_k: dict[str, float]                 # mean AMI with the data set's K
    score_estimated_k: dict[str, dict[str, float]]  # ... with each image's estimate
    mean_ll: dict[str, dict[int, float]]           # mean final log-likelihood per K

    def accuracy(self, dataset: str, rule: str) -> float:
        """Fraction of images whose estimate is their number of visible objects."""
        return float(np.mean(self.estimates[dataset][rule] == self.truth[dataset]))


def compute(results) -> ChooseK:
    """RC with every candidate K for every data set of the profile (cached evaluations)."""
    ks, truth, estimates, true_score, est_score, mean_ll = {}, {}, {}, {}, {}, {}
    for d in (results.profile.datasets if runs(results, "choose_k") else ()):
        ks[d] = candidates(d)
        evals = {k: results.evaluation(d, 1, k) for k in ks[d]}
        final_ll = np.stack([evals[k].log_likelihood[:, -1] for k in ks[d]], axis=1)
        ami = np.stack([evals[k].ami[:, -1] for k in ks[d]], axis=1)
        _, groups = results.test_data(d)
        truth[d] = visible_objects(groups)
        estimates[d] = {r: estimate_k(final_ll, ks[d], r) for r in RULES}
        true_score[d] = evals[dataset_info(d).k].score
        rows = np.arange(len(ami))
        est_score[d] = {
            r: float(np.nanmean(ami[rows, np.searchsorted(ks[d], estimates[d][r])]))
            for r in RULES}
        mean_ll[d] = {k: float(evals[k].log_likelihood[:, -1].mean()) for k in ks[d]}
    return ChooseK(results.profile.name, ks, truth, estimates, true_score, est_score, mean_ll)


def answer(result: ChooseK) -> str:
    """The chapter's answer in a sentence: per data set, how often the better rule is right."""
    if not result.ks:
        return not_measured("choose_k")
    best = {d: max(RULES, key=lambda r: result.accuracy(d, r)) for d in result.ks}
    acc = {d: result.accuracy(d, best[d]) for d in result.ks}
    word = ("Mostly" if min(acc.values()) >= 0.8
            else "Not reliably" if max(acc.values()) < 0.8 else "On some data sets")
    return f"{word}: " + "; ".join(f"{label(d)} {acc[d]:.0%} ({best[d]} rule)"
                                   for d in result.ks) + " of the images get the right K."


def mean_accuracy(result: ChooseK) -> dict[str, float]:
    """Per rule, the fraction of images whose K it estimates right, averaged over the data
    sets."""
    return {r: float(np.mean([result.accuracy(d, r) for d in result.ks])) for r in RULES}


def glue_values(result: ChooseK) -> dict[str, str]:
    """The numbers the book's prose quotes: each rule's mean accuracy, the better rule and
    what using its estimate instead of the true K costs RC's mean score."""
    out = {"gain_fraction": fmt(GAIN_FRACTION, ".0%"), "answer_choose_k": answer(result)}
    if not result.ks:
        return {**out, "acc_likelihood": "—", "acc_gain": "—", "best_rule": "—",
                "loss_k": "—"}
    acc = mean_accuracy(result)
    best = max(acc, key=acc.get)
    loss = np.mean([result.score_true_k[d] - result.score_estimated_k[d][best]
                    for d in result.ks])
    return {**out, "acc_likelihood": fmt(acc["likelihood"], ".2f"),
            "acc_gain": fmt(acc["gain"], ".2f"), "best_rule": best, "loss_k": fmt(loss)}


def table(result: ChooseK) -> Markdown:
    """Per data set and rule: how often the estimate is right, and the scores."""
    rows = []
    for d in result.ks:
        for r in RULES:
            rows.append([label(d), r, result.accuracy(d, r),
                         float(np.mean(result.estimates[d][r])),
                         float(np.mean(result.truth[d])), result.score_true_k[d],
                         result.score_estimated_k[d][r]])
    return markdown_table(["data set", "rule", "estimate right", "mean estimated K",
                           "mean visible objects", "score, true K", "score, estimated K"],
                          rows)


def draw(result: ChooseK):
    """Left: the mean final log-likelihood against K per data set (normalised to its range),
    the true K marked. Right: how often each rule picks the right K."""
    import matplotlib.pyplot as plt

    from ..plots import dataset_color, styled

    if not result.ks:
        from ..plots import not_computed
        return not_computed(not_measured("choose_k"))

    @styled
    def make():
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(8.0, 3.0), layout="constrained",
                                     width_ratios=[1.3, 1])
        for i, d in enumerate(result.ks):
            ks = result.ks[d]
            ll = np.array([result.mean_ll[d][k] for k in ks])
            span = ll.max() - ll.min() or 1.0
            norm = (ll - ll.min()) / span
            ax.plot(ks, norm, "o-", color=dataset_color(d, i), ms=3, label=label(d))
            k = dataset_info(d).k
            ax.plot(k, norm[ks.index(k)], "D", mfc="none", mec="black", ms=6)
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 2, 3, 5, 8, 12], ["1", "2", "3", "5", "8", "12"])
        ax.set_xlabel("K")
        ax.set_ylabel("final log-likelihood (scaled to [0, 1])")
        ax.grid(True)
        ax.legend(fontsize=7, loc="lower right")
        names = list(result.ks)
        width = 0.38
        for j, r in enumerate(RULES):
            values = [result.accuracy(d, r) for d in names]
            bx.barh(np.arange(len(names)) + (j - 0.5) * width, values, width * 0.9,
                    color="0.35" if j == 0 else "0.7", label=f"rule: {r}")
        bx.set_yticks(range(len(names)), [label(d) for d in names])
        bx.invert_yaxis()
        bx.set_xlim(0, 1)
        bx.set_xlabel("images whose K is estimated right")
        bx.legend(fontsize=7, loc="lower right")
        bx.grid(axis="x")
        return fig
    return make()


def tasks(results) -> list[Task]:
    """What :func:`compute` needs stored: RC with every candidate K."""
    return [results.evaluation_task(results.eval_spec(d, 1, k))
            for d in (results.profile.datasets if runs(results, "choose_k") else ())
            for k in candidates(d)]
