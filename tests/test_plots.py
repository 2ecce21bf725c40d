"""rc.plots (style, colours, helpers) and every figure's plot() in rc.paper, on small
synthetic inputs, with validation."""
import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import rc  # noqa: E402
from rc import plots  # noqa: E402
from rc.paper import (  # noqa: E402
    fig1c,
    fig2b,
    fig3,
    fig4a,
    fig4b,
    fig5,
    fig6a,
    fig6b,
    fig7,
    fig8,
    table1,
)

RNG = np.random.default_rng(0)


def random_gamma(h, w, k, seed=0):
    g = np.random.default_rng(seed).random((h, w, k))
    return g / g.sum(-1, keepdims=True)


def scene(h=10, w=12, n_obj=2, seed=0):
    """A binary image with ``n_obj`` rectangles (overlapping) and its groups."""
    rng = np.random.default_rng(seed)
    count = np.zeros((h, w), int)
    label = np.zeros((h, w), int)
    for j in range(1, n_obj + 1):
        r, c = rng.integers(0, h - 4), rng.integers(0, w - 4)
        count[r:r + 4, c:c + 4] += 1
        label[r:r + 4, c:c + 4] = j
    groups = np.where(count == 1, label, 0)
    return (count > 0).astype(np.float32), groups


def example(rank, h=10, w=12, k=3, t=4, seed=0):
    image, groups = scene(h, w, seed=seed)
    hist = np.stack([random_gamma(h, w, k, seed + i) for i in range(t + 1)])
    return {"image": image, "groups": groups, "gamma_history": hist,
            "log_likelihood": -np.linspace(80, 20, 2 * t + 1), "rank": rank, "score": 0.5}


@pytest.fixture(autouse=True)
def no_leaked_figures():
    before = set(plt.get_fignums())
    yield
    leaked = set(plt.get_fignums()) - before
    for num in leaked:
        plt.close(num)
    assert not leaked, "a test left figures open"


def check_figure(fig):
    assert isinstance(fig, Figure)
    fig.canvas.draw()  # renders without error
    plt.close(fig)


def shown_images(fig) -> list[np.ndarray]:
    """The pictures a figure shows (one per image panel), in the order they were drawn."""
    return [np.asarray(im.get_array()) for ax in fig.axes for im in ax.images]


def bar_heights(ax) -> list[float]:
    return [round(float(p.get_height()), 9) for p in ax.patches
            if isinstance(p, mpl.patches.Rectangle) and p.get_width() > 0
            and p.get_height() > 0]


def texts(fig) -> str:
    """Every text of a figure (titles, labels, notes, tick labels) in one string."""
    return " ".join(t.get_text() for t in fig.findobj(mpl.text.Text))


# ----------------------------------------------------------------------------- colours
def test_palette_is_distinct_and_fixed():
    colors = plots.cluster_colors(12)
    assert colors.shape == (12, 3) and colors.dtype == float
    assert ((colors >= 0) & (colors <= 1)).all()
    assert len({tuple(np.round(c, 6)) for c in colors}) == 12
    # pairwise distance: clearly different colours
    d = np.linalg.norm(colors[:, None] - colors[None], axis=-1)
    assert d[~np.eye(12, dtype=bool)].min() > 0.15
    np.testing.assert_array_equal(plots.cluster_colors(3), colors[:3])
    assert plots.cluster_colors(20).shape == (20, 3)
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError):
            plots.cluster_colors(bad)


def test_dataset_colours_and_labels_cover_the_six_data_sets():
    assert set(plots.DATASET_COLORS) == set(rc.DATASETS)
    assert set(rc.datasets.LABELS) == set(rc.datasets.ALL_DATASETS)
    assert len(set(plots.DATASET_COLORS.values())) == 6
    assert rc.datasets.label("mnist_shape") == "MNIST+Shape"
    assert rc.datasets.label("multi_mnist") == "Multi-MNIST"
    assert rc.datasets.label("mine") == "mine"


def test_importing_and_plotting_leave_global_rc_params_alone():
    before = dict(mpl.rcParams)
    check_figure(fig4b.plot({2: -RNG.random((5, 7))}))
    assert dict(mpl.rcParams) == before


# ----------------------------------------------------------------------------- helpers
def test_assignment_rgb_colours_on_pixels_and_mixes_soft_assignments():
    image = np.array([[1, 0], [1, 1]], float)
    gamma = np.zeros((2, 2, 3))
    gamma[0, 0, 0] = gamma[0, 1, 1] = gamma[1, 0, 2] = 1
    gamma[1, 1] = [0.5, 0.5, 0]
    rgb = plots.assignment_rgb(image, gamma)
    colors = plots.cluster_colors(3)
    assert rgb.shape == (2, 2, 3)
    np.testing.assert_allclose(rgb[0, 0], colors[0])
    np.testing.assert_allclose(rgb[0, 1], 1.0)  # off pixel: white
    np.testing.assert_allclose(rgb[1, 0], colors[2])
    np.testing.assert_allclose(rgb[1, 1], (colors[0] + colors[1]) / 2)
    # unnormalised weights are normalised
    np.testing.assert_allclose(plots.assignment_rgb(image, 3 * gamma), rgb)


def test_groups_rgb_objects_overlap_background():
    image = np.array([[1, 1, 0], [1, 1, 0]], float)
    groups = np.array([[1, 2, 0], [0, 3, 0]])
    rgb = plots.groups_rgb(image, groups)
    colors = plots.cluster_colors(3)
    assert rgb.shape == (2, 3, 3)
    np.testing.assert_allclose(rgb[0, 0], colors[0])
    np.testing.assert_allclose(rgb[0, 1], colors[1])
    np.testing.assert_allclose(rgb[1, 1], colors[2])
    np.testing.assert_allclose(rgb[1, 0], plots.OVERLAP_COLOR)
    np.testing.assert_allclose(rgb[:, 2], 1.0)


@pytest.mark.parametrize("gamma_shape", [(4, 5), (5, 4, 2), (4, 4, 2), (4, 5, 0)])
def test_assignment_rgb_rejects_mismatched_gamma(gamma_shape):
    with pytest.raises(ValueError, match="gamma"):
        plots.assignment_rgb(np.ones((4, 5)), np.ones(gamma_shape))


def test_groups_rgb_rejects_bad_groups():
    with pytest.raises(ValueError, match="shape"):
        plots.groups_rgb(np.ones((4, 5)), np.ones((5, 4), int))
    with pytest.raises(ValueError, match="non-negative"):
        plots.groups_rgb(np.ones((2, 2)), -np.ones((2, 2), int))
    with pytest.raises(ValueError, match="non-negative"):
        plots.groups_rgb(np.ones((2, 2)), np.full((2, 2), 0.5))
    with pytest.raises(ValueError):
        plots.assignment_rgb(np.ones(4), np.ones((4, 1)))


# ----------------------------------------------------------------------------- figures
def test_fig_examples():
    examples = {name: scene(h, h, n, seed=i) for i, (name, h, n) in enumerate(
        [("shapes", 12, 3), ("simple_superposition", 8, 2), ("multi_mnist", 20, 3)])}
    fig = fig3.plot(examples)
    # two panels per data set (input above its ground truth), the book's order
    images = shown_images(fig)
    assert len(images) == 2 * len(examples)
    order = [n for n in rc.DATASETS if n in examples]
    for j, name in enumerate(order):
        image, groups = examples[name]
        assert np.array_equal(images[2 * j], image)
        assert np.array_equal(images[2 * j + 1], plots.groups_rgb(image, groups))
    words = texts(fig)
    assert "input" in words and "ground truth" in words
    assert all(plots.dataset_label(n) in words for n in examples)
    check_figure(fig)
    with pytest.raises(ValueError):
        fig3.plot({})
    with pytest.raises(ValueError):
        fig3.plot({"shapes": np.ones((4, 4))})


@pytest.mark.parametrize("k", [2, 3, 12])
def test_fig_rc_iteration(k):
    image, _ = scene()
    g0, mu, g1 = (random_gamma(10, 12, k, s) for s in range(3))
    fig = fig2b.plot(image, g0, mu, g1)
    images = shown_images(fig)
    # the three side panels and four stages per cluster
    assert len(images) == 3 + 4 * k
    for stage in (g0, g0 * image[..., None], mu, g1):
        for c in range(k):
            assert any(a.shape == stage[..., c].shape and np.allclose(a, stage[..., c])
                       for a in images), "a stage of a cluster is not shown"
    assert any(np.allclose(a, plots.assignment_rgb(image, g1)) for a in images
               if a.ndim == 3)
    check_figure(fig)


def test_fig_rc_iteration_validates_shapes():
    image, _ = scene()
    g = random_gamma(10, 12, 3)
    with pytest.raises(ValueError, match="gamma0"):
        fig2b.plot(image, g[:, :11], g, g)
    with pytest.raises(ValueError, match="same number of clusters"):
        fig2b.plot(image, g, g[..., :2], g)


def test_fig_scores_by_k():
    scores = {n: {2: 0.5, 3: 0.7, 5: 0.6, 12: 0.3} for n in rc.DATASETS}
    fig = fig4a.plot(scores)
    (ax,) = [a for a in fig.axes if a.patches]
    # one bar per data set and K, of the score's height, data set after data set
    assert bar_heights(ax) == [0.5, 0.7, 0.6, 0.3] * len(rc.DATASETS)
    assert "AMI" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()][:4] == \
        ["K = 2", "K = 3", "K = 5", "K = 12"]
    check_figure(fig)
    fig = fig4a.plot({"shapes": {3: 0.9}, "other": {2: 0.1}}, best_k={},
                     errors={"shapes": {3: 0.01}})
    (ax,) = [a for a in fig.axes if a.patches]
    assert bar_heights(ax) == [0.9, 0.1]
    check_figure(fig)
    with pytest.raises(ValueError):
        fig4a.plot({"shapes": {3: "high"}})
    with pytest.raises(ValueError):
        fig4a.plot({})


def test_fig_ll_convergence():
    ll = {k: -RNG.random((20, 11)) * 100 for k in (2, 3, 5, 12)}
    fig = fig4b.plot(ll)
    (ax,) = fig.axes
    # the mean over images after every E-step, one line per K
    lines = {line.get_label(): line for line in ax.get_lines()}
    for k, values in ll.items():
        x, y = lines[f"K = {k}"].get_data()
        assert np.array_equal(x, np.arange(6)) and np.allclose(y, values[:, ::2].mean(0))
    assert ax.get_xlabel() == "RC iteration" and "log-likelihood" in ax.get_ylabel()
    check_figure(fig)
    fig = fig4b.plot(ll, half_steps=True, title="Shapes")
    (ax,) = fig.axes
    x, y = {line.get_label(): line for line in ax.get_lines()}["K = 3"].get_data()
    assert np.array_equal(x, np.arange(11) / 2) and np.allclose(y, ll[3].mean(0))
    assert ax.get_title() == "Shapes"
    check_figure(fig)
    check_figure(fig4b.plot({3: -np.ones((4, 1))}))
    with pytest.raises(ValueError, match="2T\\+1"):
        fig4b.plot({3: np.ones((5, 4))})


@pytest.mark.parametrize("h,w,k,t", [(8, 8, 2, 10), (28, 28, 3, 10), (20, 20, 12, 3),
                                     (48, 48, 3, 12), (10, 12, 5, 7)])
def test_fig_rc_runs(h, w, k, t):
    n = 50
    scores = RNG.random(n)
    confidence = RNG.random(n)
    examples = [example(r, h, w, k, t, seed=r) for r in (0, 10, 49)]
    fig = fig5.plot(scores, confidence, examples, title="test")
    shown = len([i for i in (0, 1, 2, 3, 5, 7, 10) if i <= t])
    # top panel + images + ground truth + log-likelihood panel
    assert len(fig.axes) == 1 + 3 * (shown + 1) + 1
    # the top panel: the scores sorted in descending order, each image's confidence
    top = fig.axes[0]
    order = np.argsort(-scores, kind="stable")
    line = {ln.get_label(): ln for ln in top.get_lines()}["score (AMI), sorted"]
    assert np.allclose(line.get_ydata(), scores[order])
    (dots,) = top.collections
    assert np.allclose(np.asarray(dots.get_offsets())[:, 1], confidence[order])
    assert top.get_xlabel() == "test images, sorted by score"
    check_figure(fig)


def test_fig_rc_runs_validation():
    scores, confidence = RNG.random(10), RNG.random(10)
    good = example(0)
    with pytest.raises(ValueError, match="confidence"):
        fig5.plot(scores, confidence[:5], [good])
    with pytest.raises(ValueError, match="rank"):
        fig5.plot(scores, confidence, [dict(good, rank=10)])
    with pytest.raises(ValueError, match="log_likelihood"):
        fig5.plot(scores, confidence, [dict(good, log_likelihood=np.zeros(4))])
    with pytest.raises(ValueError, match="gamma_history"):
        fig5.plot(scores, confidence,
                          [dict(good, gamma_history=good["gamma_history"][:, :5])])
    with pytest.raises(ValueError, match="lacks"):
        fig5.plot(scores, confidence, [{"image": good["image"]}])
    with pytest.raises(ValueError, match="iterations"):
        fig5.plot(scores, confidence, [good], iterations=(7, 10))
    with pytest.raises(ValueError):
        fig5.plot(scores, confidence, [])


def test_fig_search():
    runs = {n: RNG.random(30) for n in rc.DATASETS}
    runs["bars"][:2] = np.nan
    fig = fig8.plot(runs, paper={"bars": 0.95, "shapes": 0.93}, title="t")
    (ax,) = fig.axes
    # every finished run is a dot at its score, in its data set's row
    dots = [c.get_offsets() for c in ax.collections]
    assert len(dots) == len(rc.DATASETS)
    for i, (name, points) in enumerate(zip(rc.DATASETS, dots)):
        finite = runs[name][np.isfinite(runs[name])]
        assert np.array_equal(np.asarray(points)[:, 0], finite)
        assert np.all(np.abs(np.asarray(points)[:, 1] - i) <= 0.22)
    assert [t.get_text() for t in ax.get_yticklabels()] == \
        [plots.dataset_label(n) for n in rc.DATASETS]
    assert "28 runs" in texts(fig) and "2 failed" in texts(fig)
    diamonds = [line.get_xydata()[0].tolist() for line in ax.get_lines()
                if line.get_marker() == "D"]
    assert sorted(diamonds) == sorted([[0.95, rc.DATASETS.index("bars")],
                                       [0.93, rc.DATASETS.index("shapes")]])
    assert ax.get_xlabel() == "score (mean AMI)" and fig._suptitle.get_text() == "t"
    check_figure(fig)
    check_figure(fig8.plot({"shapes": RNG.random(5)}))


def test_fig_loss_vs_score():
    points = {n: (RNG.random(20), RNG.random(20)) for n in rc.DATASETS[:4]}
    points["shapes"] = (np.array([0.1]), np.array([0.5]))  # too few for a line
    fig = fig6a.plot(points)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == len(points)  # one panel per data set, the rest hidden
    for ax, name in zip(panels, [n for n in rc.DATASETS if n in points]):
        assert ax.get_title() == plots.dataset_label(name)
        (dots,) = ax.collections
        assert np.array_equal(dots.get_offsets(), np.column_stack(points[name]))
        losses, scores = points[name]
        lines = ax.get_lines()
        if losses.size >= 2:  # the least-squares line through the points
            (line,) = lines
            slope, intercept = np.polyfit(losses, scores, 1)
            x, y = line.get_data()
            assert np.allclose(y, slope * np.asarray(x) + intercept)
        else:
            assert not lines
        (count,) = [t.get_text() for t in ax.texts]  # how many DAEs the panel shows
        assert count == f"{losses.size} DAE{'' if losses.size == 1 else 's'}"
        low, high = ax.get_ylim()  # the scores' range, whatever the line does
        assert low <= scores.min() and scores.max() <= high
        assert high - low <= 1.2 * (np.ptp(scores) or 1.0)
    assert panels[0].get_ylabel() == "score (AMI)"
    assert panels[-1].get_xlabel() == "best validation loss"
    check_figure(fig)
    empty = fig6a.plot({"bars": points["bars"], "corners": (np.array([]), np.array([]))})
    assert [t.get_text() for t in empty.axes[1].texts] == ["0 DAEs"]
    assert not empty.axes[1].collections[0].get_offsets().size
    check_figure(empty)
    with pytest.raises(ValueError, match="differ"):
        fig6a.plot({"bars": (np.ones(3), np.ones(4))})


def test_fig_single_vs_multi():
    single = {n: 0.8 for n in rc.DATASETS}
    multi = {n: 0.6 for n in rc.DATASETS if n != "simple_superposition"}
    single["bars"], multi["bars"] = 0.7, 0.5
    fig = fig6b.plot(single, multi, {"bars": 0.95}, {"bars": 0.85})
    (ax,) = fig.axes
    # a filled bar (single) then a hatched one (multi) per data set; n/a where none
    want = [v for n in rc.DATASETS for v in (single[n],) + ((multi[n],) if n in multi else ())]
    assert bar_heights(ax) == want
    assert "n/a" in texts(fig)
    circles = sorted(line.get_xydata()[0, 1] for line in ax.get_lines())
    assert circles == [0.85, 0.95]
    assert [t.get_text() for t in ax.get_xticklabels()] == \
        [plots.dataset_label(n) for n in rc.DATASETS]
    check_figure(fig)
    check_figure(fig6b.plot(single, {}))
    with pytest.raises(ValueError):
        fig6b.plot({}, {})


def test_fig_novel():
    images = np.stack([scene(12, 12, seed=s)[0] for s in range(4)])
    gammas = np.stack([random_gamma(12, 12, 3, s) for s in range(4)])
    fig = fig7.plot(images, gammas, ["a", "b", "a long title " * 3, "d"])
    shown = shown_images(fig)
    assert len(shown) == 2 * len(images)  # each input above its RC result
    for j in range(len(images)):
        assert np.array_equal(shown[2 * j], images[j])
        assert np.allclose(shown[2 * j + 1], plots.assignment_rgb(images[j], gammas[j]))
    assert "RC result" in texts(fig) and "long title" in texts(fig)
    check_figure(fig)
    check_figure(fig7.plot(images[:1], gammas[:1]))
    with pytest.raises(ValueError, match="gammas"):
        fig7.plot(images, gammas[:, :10])
    with pytest.raises(ValueError, match="titles"):
        fig7.plot(images, gammas, ["a"])


def test_fig_predictability():
    image, groups = scene()
    obj = (groups == 1).astype(float)
    mask = np.zeros_like(obj, bool)
    mask[2:4, 2:4] = True
    others = image * (groups != 1)
    args = (image, obj * ~mask, obj, others * ~mask, RNG.random(obj.shape))
    fig = fig1c.plot(*args, mask)
    shown = [a for a in shown_images(fig)]
    # the five panels in order, in grey levels clipped to [0, 1]
    assert len(shown) == 5
    for got, want in zip(shown, args):
        assert np.allclose(got, np.clip(want, 0, 1))
    assert "DAE fills in" in texts(fig)
    check_figure(fig)
    check_figure(fig1c.plot(*args, mask.astype(int)))
    with pytest.raises(ValueError, match="mask"):
        fig1c.plot(*args, mask[:5])
    with pytest.raises(ValueError, match="reconstruction_alone"):
        fig1c.plot(image, obj, obj[:, :3], obj, obj, mask)


def test_training_curves_and_inits():
    hist = {"val_loss": [5.0, 3.0, 2.5, 2.6], "best_epoch": 2, "best_val_loss": 2.5}
    fig = table1.plot_training({"shapes": hist, "bars": hist})
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == [plots.dataset_label(n)
                                                  for n in ("shapes", "bars")]
    for ax in panels:
        curve, best = ax.get_lines()
        assert np.array_equal(curve.get_ydata(), hist["val_loss"])
        assert best.get_xydata().tolist() == [[2, 2.5]]  # the kept epoch marked
    assert panels[0].get_ylabel() == "validation loss" and panels[0].get_xlabel() == "epoch"
    check_figure(fig)
    for k in (2, 3, 12):
        fig = plots.fig_inits(k, (10, 12))
        assert [ax.get_title() for ax in fig.axes] == [
            f'init="{init}"' for init in rc.clustering.INITS]
        assert all(a.shape == (10, 12, 3) for a in shown_images(fig))
        check_figure(fig)
    with pytest.raises(ValueError):
        table1.plot_training({})


def test_failed_figure_calls_close_their_figures():
    before = set(plt.get_fignums())
    with pytest.raises(ValueError):
        fig5.plot(RNG.random(5), RNG.random(5), [example(0)], iterations=(99,))
    assert set(plt.get_fignums()) == before


def test_the_scale_of_a_search_in_progress_names_each_data_sets_count():
    """The caption of Figures 8 and 6a at full scale (searches committed as they go) says
    how many runs each data set has so far, and nothing more once all have 100."""
    full = rc.get_profile("full")
    done = {d: 100 for d in full.full_searches}
    assert fig8.scale_text(full, "search", done) == full.caption("search")
    text = fig8.scale_text(full, "search", {**done, "shapes": 83, "corners": 0,
                                            "mnist_shape": 0})
    assert text.startswith(full.caption("search"))
    assert text.endswith("; stored so far: 100 for Simple Superposition and Bars, 83 for "
                         "Shapes, none yet for Corners and MNIST+Shape")
    small = rc.get_profile("default")  # a profile with its own smaller searches
    assert fig8.scale_text(small, "search", {"bars": small.search_runs}) == \
        small.caption("search")
