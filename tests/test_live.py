"""rc.live: RC on one image of the reader's choice with the committed full-scale DAE, and
the line at the top of every chapter (with rc.config.launch, what a launch sets).

Fast: the Shapes DAE of results/full loads in a fraction of a second and RC on one 28x28
image for a few iterations takes about a second; nothing is trained."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import rc
from rc import live
from rc.cache import MissingResultError
from rc.config import launch

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _drawing(shape=(28, 28)) -> np.ndarray:
    """Two squares apart: two connected strokes."""
    d = np.zeros(shape)
    d[3:10, 3:10] = 1
    d[15:25, 14:24] = 1
    return d


# ------------------------------------------------------------------------ bind
def test_bind_a_test_image_repeats_the_committed_evaluation():
    """RC on test image i with the profile's settings is the run of image i in the stored
    full-scale evaluation: the same DAE, random start (seed, i) and iterations."""
    results = rc.Results("full", may_compute=False, progress=False)
    stored = results.evaluation("shapes", 1)
    run = live.bind("shapes", image=2, n_iters=results.profile.n_iters)
    movie = run.movie
    assert movie.k == rc.dataset_info("shapes").k and movie.e_step == "soft"
    assert movie.gamma_history.shape == (11, 1, 28, 28, movie.k)
    assert movie.mu_history.shape == (10, 1, 28, 28, movie.k)
    np.testing.assert_allclose(movie.ami[0], stored.ami[2], atol=1e-4)
    assert run.ami == pytest.approx(stored.final_ami[2], abs=1e-4)
    assert run.labels.shape == (28, 28) and set(np.unique(run.labels)) <= {-1, 0, 1, 2}
    assert "test image 2 of Shapes" in run.summary() and "full-profile" in run.summary()
    assert run.seconds < 60


def test_bind_a_drawing_and_a_png(tmp_path):
    run = live.bind("shapes", image=_drawing(), k=2, n_iters=3)
    assert run.movie.groups.max() == 2   # its two connected strokes stand in for the truth
    assert "connected ink regions" in run.truth and "your drawing" in run.summary()
    assert np.isfinite(run.ami)
    path = tmp_path / "two.png"
    Image.fromarray((_drawing() * 255).astype(np.uint8)).save(path)
    from_png = live.bind("shapes", image=path, k=2, n_iters=3)
    np.testing.assert_array_equal(from_png.movie.images, run.movie.images)
    np.testing.assert_allclose(from_png.movie.ami, run.movie.ami)
    # dark ink on white, and groups of the reader's own
    dark = live.bind("shapes", image=1 - _drawing(), k=2, n_iters=2, ink="dark",
                     groups=(_drawing() > 0).astype(int))
    assert dark.truth == "the groups you gave"


def test_the_animation_has_a_frame_per_iteration():
    run = live.bind("shapes", image=0, k=3, n_iters=2)
    gif = Image.open(io.BytesIO(run.gif(dpi=40)))
    assert gif.format == "GIF" and gif.n_frames == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"dataset": "cifar"}, "unknown data set 'cifar'"),
    ({"image": np.zeros((10, 10)) + 1}, "takes 28x28 images; the image is 10x10"),
    ({"image": np.ones((2, 28, 28))}, "must be a 2-D array"),
    ({"image": _drawing() * 2}, "from 0 (off) to 1 (on)"),
    ({"image": np.zeros((28, 28))}, "no on pixels"),
    ({"image": "no/such/file.png"}, "no such file"),
    ({"image": 10_000_000}, "index of a test image of Shapes"),
    ({"image": -1}, "index of a test image of Shapes"),
    ({"image": True}, "test image's index"),
    ({"image": None}, "test image's index"),
    ({"image": {"a": 1}}, "test image's index"),
    ({"k": 0}, "k must be >= 1"),
    ({"k": -2}, "k must be >= 1"),
    ({"k": 2.5}, "k must be an integer"),
    ({"k": 1000}, "k must be at most the image's"),
    ({"n_iters": 0}, "n_iters must be >= 1"),
    ({"n_iters": live.MAX_ITERS + 1}, f"at most {live.MAX_ITERS}"),
    ({"e_step": "medium"}, "unknown e_step"),
    ({"ink": "red"}, "unknown ink"),
    ({"groups": np.zeros((28, 28), int)}, "groups is for a drawing"),
    ({"image": _drawing(), "groups": np.zeros((5, 5), int)}, "groups must be integers"),
])
def test_bad_inputs_are_refused_in_one_sentence(kwargs, message):
    with pytest.raises(ValueError) as info:
        live.bind(**{"dataset": "shapes", "image": 0, **kwargs})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bind_never_trains(tmp_path, monkeypatch):
    monkeypatch.setenv("RC_RESULTS", str(tmp_path))
    monkeypatch.setattr(live, "_DAES", {})
    with pytest.raises(MissingResultError, match="no stored full-profile DAE"):
        live.bind("shapes", image=0)
    assert not any(tmp_path.rglob("*.npz"))


# ------------------------------------------------------------------------ the launch
@pytest.mark.parametrize("cell, environ, expected", [
    (("default", True), {}, ("default", True)),
    (("default", True), {"RC_PROFILE": "full"}, ("full", False)),
    (("default", True), {"RC_PROFILE": "full", "RC_COMPUTE": "1"}, ("full", True)),
    (("default", True), {"RC_PROFILE": "ci"}, ("ci", True)),
    (("default", True), {"RC_PROFILE": "ci", "RC_COMPUTE": "no"}, ("ci", False)),
    # a profile the reader writes into the cell wins over the launch
    (("ci", True), {"RC_PROFILE": "full", "RC_COMPUTE": "0"}, ("ci", True)),
    (("paper", False), {"RC_PROFILE": "full"}, ("paper", False)),
])
def test_launch_replaces_only_the_cells_default(cell, environ, expected):
    assert launch(*cell, environ=environ) == expected


def test_launch_refuses_unknown_values():
    with pytest.raises(ValueError, match="RC_PROFILE='fast' names no profile"):
        launch("default", True, environ={"RC_PROFILE": "fast"})
    with pytest.raises(ValueError, match="RC_COMPUTE='maybe'"):
        launch("default", True, environ={"RC_PROFILE": "full", "RC_COMPUTE": "maybe"})


def test_profile_line_names_the_profile_its_origin_and_how_to_change_it():
    launched = launch("default", True, environ={"RC_PROFILE": "full", "RC_COMPUTE": "0"})
    results = rc.Results(launched[0], may_compute=launched[1], progress=False)
    line = live.profile_line(results)
    assert line.startswith("**Profile `full`**") and "RC_PROFILE" in line
    assert "nothing is trained" in line and 'profile = "ci"' in line
    assert "\n" not in line
    # a profile written into the cell (or set after the launch) is the cell's
    launch("ci", True, environ={"RC_PROFILE": "full"})
    line = live.profile_line(rc.Results("ci", progress=False))
    assert line.startswith("**Profile `ci`**") and "first cell" in line
    assert "computes what" in line


def test_a_missing_result_is_explained_not_traced():
    error = MissingResultError("MNIST+Shape on the authors' images, seed 0 is not in "
                               "/repo/results/full (entry seed-0.json); it has to be "
                               "computed first: compute the full profile with `make full`")
    text = live.missing_result(error)
    assert text.startswith("**Not stored: MNIST+Shape on the authors' images, seed 0.**")
    assert 'profile = "ci"' in text and "nothing was trained" in text
    assert "/repo/results" not in text and "\n" not in text
