"""rc: Binding via Reconstruction Clustering (Greff, Srivastava & Schmidhuber), reproduced.

The method in a few names::

    images, groups = rc.load_dataset("shapes", "test", n=1000)
    dae = rc.DAE(784, 500, "tanh", seed=0)
    history = rc.train_dae(dae, rc.load_dataset("shapes", "train_single")[0],
                           learning_rate=0.083, noise=0.4)
    result = rc.reconstruction_clustering(dae, images, k=3)
    ami, confidence = rc.score(groups, result.gamma)

A trained DAE without training: ``rc.pretrained("multi_mnist")`` loads the stored
full-scale DAE of Table 1 (``python -m rc bind IMAGE.png`` runs RC with it on an image
file; see :mod:`rc.cli`).

The paper's experiments: ``results = rc.Results("default")`` computes (once, cached) what
the figures and tables need, and ``rc.paper.<element>`` (e.g. ``rc.paper.fig4a``) turns it
into each figure, table and claim.

Importing rc turns on flushing of subnormal floats to zero (:mod:`rc.denormals`): it makes
diverging trainings up to ten times faster on a CPU and changes no result; and it has
large freed blocks of memory go back to the system (the same module), which keeps a
notebook's kernel within Binder's 2 GB and changes no result either.
"""
from . import paper
from .cache import MissingResultError
from .clustering import RCResult, reconstruction_clustering
from .config import PROFILES, Profile, get_profile
from .dae import DAE, load_dae, salt_and_pepper, save_dae
from .datasets import DATASETS, SPLITS, dataset_info, load_dataset
from .denormals import flush_denormals, return_freed_memory
from .metrics import ami, ari, score
from .pipeline import Results
from .pretrained_daes import pretrained
from .training import TrainHistory, train_dae, train_population

__version__ = "0.2.0"

flush_denormals()  # before torch starts its worker threads (see rc.denormals)
return_freed_memory()  # see rc.denormals


def __getattr__(name):  # rc.plots, rc.scorecard, ... on first use (no matplotlib to compute)
    if name in ("plots", "scorecard", "protocol", "beyond"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'rc' has no attribute {name!r}")


__all__ = [
    "DATASETS", "SPLITS", "DAE", "MissingResultError", "PROFILES", "Results", "Profile",
    "RCResult", "TrainHistory", "ami", "ari", "dataset_info", "get_profile", "load_dae",
    "load_dataset", "paper", "pretrained", "reconstruction_clustering", "salt_and_pepper",
    "save_dae", "score", "train_dae", "train_population",
]
