"""rc.beyond.mnist_shape: the authors' lone-object MNIST+Shape images, re-stated, and the
Table 1 seeds trained on them."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import TINY

import rc
from rc.beyond import mnist_shape
from rc.datasets import PATTERNS
from rc.mnist import load_mnist


@pytest.fixture(scope="module")
def lone():
    return mnist_shape.authors_lone_images()


def test_half_are_digits_half_are_shapes_shuffled(lone):
    images, is_shape = lone
    assert images.shape == (10000, 28, 28) and images.dtype == np.float32
    assert is_shape.sum() == 5000
    assert set(np.unique(images)) <= {0.0, 1.0}
    # shuffled: neither half sits in one block
    assert 0 < is_shape[:5000].sum() < 5000


def test_lone_shapes_are_whole_patterns_inside_the_canvas(lone):
    images, is_shape = lone
    sizes = {int(PATTERNS[s].sum()) for s in ("square", "triangle", "triangle_down")}
    assert set(images[is_shape].sum((1, 2)).astype(int)) <= sizes


def test_lone_digits_are_training_digits_thresholded_at_129(lone):
    images, is_shape = lone
    raw, _ = load_mnist("train")
    digit_ids, _, order = mnist_shape._authors_draws()
    first = int(np.flatnonzero(~is_shape)[0])  # its digit id: order[first] < 5000
    digit = raw[digit_ids[order[first]]]
    np.testing.assert_array_equal(images[first], digit >= 129)
    assert mnist_shape.AUTHORS_THRESHOLD == 129 and mnist_shape.OUR_THRESHOLD == 128
    # the two thresholds differ on exactly the pixels of value 128
    lower = mnist_shape.authors_lone_images(threshold=128)[0]
    changed = lower != images
    assert changed.any() and not (changed & is_shape[:, None, None]).any()


def test_the_draws_repeat_and_use_digits_from_all_of_mnist():
    a, b = mnist_shape._authors_draws(), mnist_shape._authors_draws()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    digit_ids = a[0]
    assert digit_ids.max() > 5000, "the authors draw from all 60,000 training digits"
    assert len(np.unique(digit_ids)) < 5000, "with replacement"


def test_facts_compare_the_two_image_sets():
    facts = mnist_shape.data_facts()
    assert facts["ours"]["distinct lone digits"] == 5000
    assert facts["authors"]["distinct lone digits"] < 5000
    assert 50 < facts["authors"]["ink pixels per lone digit"] < 200
    assert "with replacement" in str(mnist_shape.facts_table())


def test_a_profile_without_the_analysis_says_so(tmp_path):
    results = rc.Results(TINY, settings={"beyond": ("robustness",)}, progress=False,
                      root=tmp_path)
    result = mnist_shape.compute(results)
    assert not result.measured
    assert mnist_shape.answer(result).startswith("Not measured")
    assert not (tmp_path / TINY.name / "mnist_shape_gap").exists()


@pytest.mark.e2e
@pytest.mark.slow
def test_the_ci_protocol_trains_and_stores_each_seed_on_the_authors_images(shared_ci_book):
    """The shared ci world (tests/conftest.py) ran this analysis in its protocol."""
    results = rc.Results("ci", may_compute=False, progress=False, root=shared_ci_book.results)
    result = mnist_shape.compute(results)
    assert result.measured and len(result.authors) == len(result.ours) == len(result.seeds)
    assert all(0 <= s <= 1 for s in result.authors)
    stored = sorted((shared_ci_book.results / "ci" / "mnist_shape_gap").glob("seed-*.json"))
    assert len(stored) == len(result.seeds) == 2
    assert str(result.seeds[0]) in mnist_shape.table(result)
