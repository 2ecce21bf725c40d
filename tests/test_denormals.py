"""rc.denormals: subnormal floats are flushed to zero once rc is imported."""
import threading

import pytest
import torch

import rc  # noqa: F401  (the import turns flushing on)
from rc.denormals import flush_denormals

SUBNORMAL = 1e-39  # below float32's smallest normal number (1.18e-38)


def _product() -> float:
    return float(torch.tensor([SUBNORMAL], dtype=torch.float32) * 1.0)


@pytest.mark.skipif(not flush_denormals(), reason="this CPU cannot flush subnormals")
def test_subnormals_are_flushed_here_and_in_threads_started_later():
    assert _product() == 0.0
    seen = []
    worker = threading.Thread(target=lambda: seen.append(_product()))
    worker.start()
    worker.join()
    assert seen == [0.0]
    # normal numbers are untouched
    assert float(torch.tensor([2e-38], dtype=torch.float32) * 1.0) == pytest.approx(2e-38)
