"""Subnormal floats flushed to zero from ``import rc`` on (CPU).

A diverging or saturating DAE drives activations and gradients into the subnormal range
(below about 1e-38 in float32), where x86 arithmetic is slower by one to two orders of
magnitude: measured on two Multi-MNIST search runs of the default profile, trained side by
side, 26 s instead of 5.5 s for the same epochs and the same losses. Flushing them to
zero changes nothing that a float32 weight of normal size could register.

The setting belongs to a thread and is inherited by the threads it starts later, so it
has to be made before torch starts its worker threads: ``import rc`` calls
:func:`flush_denormals` once and leaves it on for the process. (A process that ran
parallel torch code before importing rc keeps slow subnormals in those worker threads;
results are the same either way.)
"""
from __future__ import annotations

import torch

__all__ = ["flush_denormals"]


def flush_denormals() -> bool:
    """Turn on flushing of subnormal floats to zero for this thread and the threads it
    starts from now on (``torch.set_flush_denormal(True)``).

    Returns
    -------
    bool
        Whether the CPU supports it (False: nothing changed).
    """
    return bool(torch.set_flush_denormal(True))
