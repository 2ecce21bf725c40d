"""rc.novel: the novel-object images of Fig. 7."""
import numpy as np
import pytest

from rc.novel import SIZE, _letter, novel_objects


@pytest.fixture(scope="module")
def novel():
    return novel_objects()


def test_shapes_types_and_binary(novel):
    images, groups, descriptions = novel
    m = len(descriptions)
    assert 6 <= m <= 10
    assert images.shape == (m, SIZE, SIZE) == (m, 48, 48) and images.dtype == np.float32
    assert groups.shape == images.shape and groups.dtype == np.int64
    assert set(np.unique(images)) <= {0.0, 1.0}
    assert all(isinstance(d, str) and d for d in descriptions)


def test_groups_are_consistent_with_images(novel):
    images, groups, _ = novel
    assert (groups >= 0).all()
    assert (images[groups > 0] == 1).all()  # every object pixel is on
    for g in groups:
        labels = set(np.unique(g)) - {0}
        assert labels == set(range(1, len(labels) + 1))  # 1..n
        assert 2 <= len(labels) <= 3


def test_deterministic_and_seeded():
    a, b = novel_objects(0), novel_objects(0)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2] == b[2]
    c = novel_objects(1)
    assert not np.array_equal(a[0], c[0])
    for bad in (-1, 1.5, "0", True):
        with pytest.raises(ValueError):
            novel_objects(bad)


def test_every_kind_of_object_appears(novel):
    descriptions = novel[2]
    assert any("letter" in d for d in descriptions)
    assert any("ring" in d or "disc" in d for d in descriptions)
    assert any("broken line" in d for d in descriptions)


def test_letters_are_14_to_18_pixels_tall():
    for char in "AEFHKLRTXYZ":
        for height in (14, 16, 18):
            assert abs(_letter(char, height).shape[0] - height) <= 1


def _dilate(mask):
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def test_separated_and_touching_cases(novel):
    images, groups, descriptions = novel
    apart = [i for i, d in enumerate(descriptions) if "apart" in d]
    touching = [i for i, d in enumerate(descriptions) if "touching" in d]
    assert apart and touching
    for i in apart:  # objects at least 3 pixels apart
        a = groups[i] == 1
        for _ in range(2):
            a = _dilate(a)
        assert not (a & (groups[i] == 2)).any()
    for i in touching:  # objects are neighbours but do not overlap
        assert (_dilate(groups[i] == 1) & (groups[i] == 2)).any()
        assert not ((images[i] == 1) & (groups[i] == 0)).any()
