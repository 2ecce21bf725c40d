"""RC inside DAE training: does training through RC close the multi-object gap?

A DAE trained on multi-object images (Table 2) binds worse than one trained on single
objects (Table 1), and needs hard assignments. The paper's last suggestion is to
integrate RC into the training of the DAE. Here a DAE with the Table 2 configuration
learns on multi-object images *through* RC: every minibatch starts from random
assignments, runs :data:`N_ITERS` differentiable RC iterations (R-step with the DAE,
soft E-step), and the loss is the cross-entropy between each clean image and its
reconstruction by the mixture, ``sum_k gamma_k mu_k``. Gradients reach the DAE through
every R-step; the variant ``detach`` cuts them at the assignments, so that only the last
R-step is trained directly. RC itself hides pixels from the DAE (each cluster sees its
share of the image), so the inputs are not corrupted further.

The question is answered per data set by three scores side by side: Table 1 (single
objects, soft RC), Table 2 (multi-object training, hard RC), and the RC-trained DAE with
soft and with hard RC.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from .._checks import checked_field
from ..cache import Record
from ..claims import SCORE_TOLERANCE
from ..clustering import CLIP
from ..cost import RC_FLOP, estimated_epochs, training_flop, unrolled_rc_image_flop
from ..dae import DAE
from ..datasets import dataset_info, label
from ..pipeline import TrainedDAE
from ..report import Markdown, markdown_table
from ..specs import DataSpec, RCSpec
from ..tasks import Task
from ..training import train_module
from . import not_measured, runs

#: RC iterations unrolled in training.
N_ITERS = 3
#: The two ways of passing gradients: through the assignments too, or not.
VARIANTS = ("through gamma", "detach")
#: Version of this computation (part of the cache keys).
VERSION = 1


class UnrolledRCLoss:
    """``loss(model, x_noisy, x_clean)`` of RC-unrolled training (see the module doc).

    Parameters
    ----------
    k : int
        Clusters.
    n_iters : int
        RC iterations unrolled.
    detach_gamma : bool
        Stop gradients at the assignments of every E-step.
    seed : int
        Seed of the random initial assignments (drawn anew for every minibatch).
    """

    def __init__(self, k: int, n_iters: int = N_ITERS, detach_gamma: bool = False,
                 seed: int = 0):
        if k < 1 or n_iters < 1:
            raise ValueError(f"k and n_iters must be positive; got {k} and {n_iters}")
        self.k, self.n_iters, self.detach_gamma = int(k), int(n_iters), bool(detach_gamma)
        self.seed = int(seed)
        self._gens: dict[str, torch.Generator] = {}

    def _generator(self, device: torch.device) -> torch.Generator:
        key = str(device)
        if key not in self._gens:
            self._gens[key] = torch.Generator(device=device).manual_seed(self.seed)
        return self._gens[key]

    def mixture(self, model, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction ``sum_k gamma_k mu_k`` after the unrolled iterations, (B, D)."""
        b, d = x.shape
        noise = torch.randn((b, self.k, d), generator=self._generator(x.device),
                            device=x.device).abs()
        gamma = noise / noise.sum(1, keepdim=True)
        mu = None
        for _ in range(self.n_iters):
            mu = model((gamma * x[:, None, :]).reshape(b * self.k, d)).reshape(b, self.k, d)
            m = mu.clamp(CLIP, 1.0 - CLIP)
            log_p = x[:, None, :] * torch.log(m) + (1.0 - x[:, None, :]) * torch.log1p(-m)
            gamma = torch.softmax(log_p, dim=1)
            if self.detach_gamma:
                gamma = gamma.detach()
        return (gamma * mu).sum(1)

    def __call__(self, model, x_noisy: torch.Tensor, x_clean: torch.Tensor) -> torch.Tensor:
        recon = self.mixture(model, x_noisy).clamp(CLIP, 1.0 - CLIP)
        return F.binary_cross_entropy(recon, x_clean, reduction="sum") / x_clean.shape[0]


@dataclass(frozen=True)
class Scores(Record):
    """RC scores of an RC-trained DAE, soft and hard (cached)."""

    soft: np.ndarray = checked_field("N")   # final AMI per image
    hard: np.ndarray = checked_field("N")
    epochs: int
    provenance: dict


def image_flop(dataset: str, n_hidden: int) -> float:
    """FLOPs of one training image through the unrolled RC: K * N_ITERS passes of the DAE,
    forward and backward (:func:`rc.config.dae_image_flop` each)."""
    return unrolled_rc_image_flop(dataset, n_hidden, N_ITERS)


def _entry(dataset: str, variant: str) -> str:
    return f"{dataset}-{variant.replace(' ', '-')}"


def _rc_specs(results, dataset: str) -> tuple[RCSpec, RCSpec]:
    soft = RCSpec(k=dataset_info(dataset).k, n_iters=results.profile.n_iters,
                  seed=results.profile.seed)
    return soft, RCSpec(soft.k, soft.n_iters, "hard", seed=soft.seed)


def tasks(results) -> list[Task]:
    """What :func:`compute` needs stored (its own entries computed there): per data set
    and variant the scores of the RC-trained DAE (the DAE is their dependency), beside
    both tables' evaluations."""
    found = []
    for d in [d for d in results.profile.rc_training_datasets
              if d in results.profile.datasets and runs(results, "rc_training")]:
        found += [results.evaluation_task(results.eval_spec(d, 1)),
                  results.evaluation_task(results.eval_spec(d, 2))]
        for variant in VARIANTS:
            inputs, data = training(results, d, variant)
            epochs = min(inputs["max_epochs"], estimated_epochs(d, 2, "search"))
            model = Task(f"rc-training/{_entry(d, variant)}", inputs, TrainedDAE,
                         training_flop(image_flop(d, inputs["config"]["n_hidden"]), data.n,
                                       epochs),
                         describe=f"the RC-trained DAE of {d} ({variant})")
            found += [Task(f"rc-training/rc-{_entry(d, variant)}",
                                  _scores_inputs(results, d, inputs), Scores, RC_FLOP, (model,),
                                  describe=f"RC with the RC-trained DAE of {d} ({variant})")]
    return found


def _scores_inputs(results, dataset: str, inputs: dict) -> dict:
    soft, hard = _rc_specs(results, dataset)
    return {"dae": inputs, "data": results.test_spec(dataset).inputs(), "soft": soft.inputs(),
            "hard": hard.inputs(), "version": VERSION}


def training(results, dataset: str, variant: str) -> tuple[dict, DataSpec]:
    """The cache inputs and training images of an RC-trained DAE."""
    p = results.profile
    limit, tflop = results.table_budget()
    data = results.train_data_spec(dataset, "train_multi", limit)
    config, seed, _ = results.table_config(dataset, 2)
    # the compute budget of table DAEs, at the cost of an image through unrolled RC
    max_epochs = results.epochs_within(tflop, image_flop(dataset, config.n_hidden), data)
    inputs = {"data": data.inputs(), "config": config.to_dict(), "seed": seed,
              "variant": variant, "n_iters": N_ITERS, "max_epochs": max_epochs,
              "patience": p.patience, "version": VERSION}
    if p.init != "glorot":  # Glorot runs keep the keys they had before init was a setting
        inputs["init"] = p.init
    return inputs, data


def trained(results, dataset: str, variant: str) -> DAE:
    """The DAE of ``dataset`` trained through RC (cached)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}; got {variant!r}")
    inputs, data = training(results, dataset, variant)

    def train():
        images, _ = results.load(data)
        cfg = inputs["config"]
        dae = DAE(images.shape[1] * images.shape[2], cfg["n_hidden"], cfg["activation"],
                  seed=inputs["seed"], init=inputs.get("init", "glorot"))
        loss = UnrolledRCLoss(dataset_info(dataset).k, N_ITERS, variant == "detach",
                              seed=inputs["seed"])
        start = time.perf_counter()
        hist = train_module(dae, images, learning_rate=cfg["learning_rate"], noise=0.0,
                            loss=loss, max_epochs=inputs["max_epochs"],
                            patience=inputs["patience"], seed=inputs["seed"],
                            device=results.device, progress=results.progress,
                            deadline=results.deadline)
        return TrainedDAE(dae, hist, results.provenance(seconds=time.perf_counter() - start))
    name = f"rc-training/{dataset}-{variant.replace(' ', '-')}"
    return results.cached(name, inputs, train, TrainedDAE,
                       describe=f"the RC-trained DAE of {dataset} ({variant})"
                       ).dae.to(results.device).eval()


def scores(results, dataset: str, variant: str) -> Scores:
    """Soft and hard RC with the RC-trained DAE on the scored test images (cached)."""
    inputs, _ = training(results, dataset, variant)
    test = results.test_spec(dataset)
    soft, hard = _rc_specs(results, dataset)

    def run():
        dae = trained(results, dataset, variant)
        images, groups = results.load(test)
        epochs = results.cache.load(f"rc-training/{dataset}-{variant.replace(' ', '-')}",
                                 inputs, TrainedDAE).history.epochs
        return Scores(soft.run(dae, images, groups=groups).ami[:, -1],
                      hard.run(dae, images, groups=groups).ami[:, -1], int(epochs),
                      results.provenance())
    return results.cached(f"rc-training/rc-{dataset}-{variant.replace(' ', '-')}",
                       _scores_inputs(results, dataset, inputs), run, Scores,
                       describe=f"RC with the RC-trained DAE of {dataset} ({variant})")


@dataclass(frozen=True)
class RCTraining:
    """Per data set: Table 1, Table 2 and the RC-trained DAEs' scores."""

    profile: str
    table1: dict[str, float]
    table2: dict[str, float]
    rc_soft: dict[str, dict[str, float]]   # data set -> variant -> soft RC score
    rc_hard: dict[str, dict[str, float]]
    epochs: dict[str, dict[str, int]]

    def best(self, dataset: str) -> float:
        """The best score of an RC-trained DAE (either variant, soft or hard RC)."""
        return max(max(self.rc_soft[dataset].values()), max(self.rc_hard[dataset].values()))

    def closes(self, dataset: str) -> float:
        """Fraction of the Table 2 -> Table 1 gap closed (1: all of it; < 0: worse than
        Table 2)."""
        gap = self.table1[dataset] - self.table2[dataset]
        return (self.best(dataset) - self.table2[dataset]) / gap if gap else float("nan")


def compute(results) -> RCTraining:
    """Train (once) the RC-trained DAEs of the profile's ``rc_training`` data sets."""
    sets = [d for d in results.profile.rc_training_datasets
            if d in results.profile.datasets and runs(results, "rc_training")]
    t1, t2, soft, hard, epochs = {}, {}, {}, {}, {}
    for d in sets:
        t1[d], t2[d] = results.evaluation(d, 1).score, results.evaluation(d, 2).score
        by_variant = {v: scores(results, d, v) for v in VARIANTS}
        soft[d] = {v: float(np.nanmean(r.soft)) for v, r in by_variant.items()}
        hard[d] = {v: float(np.nanmean(r.hard)) for v, r in by_variant.items()}
        epochs[d] = {v: r.epochs for v, r in by_variant.items()}
    return RCTraining(results.profile.name, t1, t2, soft, hard, epochs)


def answer(result: RCTraining) -> str:
    """The chapter's answer in a sentence. Training through RC helps on a data set where its
    best score beats Table 2 by more than :data:`rc.claims.SCORE_TOLERANCE`, and closes the
    gap there when it gets at least half-way from Table 2 to Table 1."""
    if not result.table1:
        return not_measured("rc_training")
    gain = {d: result.best(d) - result.table2[d] for d in result.table1}
    helped = [d for d, v in gain.items() if v > SCORE_TOLERANCE]
    closed = [d for d in helped if result.closes(d) >= 0.5]
    word = ("Yes" if len(closed) == len(gain) else "No" if not helped else "Partly")

    def part(d):
        text = (f"{label(d)} {result.best(d):.3f} against {result.table2[d]:.3f} (Table 2) "
                f"and {result.table1[d]:.3f} (Table 1): ")
        if gain[d] < -SCORE_TOLERANCE:
            return text + "worse than Table 2"
        if d not in helped:
            return text + "no better than Table 2"
        return text + f"{result.closes(d):.0%} of the gap closed"
    return f"{word}: " + "; ".join(part(d) for d in gain) + "."


def glue_values(result: RCTraining) -> dict[str, str]:
    """The numbers the book's prose quotes."""
    return {"rc_iters": str(N_ITERS),
            "rc_sets": ", ".join(label(d) for d in result.table1) or "none",
            "answer_rc_training": answer(result)}


def table(result: RCTraining) -> Markdown:
    """The three kinds of DAE side by side per data set."""
    rows = [[label(d), result.table1[d], result.table2[d],
             result.rc_soft[d][VARIANTS[0]], result.rc_hard[d][VARIANTS[0]],
             result.rc_soft[d][VARIANTS[1]], result.rc_hard[d][VARIANTS[1]],
             result.closes(d)] for d in result.table1]
    return markdown_table(
        ["data set", "Table 1 (single, soft)", "Table 2 (multi, hard)",
         "RC-trained, soft", "RC-trained, hard", "detached, soft", "detached, hard",
         "gap closed"], rows)


def draw(result: RCTraining):
    """Per data set: Table 1, Table 2 and the best RC-trained score, as bars."""
    import matplotlib as mpl
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from ..plots import dataset_color, styled

    if not result.table1:
        from ..plots import not_computed
        return not_computed(not_measured("rc_training"))

    @styled
    def make():
        names = list(result.table1)
        fig, ax = plt.subplots(figsize=(8.0, 2.8), layout="constrained")
        width = 0.2
        kinds = [("Table 1: single objects, soft RC", result.table1, 1.0, None),
                 ("Table 2: multi-object training, hard RC", result.table2, 0.35, "////"),
                 ("trained through RC, soft RC",
                  {d: result.rc_soft[d][VARIANTS[0]] for d in names}, 0.65, ".."),
                 ("trained through RC, hard RC",
                  {d: result.rc_hard[d][VARIANTS[0]] for d in names}, 0.65, "xx")]
        for i, d in enumerate(names):
            color = dataset_color(d, i)
            for j, (_, values, alpha, hatch) in enumerate(kinds):
                ax.bar(i + (j - 1.5) * width, values[d], width * 0.92,
                       color=mpl.colors.to_rgba(color, alpha), edgecolor=color, hatch=hatch)
        ax.set_xticks(range(len(names)), [label(d) for d in names])
        ax.tick_params(axis="x", length=0)
        ax.set_ylim(min(0.0, *(min(v.values()) for _, v, _, _ in kinds)), 1.0)
        ax.set_ylabel("score (mean AMI)")
        ax.grid(axis="y")
        ax.set_axisbelow(True)
        ax.legend(handles=[Patch(facecolor=mpl.colors.to_rgba("0.45", a), edgecolor="0.45",
                                 hatch=h, label=n) for n, _, a, h in kinds],
                  loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, fontsize=7)
        return fig
    return make()
