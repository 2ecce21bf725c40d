"""The paper's elements at full scale, from the committed results of the ``full`` profile.

The ``full`` profile (:mod:`rc.config`) trains the paper's published Table 1/2
configurations on all training images, up to 500 epochs with early stopping, and scores
them on the paper's test images. That takes hours on a CPU, so it is computed once
(``make full``) and its results are committed under ``results/full``. Every book run,
whatever its profile, shows them beside its own: :func:`stored_results` reads them without
ever computing, :func:`load` returns an element's full-scale result (or None where it is
not stored), and :func:`caption` says where the stored results came from.
:func:`retrain` trains a stored table DAE again (on this machine) and compares the two:
how anyone can check the stored weights (``make full-retrain DAE=bars:1``).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from .. import published
from ..cache import MissingResultError
from ..dae import resolve_device
from ..experiments import check_table
from ..pipeline import TABLES, Results, mean_final_ami, train
from ..storage import KERNEL_FIELDS, machine_words, provenance

__all__ = ["COMMAND", "TOLERANCE", "VERDICTS", "FullScaleOrigin", "Retraining", "caption",
           "load", "missing_note", "origin", "retrain", "show", "stored_results"]

#: The profile and the command that computes it.
PROFILE = "full"
COMMAND = "make full"


def stored_results(root=None) -> Results:
    """The ``full`` profile's stored results (``results/full``, or ``root/full``); it never
    computes: a missing result raises :class:`~rc.cache.MissingResultError`."""
    return Results(PROFILE, may_compute=False, progress=False, device="cpu", root=root)


def load(element: ModuleType, results: Results | None = None):
    """``element.compute`` on the full-scale results, or None where they are not stored."""
    try:
        return element.compute(results or stored_results())
    except MissingResultError:
        return None


@dataclass(frozen=True)
class FullScaleOrigin:
    """Where the stored full-scale table DAEs came from."""

    n_daes: int                # table DAEs stored (of n_expected)
    n_expected: int
    devices: tuple[str, ...]   # e.g. ("cpu: x86_64",)
    commits: tuple[str, ...]   # short commits of the code that trained them
    train_hours: float         # their training wall time, summed
    first: str                 # earliest and latest creation date (UTC)
    last: str


def origin(results: Results | None = None) -> FullScaleOrigin:
    """Device, commits and training time of the stored full-scale table DAEs."""
    results = results or stored_results()
    provenances, seconds, expected = [], 0.0, 0
    for table in TABLES:
        for dataset in results.profile.datasets:
            if not published.in_table(dataset, table):
                continue
            expected += 1
            try:
                trained = results.table_dae(dataset, table)
            except MissingResultError:
                continue
            provenances.append(trained.provenance)
            seconds += trained.history.seconds
    devices = sorted({_device(p) for p in provenances})
    commits = sorted({str(p.get("git_commit", "unknown"))[:7] for p in provenances})
    dates = sorted(str(p.get("created", ""))[:10] for p in provenances)
    return FullScaleOrigin(len(provenances), expected, tuple(devices), tuple(commits),
                           seconds / 3600.0, dates[0] if dates else "",
                           dates[-1] if dates else "")


def caption(results: Results | None = None) -> str:
    """One sentence for a caption: what the stored full-scale results are and where
    they came from."""
    o = origin(results)
    if o.n_daes == 0:
        return missing_note()
    done = "" if o.n_daes == o.n_expected else f" ({o.n_daes} of {o.n_expected} stored)"
    when = o.first if o.first == o.last else f"{o.first} to {o.last}"
    return (f"Full scale (profile `{PROFILE}`, stored in `results/{PROFILE}`): the paper's "
            f"configurations trained on all training images, up to 500 epochs with early "
            f"stopping; table DAEs{done} trained on {', '.join(o.devices)} at "
            f"commit{'s' if len(o.commits) > 1 else ''} {', '.join(o.commits)}, "
            f"{_duration(o.train_hours)} of training in all, {when}; "
            f"recompute with `{COMMAND}`.")


def _duration(hours: float) -> str:
    """``hours`` in words: minutes below an hour, else hours to one decimal."""
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def missing_note(what: str = "The full-scale results") -> str:
    """What to say where a full-scale result is not stored."""
    return (f"{what} are not stored in `results/{PROFILE}`; `{COMMAND}` computes them "
            "(hours on a CPU).")


def show(element: ModuleType, results: Results, title: str, draw=None, about=None):
    """In a notebook: the element at full scale beside the page's own version.

    Displays ``draw(result)`` (default ``element.draw``) of the full-scale result with a
    caption (``title`` and ``about(result)``, default :func:`caption`), or a note naming
    what is missing and the command. Nothing is shown on a page that already renders the
    ``full`` profile. Returns the full-scale result (or None).
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    from ..report import Markdown

    if results.profile.name == PROFILE:
        return None
    full = stored_results()
    result = load(element, full)
    if result is None:
        display(Markdown(f"*{title}:* " + missing_note("Its results")))
        return None
    figure = (draw or element.draw)(result)
    display(figure)
    plt.close(figure)
    display(Markdown(f"**{title}.** {about(result) if about else caption(full)}"))
    return result


# ------------------------------------------------------------------------------ retraining
#: How far a training repeated on another CPU may land from the stored one and still count
#: as the same training: equal epochs and best epoch, best validation loss within a
#: relative 1e-3 and mean AMI within 0.002. Measured between the AMD EPYC (AVX2) that
#: trained the stored DAEs and an Intel Xeon (AVX-512): trainings that took the same path
#: differed by at most 4e-5 (relative) in best validation loss and 1e-4 in score, so the
#: bounds leave a factor of 20-25 for longer trainings; they stay below the spread over
#: seeds (a std of 0.001-0.027 in mean AMI) and far below what a changed learning rate,
#: noise level or initialisation does (tests/test_full_scale.py).
TOLERANCE = {"best_val_loss": 1e-3, "score": 0.002}

def within_tolerance(best_val_loss: tuple[float, float], score: tuple[float, float]) -> bool:
    """Whether two trainings' (best validation loss, score) pairs agree within
    :data:`TOLERANCE` (relative for the loss)."""
    (l0, l1), (s0, s1) = best_val_loss, score
    return (abs(l1 - l0) <= TOLERANCE["best_val_loss"] * abs(l0)
            and abs(s1 - s0) <= TOLERANCE["score"])


#: A retraining's verdicts: the same bits; the same training up to the rounding of other
#: kernels; another trajectory (a difference that grew until early stopping or the score
#: moved past :data:`TOLERANCE`, or a real change).
VERDICTS = ("identical", "within tolerance", "diverged")


@dataclass(frozen=True)
class Retraining:
    """A stored full-scale table DAE against the same training run again."""

    dataset: str
    table: int
    epochs: tuple[int, int]            # (stored, again): epochs trained
    best_epoch: tuple[int, int]
    best_val_loss: tuple[float, float]
    score: tuple[float, float]         # mean final AMI on the scored test images
    max_weight_difference: float       # largest |stored - again| over all weights
    machines: tuple[dict, dict]        # (stored, again): provenances (device, machine)
    seconds: float                     # the training's wall time, again

    @property
    def identical(self) -> bool:
        """Whether the two trainings ended with the same weights, bit for bit."""
        return self.max_weight_difference == 0.0 and self.epochs[0] == self.epochs[1]

    @property
    def same_kernels(self) -> bool | None:
        """Whether both ran on the same CPU kernels (then the bits must agree); None where
        the stored result did not record its machine."""
        a, b = (m.get("machine") for m in self.machines)
        if not a or not b:
            return None
        return all(a.get(f) == b.get(f) for f in KERNEL_FIELDS)

    @property
    def verdict(self) -> str:
        """One of :data:`VERDICTS`."""
        if self.identical:
            return "identical"
        close = (self.epochs[0] == self.epochs[1] and self.best_epoch[0] == self.best_epoch[1]
                 and within_tolerance(self.best_val_loss, self.score))
        return "within tolerance" if close else "diverged"

    def report(self) -> str:
        """The comparison, one line per quantity, and the verdict."""
        rows = [("epochs trained", *self.epochs), ("best epoch", *self.best_epoch),
                ("best validation loss", *(f"{v:.4f}" for v in self.best_val_loss)),
                ("score (mean AMI)", *(f"{v:.4f}" for v in self.score))]
        lines = [f"Table {self.table}, {self.dataset}: stored vs trained again "
                 f"({self.seconds:.0f} s of training)"]
        lines += [f"  {name:22s} {a!s:>14s} {b!s:>14s}" for name, a, b in rows]
        lines += [f"  stored on: {machine_words(self.machines[0])}",
                  f"  again on:  {machine_words(self.machines[1])}"]
        return "\n".join(lines + [f"  {self.verdict}: {self._why()}"])

    def _why(self) -> str:
        if self.identical:
            return "the same weights, bit for bit"
        diff = f"weights differ by up to {self.max_weight_difference:.3g}"
        if self.verdict == "within tolerance":
            return (f"{diff}; epochs equal, validation loss and score within "
                    f"{TOLERANCE['best_val_loss']:g} (relative) and {TOLERANCE['score']:g}")
        if self.same_kernels:
            return f"{diff} on the same CPU kernels: something changed"
        return (f"{diff}; the training took another path (rounding of other kernels grows "
                "through training, or a real change)")


def retrain(dataset: str, table: int = 1, device=None, progress: bool = False,
            root=None) -> Retraining:
    """Train the stored full-scale DAE of ``dataset``'s Table ``table`` again, from the
    same specification (nothing is written), and compare: epochs, validation loss,
    weights and the RC score on the scored test images. On the same CPU kernels the
    weights agree bit for bit; another CPU's kernels round otherwise, within
    :data:`TOLERANCE` or, where rounding grew, along another path (:attr:`~Retraining.
    verdict`)."""
    check_table(dataset, table)
    device = resolve_device(device)
    results = stored_results(root)
    spec, evaluation = results.table_spec(dataset, table), results.eval_spec(dataset, table)
    stored = results.trained(spec)
    images, _ = results.load(spec.data)
    again = train(spec, images, device=device, progress=progress)
    again.dae.eval()
    test_images, groups = results.load(evaluation.data)
    weights = zip(stored.dae.state_dict().values(), again.dae.state_dict().values())
    difference = max(float((a.cpu() - b.cpu()).abs().max()) for a, b in weights)
    a, b = stored.history, again.history
    return Retraining(dataset, table, (a.epochs, b.epochs), (a.best_epoch, b.best_epoch),
                      (a.best_val_loss, b.best_val_loss),
                      (results.scores_per_iteration(evaluation).score,
                       mean_final_ami(evaluation, again.dae, test_images, groups)),
                      difference, (stored.provenance, provenance(str(device))), b.seconds)


def _device(info: dict) -> str:
    """A provenance's device in words: the CPU's model and kernels where recorded."""
    if str(info.get("device", "cpu")).startswith("cuda"):
        return f"{info['device']}: {info.get('device_name', '?')}"
    return machine_words(info)
