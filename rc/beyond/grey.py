"""Does binding survive grey levels?

The paper works with binary images and names real-valued inputs as its first next step.
Two grey-level data sets are generated like the others (:data:`rc.datasets.GREY_DATASETS`):
*Shapes* with a random intensity per object (0.25 to 1), and *Multi-MNIST* without
thresholding the digits. A pixel belongs to an object wherever that object has ink, and to
none (group 0) where two objects overlap, as in the binary sets.

Each grey set gets a DAE with its binary counterpart's Table 1 configuration, trained on
its single-object images with the same salt-and-pepper corruption and the cross-entropy
with grey targets. RC then runs with three likelihoods for grey levels
(:func:`rc.clustering.pixel_log_prob`): the cross-entropy the DAE was trained with, the
continuous Bernoulli (the same, normalised) and a Gaussian with a fixed standard
deviation :data:`SIGMA`. The question is answered by the scores against those of the
binary sets' Table 1 DAEs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..claims import SCORE_TOLERANCE
from ..clustering import LIKELIHOOD_LABELS
from ..datasets import dataset_info, label
from ..report import Markdown, markdown_table
from ..specs import EvalSpec, RCSpec
from ..tasks import Task
from . import fmt, not_measured, runs

#: Each grey data set and the binary one it is made from.
PAIRS = {"shapes_grey": "shapes", "multi_mnist_grey": "multi_mnist"}
#: The likelihoods compared (the first matches the DAE's training loss).
LIKELIHOODS = ("cross_entropy", "continuous_bernoulli", "gaussian")
#: Standard deviation of the Gaussian likelihood (grey levels are in [0, 1]).
SIGMA = 0.25
#: Example images shown per grey data set.
N_EXAMPLES = 4


def train_spec(results, grey: str):
    """The DAE of a grey data set: its binary counterpart's Table 1 configuration, trained
    on the grey single-object images under the profile's budget for table DAEs."""
    config, seed, _ = results.table_config(PAIRS[grey], 1)
    limit, tflop = results.table_budget()
    return results.train_spec(results.train_data_spec(grey, "train_single", limit), config, seed,
                           tflop)


def eval_spec(results, grey: str, likelihood: str) -> EvalSpec:
    """Soft RC with the grey DAE on the grey test images, with ``likelihood``."""
    rc_spec = RCSpec(k=dataset_info(grey).k, n_iters=results.profile.n_iters,
                     seed=results.profile.seed, likelihood=likelihood, sigma=SIGMA)
    return EvalSpec(train_spec(results, grey), results.test_spec(grey), rc_spec)


@dataclass(frozen=True)
class GreyLevels:
    """Scores on the grey sets per likelihood, beside the binary sets' Table 1 scores."""

    profile: str
    grey: dict[str, dict[str, float]]      # grey set -> likelihood -> mean AMI
    grey_ari: dict[str, dict[str, float]]
    binary: dict[str, float]               # binary set -> Table 1 score (Bernoulli)
    binary_ari: dict[str, float]
    examples: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # images, groups, gamma

    @property
    def best(self) -> dict[str, str]:
        """The likelihood with the highest score per grey set."""
        return {g: max(s, key=s.get) for g, s in self.grey.items()}

    def gap(self, grey: str) -> float:
        """Best grey score minus the binary score."""
        return max(self.grey[grey].values()) - self.binary[PAIRS[grey]]


def compute(results) -> GreyLevels:
    """Train (once) and evaluate the grey DAEs; compare with the binary Table 1 DAEs."""
    sets = [g for g, b in PAIRS.items() if b in results.profile.datasets and runs(results, "grey")]
    grey, grey_ari, examples = {}, {}, {}
    for g in sets:
        evals = {lik: results.scores_per_iteration(eval_spec(results, g, lik))
                 for lik in LIKELIHOODS}
        grey[g] = {lik: e.score for lik, e in evals.items()}
        grey_ari[g] = {lik: e.mean_ari for lik, e in evals.items()}
        spec = eval_spec(results, g, LIKELIHOODS[0])
        images, groups = results.load(spec.data)
        res = spec.rc.run(results.trained(spec.training).dae, images[:N_EXAMPLES])
        examples[g] = (images[:N_EXAMPLES], groups[:N_EXAMPLES], res.gamma)
    binary = {PAIRS[g]: results.evaluation(PAIRS[g]).score for g in sets}
    binary_ari = {PAIRS[g]: results.evaluation(PAIRS[g]).mean_ari for g in sets}
    return GreyLevels(results.profile.name, grey, grey_ari, binary, binary_ari, examples)


def answer(result: GreyLevels) -> str:
    """The chapter's answer in a sentence, from the numbers: binding survives on a grey set
    where its best likelihood scores within :data:`rc.claims.SCORE_TOLERANCE` of the
    binary set (or higher)."""
    if not result.grey:
        return not_measured("grey")
    kept = {g: result.gap(g) >= -SCORE_TOLERANCE for g in result.grey}
    word = "Yes" if all(kept.values()) else "No" if not any(kept.values()) else "Partly"
    parts = [f"{label(g)} {max(result.grey[g].values()):.3f} against "
             f"{result.binary[PAIRS[g]]:.3f} binary" for g in result.grey]
    return f"{word}: " + "; ".join(parts) + " (best likelihood per set)."


def glue_values(result: GreyLevels) -> dict[str, str]:
    """The numbers the book's prose quotes, formatted (dashes where not measured)."""
    from ..datasets import GREY_SHAPE_LEVELS

    out = {"sigma": fmt(SIGMA, "g"), "answer_grey": answer(result),
           "tolerance": fmt(SCORE_TOLERANCE, ".2f"),
           "grey_low": fmt(GREY_SHAPE_LEVELS[0] / 255, ".2f"),
           "grey_high": fmt(GREY_SHAPE_LEVELS[1] / 255, ".0f")}
    for g, b in PAIRS.items():
        scores = result.grey.get(g)
        best = max(scores, key=scores.get) if scores else None
        out[f"grey_best_{g}"] = fmt(scores[best] if scores else None)
        out[f"grey_lik_{g}"] = LIKELIHOOD_LABELS[best] if best else "—"
        out[f"grey_bin_{g}"] = fmt(result.binary.get(b))
        out[f"grey_gap_{g}"] = fmt(result.gap(g) if scores else None, "+.3f")
    return out


def table(result: GreyLevels) -> Markdown:
    """Per grey set: the binary score, and the grey score (and ARI) per likelihood."""
    rows = []
    for g, scores in result.grey.items():
        b = PAIRS[g]
        rows.append([label(b), "Bernoulli (binary)", result.binary[b], result.binary_ari[b]])
        rows += [[label(g), LIKELIHOOD_LABELS[lik], s, result.grey_ari[g][lik]]
                 for lik, s in scores.items()]
    return markdown_table(["data set", "likelihood", "score (mean AMI)", "mean ARI"], rows)


def draw(result: GreyLevels):
    """Bars: the binary Table 1 score and the grey scores per likelihood, per data set;
    below, grey test images and their final assignments."""
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    from ..plots import assignment_rgb, dataset_color, show_gray, show_rgb, styled

    if not result.grey:
        from ..plots import not_computed
        return not_computed(not_measured("grey"))

    @styled
    def make():
        sets = list(result.grey)
        n_ex = max(len(v[0]) for v in result.examples.values())
        fig = plt.figure(figsize=(8.0, 2.6 + 1.1 * len(sets)), layout="constrained")
        grid = fig.add_gridspec(1 + len(sets), 1, height_ratios=[2.4] + [1.0] * len(sets))
        ax = fig.add_subplot(grid[0])
        names = ["Bernoulli (binary)"] + [LIKELIHOOD_LABELS[lik] for lik in LIKELIHOODS]
        width = 0.8 / len(names)
        for i, g in enumerate(sets):
            color = dataset_color(PAIRS[g], i)
            values = [result.binary[PAIRS[g]]] + [result.grey[g][lik] for lik in LIKELIHOODS]
            for j, (name, v) in enumerate(zip(names, values)):
                ax.bar(i - 0.4 + width * (j + 0.5), v, width * 0.9,
                       color=mpl.colors.to_rgba(color, 1.0 - 0.2 * j), edgecolor=color)
                ax.text(i - 0.4 + width * (j + 0.5), v + 0.01, name, rotation=90,
                        ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(sets)), [label(PAIRS[g]) for g in sets])
        ax.set_ylim(0, 1.45)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_ylabel("score (mean AMI)")
        ax.grid(axis="y")
        ax.set_axisbelow(True)
        for r, g in enumerate(sets):
            images, groups, gamma = result.examples[g]
            sub = grid[1 + r].subgridspec(1, 2 * n_ex, wspace=0.05)
            for j in range(len(images)):
                show_gray(fig.add_subplot(sub[2 * j]), images[j])
                show_rgb(fig.add_subplot(sub[2 * j + 1]), assignment_rgb(images[j] > 0, gamma[j]))
        return fig
    return make()


def tasks(results) -> list[Task]:
    """What :func:`compute` needs stored: RC with the grey DAE (their dependency) and
    every likelihood, and the binary counterpart's Table 1 evaluation."""
    sets = [g for g, b in PAIRS.items() if b in results.profile.datasets and runs(results, "grey")]
    return ([results.evaluation_task(eval_spec(results, g, lik))
             for g in sets for lik in LIKELIHOODS]
            + [results.evaluation_task(results.eval_spec(PAIRS[g])) for g in sets])
