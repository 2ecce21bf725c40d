"""Reference values reported in the paper (Tables 1 and 2), for comparison only.

These are the paper's numbers, used as targets in the scorecard and as the
configurations the `default` profile trains; nothing computed by this project is here.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperConfig:
    """A best DAE configuration of the paper's random search and the score it reached."""

    learning_rate: float
    n_hidden: int
    activation: str
    noise: float
    score: float


#: Table 1: single-object training, soft RC.
TABLE1 = {
    "bars": PaperConfig(0.768015, 100, "relu", 0.0, 0.951809),
    "corners": PaperConfig(0.001920, 100, "relu", 0.0, 0.853866),
    "multi_mnist": PaperConfig(0.011362, 1000, "relu", 0.6, 0.651657),
    "mnist_shape": PaperConfig(0.031685, 250, "sigmoid", 0.6, 0.545559),
    "shapes": PaperConfig(0.083147, 500, "tanh", 0.4, 0.928792),
    "simple_superposition": PaperConfig(0.366627, 100, "relu", 0.1, 0.890472),
}

#: Table 2: multi-object training, hard RC (no Simple Superposition).
TABLE2 = {
    "bars": PaperConfig(0.012192, 100, "sigmoid", 0.8, 0.851777),
    "corners": PaperConfig(0.026035, 100, "relu", 0.7, 0.704285),
    "mnist_shape": PaperConfig(0.033200, 1000, "relu", 0.6, 0.259646),
    "multi_mnist": PaperConfig(0.001786, 250, "sigmoid", 0.9, 0.614277),
    "shapes": PaperConfig(0.049402, 100, "sigmoid", 0.9, 0.776656),
}
