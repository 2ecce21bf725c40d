"""rc.animation: RC recorded iteration by iteration (cached) and drawn as an animated GIF."""
import io

import helpers
import numpy as np
import pytest
from PIL import Image

import rc
from rc import animation

TINY = helpers.TINY.replace(datasets=("simple_superposition",), n_test=8, loss_runs=3,
                            ks=rc.get_profile("ci").ks)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    results = rc.Results(TINY, progress=False, root=root, device="cpu")
    return results, animation.compute(results, "simple_superposition")


def test_the_recorded_run_is_the_evaluations_and_is_cached(recorded):
    results, movie = recorded
    t, n, k = TINY.n_iters, animation.N_IMAGES, 2
    assert movie.gamma_history.shape == (t + 1, n, 8, 8, k)
    assert movie.mu_history.shape == (t, n, 8, 8, k)
    assert movie.ami.shape == (n, t + 1) and movie.ids.tolist() == [0, 1, 2]
    assert np.allclose(movie.gamma_history.astype(float).sum(-1), 1, atol=2e-3)
    # the frames are those of the evaluation of the same images (same random starts)
    evaluation = results.evaluation("simple_superposition")
    assert np.allclose(movie.ami, evaluation.ami[:n], atol=1e-6)
    images, groups = results.test_data("simple_superposition")
    assert np.array_equal(movie.images, images[:n]) and np.array_equal(movie.groups, groups[:n])
    # no full-scale DAE is stored here: the profile's own, and the caption says so
    assert movie.dae_profile == "ci" and "ci-profile Table 1 DAE" in movie.caption()
    assert f"for {t} iterations (the ci profile's RC settings) on the first {n} scored" \
        in movie.caption()
    again = rc.Results(TINY, progress=False, root=results.cache.root.parent, may_compute=False)
    loaded = animation.compute(again, "simple_superposition")
    assert again.cache.computed == [] and any(n.startswith("animation/")
                                              for n in again.cache.loaded)
    assert np.array_equal(loaded.gamma_history, movie.gamma_history)


def test_the_cache_key_holds_the_dae_the_images_and_the_rc_settings(recorded):
    results, _ = recorded
    _, spec = animation.movie_spec(results, "simple_superposition")
    longer = rc.Results(TINY.replace(n_iters=TINY.n_iters + 1), progress=False,
                        root=results.cache.root.parent)
    _, spec_longer = animation.movie_spec(longer, "simple_superposition")
    assert spec.training == spec_longer.training and spec.rc != spec_longer.rc
    assert spec.data.n == animation.N_IMAGES and spec.data.split == "test"
    with pytest.raises(ValueError, match="n_images must be"):
        animation.movie_spec(results, "simple_superposition", n_images=0)


def test_a_missing_recording_is_not_computed_without_permission(tmp_path):
    results = rc.Results(TINY, progress=False, root=tmp_path, may_compute=False)
    with pytest.raises(rc.MissingResultError):
        animation.compute(results, "simple_superposition")


@pytest.mark.slow  # draws every frame of the GIF
def test_the_gif_plays_every_iteration_within_the_size_limit(recorded):
    _, movie = recorded
    data = animation.gif(movie)
    assert data[:6] == b"GIF89a" and len(data) <= animation.MAX_BYTES
    gif = Image.open(io.BytesIO(data))
    assert gif.n_frames == movie.n_iters + 1        # one frame per iteration, 0 to T
    assert gif.info.get("loop") == 0
    frames, durations = [], []
    for i in range(gif.n_frames):
        gif.seek(i)
        frames.append(np.asarray(gif.convert("RGB")))
        durations.append(gif.info["duration"])
    # 2 frames a second, the first and the last held 3 frames longer, each drawn once
    assert durations == [2000] + [500] * (movie.n_iters - 1) + [2000]
    assert all((a != b).any() for a, b in zip(frames, frames[1:]))
    assert animation.gif(movie) == data             # same inputs, same bytes
    shown = animation.display(movie)
    assert shown.format == "gif" and shown.data == data
    with pytest.raises(ValueError, match="fps"):
        animation.gif(movie, fps=0)


@pytest.mark.slow  # draws every frame of the GIF
def test_the_drawn_gif_is_cached_with_the_pipeline(recorded):
    results, movie = recorded
    data = animation.gif(movie)
    assert animation.display(movie, results).data == data          # drawn and stored
    assert any(n.endswith("-gif") for n in results.cache.computed)
    again = rc.Results(TINY, progress=False, root=results.cache.root.parent, may_compute=False)
    assert animation.display(movie, again).data == data         # loaded, not drawn
    assert any(n.endswith("-gif") for n in again.cache.loaded)
    elsewhere = rc.Results(TINY, progress=False, root=results.cache.root.parent / "x",
                           may_compute=False)                      # stored results only:
    assert animation.display(movie, elsewhere).data == data     # drawn, nothing stored
    assert elsewhere.cache.computed == []
    faster = animation.display(movie, results, fps=4.0).data       # other settings, other key
    assert faster != data and len(results.cache.computed) >= 2


def test_the_site_check_tells_a_playing_gif_from_a_still(recorded, tmp_path):
    """scripts/check_site.py's test of an animation: a GIF of the site, more than one
    frame, at most 2 MB."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "check_site.py"
    spec = importlib.util.spec_from_file_location("check_site", script)
    check_site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_site)
    _, movie = recorded
    (tmp_path / "movie.gif").write_bytes(animation.gif(movie))
    Image.new("RGB", (8, 8)).save(tmp_path / "still.gif")
    Image.new("RGB", (8, 8)).save(tmp_path / "still.png")
    assert check_site.gif_problem(tmp_path / "movie.gif") is None
    assert "a single frame" in check_site.gif_problem(tmp_path / "still.gif")
    assert "not a GIF" in check_site.gif_problem(tmp_path / "still.png")
    assert "not a GIF" in check_site.gif_problem(tmp_path / "gone.gif")
    figures = [{"caption": "Animation 2 (not in the paper): Bars", "images": ["movie.gif"]},
               {"caption": "Animation 3: a still", "images": ["still.png"]},
               {"caption": "Figure 5 of the paper", "images": ["still.png"]}]
    found = check_site.animations(tmp_path, "page.html", figures)
    assert [a["caption"] for a in found] == ["Animation 2", "Animation 3: a still"]
    assert found[0]["problem"] is None and found[0]["frames"] == movie.n_iters + 1
    assert "not a GIF" in found[1]["problem"]
