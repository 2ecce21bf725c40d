"""Two settings of the process, from ``import rc`` on: subnormal floats flushed to zero (CPU),
and large freed blocks of memory given back to the system.

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

The same import calls :func:`return_freed_memory` (issue 28, Binder's 2 GB). RC, the
scores and the trainings allocate arrays of up to tens of megabytes again and
again (a chunk of RC holds a few (B, K, H*W) float32 tensors of up to 32 MB each). glibc's
``malloc`` serves a block that large by ``mmap`` at first, but raises that threshold to the
size of every such block freed, up to 32 MB, after which these blocks come from its heaps,
which give memory back to the system only from their top: a kernel that had run a few
chapters' RC held hundreds of megabytes that it had freed (measured: a process that ran RC
on 1,000 Multi-MNIST images for K = 2 to 12 held 770 MiB once done, 300 MiB after
``malloc_trim``).

It fixes the threshold at :data:`MMAP_THRESHOLD` (4 MiB) with ``mallopt``: larger blocks
are always mapped and unmapped, smaller ones (a training minibatch, a model's weights)
come from the heaps as before. Where the C library is not glibc nothing changes, and a
threshold set through glibc's own environment variable (``MALLOC_MMAP_THRESHOLD_``) is
left as it is. Where memory comes from changes no value that is computed in it.
"""
from __future__ import annotations

import ctypes
import os
import platform

import torch

__all__ = ["MMAP_THRESHOLD", "flush_denormals", "return_freed_memory"]


def flush_denormals() -> bool:
    """Turn on flushing of subnormal floats to zero for this thread and the threads it
    starts from now on (``torch.set_flush_denormal(True)``).

    Returns
    -------
    bool
        Whether the CPU supports it (False: nothing changed).
    """
    return bool(torch.set_flush_denormal(True))


#: Blocks of this many bytes or more are mapped on their own (and unmapped when freed).
MMAP_THRESHOLD = 4 << 20
_M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def return_freed_memory(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's ``mmap`` threshold at ``threshold`` bytes for this process.

    Returns
    -------
    bool
        Whether it was set (False: not glibc, or ``MALLOC_MMAP_THRESHOLD_`` is set).
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):
        return False
