"""Small data shared by the tests."""
import numpy as np


def stripes(n=60, seed=0):
    """A tiny binary data set: one random horizontal or vertical line in an 8x8 image."""
    rng = np.random.default_rng(seed)
    imgs = np.zeros((n, 8, 8), np.float32)
    for i in range(n):
        j = rng.integers(8)
        if rng.random() < 0.5:
            imgs[i, j, :] = 1
        else:
            imgs[i, :, j] = 1
    return imgs
