"""The peak resident memory of the kernel that executes a notebook, for the time record."""
from __future__ import annotations

import os

MIB = 2**20


def _proc_status_bytes(pid: int, field: str) -> int | None:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmHWM``, ``VmRSS``) in bytes; None where
    there is no such file (not Linux, or the process has ended)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class KernelMemory:
    """The peak resident memory (RSS) of the kernel that executes one notebook.

    It runs in the process that runs papermill, of which the kernel is a child process
    (the one whose command line runs ``ipykernel_launcher``; one at a time per worker).
    What the time record keeps, in MiB:

    * ``kernel_peak_mib``: the kernel process's own high-water mark of resident memory,
      ``VmHWM`` in ``/proc/<pid>/status``, which the Linux kernel maintains page by page:
      an exact peak over the kernel's whole life, not a sample. It is read after every
      cell (nbclient's ``on_cell_executed`` hook, so that each cell's record gains the
      kernel's peak up to the end of that cell: where the memory went) and every
      :attr:`interval` seconds by a thread, whose last reading before the kernel stops
      covers the last cell. Where there is no ``/proc`` (not Linux) it is the largest
      sampled RSS (psutil) instead, and ``method`` says so.
    * ``children_peak_mib``: the largest sum of the RSS of the kernel's own child
      processes (a data loader's workers, a pool; the book's notebooks start none today),
      sampled every :attr:`interval` seconds, so a shorter spike there can be missed.
    * ``peak_rss_mib``: their sum, what the notebook's kernel held at most (an upper
      bound when both peaks were not at the same moment).

    Resident memory counts the pages of shared libraries (torch's, about 0.2 GB) that the
    kernel has touched, as a container's memory limit would charge them once.
    """

    interval = 0.1

    def __init__(self, parent: int | None = None):
        self.parent = os.getpid() if parent is None else parent
        self.kernel: int | None = None
        self.kernel_peak = 0
        self.children_peak = 0
        # Linux keeps each process's high-water mark; elsewhere the RSS is sampled
        self.exact = _proc_status_bytes(os.getpid(), "VmHWM") is not None
        self.method = ("VmHWM of the kernel process" if self.exact
                       else "sampled RSS of the kernel process (psutil)")
        self.cells: dict[int, int] = {}
        self._stop = None
        self._thread = None

    def _find_kernel(self):
        """The kernel process (psutil), found among this process's children once."""
        import psutil

        try:
            if self.kernel is not None:
                return psutil.Process(self.kernel)
            for child in psutil.Process(self.parent).children():
                if any("ipykernel_launcher" in part for part in child.cmdline()):
                    self.kernel = child.pid
                    return child
        except psutil.Error:
            pass
        return None

    def sample(self) -> None:
        """Read the kernel's high-water mark and its children's resident memory now."""
        import psutil

        kernel = self._find_kernel()
        if kernel is None:
            return
        peak = _proc_status_bytes(kernel.pid, "VmHWM") if self.exact else None
        if self.exact and peak is None:
            return  # the kernel has ended (a zombie has no memory left)
        children = 0
        try:
            if peak is None:
                peak = kernel.memory_info().rss
            for child in kernel.children(recursive=True):
                try:
                    children += child.memory_info().rss
                except psutil.Error:
                    continue
        except psutil.Error:
            pass
        self.kernel_peak = max(self.kernel_peak, peak or 0)
        self.children_peak = max(self.children_peak, children)

    def cell_executed(self, cell=None, cell_index: int | None = None, **_) -> None:
        """nbclient's ``on_cell_executed`` hook: the kernel's peak up to this cell's end."""
        self.sample()
        if cell_index is not None:
            self.cells[int(cell_index)] = self.kernel_peak + self.children_peak

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> KernelMemory:
        import threading

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kernel-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def record(self) -> dict:
        """What the time record keeps of this kernel (MiB; None: no kernel was seen)."""
        seen = self.kernel is not None

        def mib(value: int) -> float | None:
            return round(value / MIB, 1) if seen else None

        return {"peak_rss_mib": mib(self.kernel_peak + self.children_peak),
                "kernel_peak_mib": mib(self.kernel_peak),
                "children_peak_mib": mib(self.children_peak), "method": self.method,
                "cells": {str(i): round(v / MIB, 1) for i, v in sorted(self.cells.items())}}
