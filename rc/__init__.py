"""rc: Binding via Reconstruction Clustering (Greff, Srivastava & Schmidhuber), reproduced.

The public API in a few names::

    images, groups = rc.load_dataset("shapes", "test")
    dae = rc.DAE(784, 500, "tanh", seed=0)
    history = rc.train_dae(dae, rc.load_dataset("shapes", "train_single")[0],
                           learning_rate=0.083, noise=0.4)
    result = rc.reconstruction_clustering(dae, images[:1000], k=3)
    ami, confidence = rc.score(groups[:1000], result.gamma)
"""
from .clustering import RCResult, reconstruction_clustering
from .dae import DAE, TrainHistory, load_dae, salt_and_pepper, save_dae, train_dae
from .datasets import DATASETS, SPLITS, dataset_info, load_dataset
from .metrics import ami, score
from . import paper
from .config import PROFILES, Profile, get_profile
from .experiments import Experiment
from .population import train_population

__version__ = "0.1.0"


def __getattr__(name):  # rc.plots on first use: matplotlib is not needed to compute
    if name == "plots":
        import importlib
        return importlib.import_module(".plots", __name__)
    raise AttributeError(f"module 'rc' has no attribute {name!r}")

__all__ = [
    "DATASETS", "SPLITS", "DAE", "Experiment", "PROFILES", "Profile", "RCResult",
    "TrainHistory", "ami", "dataset_info", "get_profile",
    "load_dae", "load_dataset", "reconstruction_clustering", "salt_and_pepper",
    "save_dae", "score", "train_dae", "train_population",
]
