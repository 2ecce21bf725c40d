"""Figure 5: RC runs on Shapes, from the sorted scores down to single runs.

Soft RC with the Shapes Table 1 DAE on the scored test images: the final score of every
image, sorted, with its confidence (the mean of max_k gamma over the scored pixels), and
six example runs at evenly spaced ranks (0, 200, ..., 999 of 1,000) with their
assignments at iterations 0, 1, 2, 3, 5, 7 and 10, their ground truth and their
log-likelihood traces. Figures 10 and 11 (:mod:`rc.paper.fig10`, :mod:`rc.paper.fig11`)
show the same view for other DAEs and data sets and use :func:`compute` and :func:`plot`
from here.

The paper makes no quantitative claim about this figure beyond those of Figure 4.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.ticker import MaxNLocator

from .._checks import checked_field
from ..cache import Record
from ..cost import RC_FLOP
from ..datasets import dataset_info
from ..plots import (
    InchLayout,
    assignment_rgb,
    checked_floats,
    checked_groups,
    checked_image,
    checked_number,
    checked_vector,
    groups_rgb,
    sequence_colors,
    show_rgb,
    styled,
)
from ..specs import EvalSpec
from ..tasks import Task

#: The iterations the paper shows (those a run has, plus its last, are drawn).
SHOWN_ITERATIONS = (0, 1, 2, 3, 5, 7, 10)
#: How many example runs are shown.
N_EXAMPLES = 6
#: Version of the example-run computation (part of its cache key).
VERSION = 1


def shown_iterations(n_iters: int) -> list[int]:
    """The iterations of :data:`SHOWN_ITERATIONS` that a run of ``n_iters`` has, plus its last."""
    return sorted({t for t in SHOWN_ITERATIONS if t <= n_iters} | {n_iters})


def example_ranks(n: int, count: int = N_EXAMPLES) -> list[int]:
    """Sorted-score ranks of the examples shown (0, 200, ..., 999 for n = 1000)."""
    return sorted({min(n - 1, int(round(i * n / (count - 1)))) for i in range(count)})


@dataclass(frozen=True)
class ExampleRuns(Record):
    """Full RC histories of a few test images picked by their rank in the sorted scores."""

    ids: np.ndarray = checked_field("n")                 # test-image indices
    ranks: np.ndarray = checked_field("n")               # their positions in the sorted scores
    images: np.ndarray = checked_field("n", "H", "W")
    groups: np.ndarray = checked_field("n", "H", "W")
    gamma_history: np.ndarray = checked_field("T1", "n", "H", "W", "K", finite=True)
    log_likelihood: np.ndarray = checked_field("n", None)  # (n, 2T+1)
    ami: np.ndarray = checked_field("n", "T1")
    provenance: dict

    def as_dicts(self) -> list[dict]:
        """The runs as the dicts :func:`plot` takes."""
        return [{"image": self.images[j], "groups": self.groups[j],
                 "gamma_history": self.gamma_history[:, j],
                 "log_likelihood": self.log_likelihood[j], "rank": int(self.ranks[j]),
                 "score": float(self.ami[j, -1])} for j in range(len(self.ids))]


@dataclass(frozen=True)
class RCRuns:
    """One data set's RC evaluation and example runs (Figures 5, 10 and 11)."""

    dataset: str
    table: int
    e_step: str
    k: int
    n_iters: int
    score: np.ndarray        # (N,) final AMI per image
    confidence: np.ndarray   # (N,) final confidence per image
    mean_ami: np.ndarray     # (T+1,) mean AMI after every iteration
    log_likelihood: np.ndarray  # (N, 2T+1)
    examples: ExampleRuns

    @property
    def mean_score(self) -> float:
        return float(np.nanmean(self.score))

    @property
    def median_score(self) -> float:
        return float(np.nanmedian(self.score))

    @property
    def mean_confidence(self) -> float:
        return float(np.nanmean(self.confidence))

    @property
    def n_images(self) -> int:
        return int(self.score.size)

    @property
    def confidence_relation(self) -> str:
        """What the rank correlation of confidence and score says, as a phrase."""
        rho = self.confidence_rank_correlation
        if not np.isfinite(rho):
            return "undefined (constant input)"
        return ("positive: more confident runs tend to score higher" if rho > 0 else
                "not positive: here confidence is no guide to the score")

    @property
    def confidence_rank_correlation(self) -> float:
        """Spearman correlation of confidence and score over the images (NaN if undefined)."""
        from scipy.stats import spearmanr

        with np.errstate(invalid="ignore", divide="ignore"):
            return float(spearmanr(self.confidence, self.score)[0])


def example_runs(results, spec: EvalSpec, count: int = N_EXAMPLES) -> ExampleRuns:
    """The runs of ``spec`` at :func:`example_ranks`, re-run with full histories.

    RC is re-run on the chosen images with their image ids, so the runs are exactly those
    of the evaluation (cached).
    """
    def compute():
        final = results.scores_per_iteration(spec).ami[:, -1]
        order = np.argsort(-final, kind="stable")
        ranks = np.array(example_ranks(len(order), count))
        ids = order[ranks]
        images, groups = results.load(spec.data)
        res = spec.rc.run(results.trained(spec.training).dae, images[ids], groups=groups[ids],
                          image_ids=ids, keep_history=True)
        return ExampleRuns(ids, ranks, images[ids], groups[ids], res.gamma_history,
                           res.log_likelihood, res.ami, results.provenance())
    t = examples_task(results, spec, count)
    return results.cached(t.name, t.inputs, compute, ExampleRuns, describe=t.describe)


def examples_task(results, spec: EvalSpec, count: int = N_EXAMPLES) -> Task:
    """The stored example runs of ``spec`` as a task (computed by :func:`example_runs`,
    after the evaluation)."""
    inputs = {"evaluation": spec.inputs(), "count": count, "version": VERSION}
    return Task(f"examples/{spec.name}", inputs, ExampleRuns, RC_FLOP,
                (results.evaluation_task(spec),), describe=f"the example runs of {spec.name}")


def tasks(results, dataset: str = "shapes", table: int = 1, e_step: str | None = None
          ) -> list[Task]:
    """What :func:`compute` stores: the evaluation and its example runs."""
    spec = results.eval_spec(dataset, table, e_step=e_step)
    return [results.evaluation_task(spec), examples_task(results, spec)]


def compute(results, dataset: str = "shapes", table: int = 1, e_step: str | None = None
            ) -> RCRuns:
    """The evaluation and example runs of a table's DAE on ``dataset`` (default: Fig. 5)."""
    spec = results.eval_spec(dataset, table, e_step=e_step)
    ev = results.scores_per_iteration(spec)
    return RCRuns(dataset, table, spec.rc.e_step, spec.rc.k, spec.rc.n_iters,
                  ev.ami[:, -1], ev.confidence[:, -1], ev.ami.mean(axis=0),
                  ev.log_likelihood, example_runs(results, spec))


def glue_values(result: RCRuns) -> dict:
    """The numbers the book's prose quotes about the figure: scores, confidence and the
    mean score at the start, at the paper's settling iteration and at the end."""
    from .. import published

    t_mid = min(published.PAPER_SETTLED[0], result.n_iters)
    return {
        "shapes_score": result.mean_score, "shapes_median": result.median_score,
        "paper_shapes_score": published.TABLE1[result.dataset].score,
        "shapes_conf": result.mean_confidence,
        "rho_conf": result.confidence_rank_correlation,
        "conf_phrase": result.confidence_relation, "ami_t0": result.mean_ami[0],
        "ami_tmid": result.mean_ami[t_mid], "t_mid": t_mid,
        "ami_final": result.mean_ami[-1],
        "example_ranks": ", ".join(str(r) for r in result.examples.ranks),
    }

def draw(result: RCRuns):
    """The figure: sorted scores and confidence above the example runs."""
    return plot(result.score, result.confidence, result.examples.as_dicts(),
                iterations=shown_iterations(result.n_iters))


def objects(dataset: str) -> int:
    """Objects per test image of ``dataset``."""
    return dataset_info(dataset).n_objects


def _check_example(ex, index: int, n_scores: int) -> dict:
    if not isinstance(ex, Mapping):
        raise ValueError(f"examples[{index}] must be a dict")
    missing = {"image", "groups", "gamma_history", "log_likelihood", "rank", "score"} - set(ex)
    if missing:
        raise ValueError(f"examples[{index}] lacks the keys {sorted(missing)}")
    img = checked_image(ex["image"], f"examples[{index}]['image']")
    groups = checked_groups(ex["groups"], img.shape)
    hist = checked_floats(ex["gamma_history"], f"examples[{index}]['gamma_history']")
    if hist.ndim != 4 or hist.shape[1:3] != img.shape or hist.shape[0] < 1 or hist.shape[3] < 1:
        raise ValueError(
            f"examples[{index}]['gamma_history'] must have shape (T+1, H, W, K) with "
            f"(H, W) = {img.shape}; got {hist.shape}"
        )
    t = hist.shape[0] - 1
    ll = checked_floats(ex["log_likelihood"], f"examples[{index}]['log_likelihood']")
    if ll.shape != (2 * t + 1,):
        raise ValueError(
            f"examples[{index}]['log_likelihood'] must have shape (2T+1,) = ({2 * t + 1},) "
            f"for T = {t} iterations; got {ll.shape}"
        )
    rank = ex["rank"]
    if (isinstance(rank, bool) or not isinstance(rank, (int, np.integer))
            or not 0 <= rank < n_scores):
        raise ValueError(f"examples[{index}]['rank'] must be an integer in [0, {n_scores}); "
                         f"got {rank!r}")
    return {"image": img, "groups": groups, "history": hist, "ll": ll[::2], "T": t,
            "rank": int(rank), "score": checked_number(ex["score"], f"examples[{index}]['score']")}


@dataclass(frozen=True)
class _Layout:
    """Where the panels of :func:`plot` go (inches from the top left)."""

    lay: InchLayout
    left: float
    right: float
    title_h: float
    top_h: float
    cell: float
    gap: float
    truth_gap: float
    grid_top: float
    grid_w: float
    ll_gap: float
    ll_w: float
    rows: int

    def row_top(self, r: int) -> float:
        """Top of image row ``r`` (the last row, the truth, sits a little lower)."""
        extra = self.truth_gap if r == self.rows - 1 else 0.0
        return self.grid_top + r * (self.cell + self.gap) + extra


def _layout(n_examples: int, n_rows: int, title: str | None) -> _Layout:
    left, right, ll_gap, ll_w, gap, truth_gap = 0.62, 0.42, 0.22, 1.45, 0.05, 0.12
    cell = min(0.85, (8.0 - left - right - ll_gap - ll_w - (n_examples - 1) * gap)
               / n_examples)
    grid_w = n_examples * cell + (n_examples - 1) * gap
    width = left + grid_w + ll_gap + ll_w + right
    title_h = 0.32 if title else 0.08
    top_h, top_axis, head_h = 1.45, 0.5, 0.36
    grid_top = title_h + top_h + top_axis + head_h
    grid_h = n_rows * cell + (n_rows - 1) * gap + truth_gap
    bottom = max(0.08, 0.5 - (cell + gap + truth_gap))
    lay = InchLayout(width, grid_top + grid_h + bottom)
    if title:
        lay.text(width / 2, 0.08, title, ha="center", va="top", fontsize=10)
    return _Layout(lay, left, right, title_h, top_h, cell, gap, truth_gap, grid_top, grid_w,
                   ll_gap, ll_w, n_rows)


def _sorted_scores_panel(g: _Layout, scores, confidence, exs, colors) -> None:
    """Top: the scores sorted in descending order and each image's confidence; dashed
    lines at the examples' ranks."""
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
    ax = g.lay.axes(g.left, g.title_h, g.lay.w - g.left - g.right, g.top_h)
    xs = np.arange(scores.size)
    ax.scatter(xs, confidence[order], s=3 if scores.size > 300 else 7, color="#E69F00",
               alpha=0.6, lw=0,
               label="confidence", zorder=2, rasterized=scores.size > 2000)
    ax.plot(xs, scores[order], color="0.1", lw=1.4, label="score (AMI), sorted", zorder=3)
    for e, c in zip(exs, colors):
        ax.axvline(e["rank"], color=c, lw=1.0, ls=(0, (4, 2)), zorder=1)
        ax.plot(e["rank"], scores[order][e["rank"]], "o", color=c, ms=4, zorder=4)
    low = np.nanmin(np.concatenate([scores, confidence]))
    ax.set_ylim(min(0.0, low) - 0.03, 1.03)
    ax.set_xlim(-0.5 - 0.01 * scores.size, scores.size - 0.5 + 0.01 * scores.size)
    ax.set_xlabel("test images, sorted by score")
    ax.set_ylabel("score")
    legend = ax.legend(loc="lower left", markerscale=2.5 if scores.size > 300 else 1.5,
                       frameon=True, framealpha=0.92, edgecolor="none", borderpad=0.3)
    legend.set_zorder(5)


def _image_grid(g: _Layout, exs, colors, its) -> None:
    """One column per example: its assignments at iterations ``its``, then the truth."""
    for j, (e, c) in enumerate(zip(exs, colors)):
        x = g.left + j * (g.cell + g.gap)
        g.lay.text(x + g.cell / 2, g.grid_top - 0.05,
                   f"rank {e['rank']}\nscore {e['score']:.2f}",
                   ha="center", va="bottom", fontsize=7.5, color=c, linespacing=1.1)
        for r, t in enumerate(its):
            show_rgb(g.lay.axes(x, g.row_top(r), g.cell, g.cell),
                      assignment_rgb(e["image"], e["history"][t]))
        show_rgb(g.lay.axes(x, g.row_top(g.rows - 1), g.cell, g.cell),
                  groups_rgb(e["image"], e["groups"]))
    for r in range(g.rows):
        label = f"t = {its[r]}" if r < len(its) else "truth"
        g.lay.text(g.left - 0.08, g.row_top(r) + g.cell / 2, label, ha="right",
                   va="center", fontsize=8)


def _likelihood_panel(g: _Layout, exs, colors, its) -> None:
    """Right: each example's log-likelihood, its rows aligned with the image rows
    (iterations between shown rows are interpolated)."""
    m = len(its)
    panel_h = m * g.cell + (m - 1) * g.gap
    ax = g.lay.axes(g.left + g.grid_w + g.ll_gap, g.grid_top, g.ll_w, panel_h)
    y_top = -g.cell / (2 * (g.cell + g.gap))
    ax.set_ylim(y_top + panel_h / (g.cell + g.gap), y_top)
    row_of = np.arange(m, dtype=float)
    for e, c in zip(exs, colors):
        t = np.arange(its[0], its[-1] + 1)
        ax.plot(e["ll"][t], np.interp(t, its, row_of), color=c, lw=1.2)
        ax.plot(e["ll"][its], row_of, "o", color=c, ms=3)
    ax.set_yticks(row_of, [str(t) for t in its])
    ax.yaxis.tick_right()
    ax.yaxis.set_label_position("right")
    ax.spines["left"].set_visible(False)
    ax.spines["right"].set_visible(True)
    ax.set_ylabel("iteration")
    ax.grid(axis="y")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=3))
    ax.set_xlabel("log-likelihood")


@styled
def plot(scores, confidence, examples: Sequence[Mapping],
         iterations: Sequence[int] = (0, 1, 2, 3, 5, 7, 10), title: str | None = None):
    """Figs. 5, 10, 11: RC on a test set and a few example runs.

    Top: the scores of all images sorted in descending order (line) and the confidence of
    each image in the same order (dots); dashed lines mark the examples' ranks. Below, one
    column per example: the assignments at the given ``iterations`` (those beyond the run's
    T are skipped) and the ground truth; on the right each example's log-likelihood after
    every E-step, its rows aligned with the image rows (iterations between shown rows are
    interpolated). Each example's header, rank marker and trace share one colour.

    ``examples`` are dicts with ``image``, ``groups`` (H, W), ``gamma_history`` (T+1, H, W,
    K), ``log_likelihood`` (2T+1,), ``rank`` (position in the sorted order) and ``score``.
    """
    scores = checked_vector(scores, "scores")
    confidence = checked_vector(confidence, "confidence", scores.size)
    if not isinstance(examples, Sequence) or len(examples) == 0:
        raise ValueError("examples must be a non-empty list of dicts")
    exs = [_check_example(e, i, scores.size) for i, e in enumerate(examples)]
    t_all = min(e["T"] for e in exs)
    its = sorted({int(i) for i in iterations if 0 <= int(i) <= t_all})
    if not its:
        raise ValueError(f"none of the iterations {tuple(iterations)} is within 0..{t_all}")
    colors = sequence_colors(len(exs))
    g = _layout(len(exs), len(its) + 1, title)
    _sorted_scores_panel(g, scores, confidence, exs, colors)
    _image_grid(g, exs, colors, its)
    _likelihood_panel(g, exs, colors, its)
    return g.lay.fig

