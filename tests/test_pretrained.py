"""rc.pretrained and `python -m rc bind`: stored DAEs without training, RC on image files."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import rc
from rc import cli
from rc.pipeline import TrainedDAE
from rc.pretrained_daes import full_scale_or_own
from rc.training import TrainHistory

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def stored(tiny_world):
    """A results folder holding the ci profile's Table 1 DAE of Bars (20x20, K = 12): the
    session's tiny world (conftest.py; helpers.TINY trains the ci profile's DAE), read only."""
    assert rc.Results("ci", may_compute=False, progress=False, root=tiny_world).table_dae("bars", 1)
    return tiny_world


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _bars_png(path: Path, size=(20, 20), dark=False, rows=(5,), cols=(12,)) -> Path:
    """A horizontal and a vertical bar, drawn for the test (white on black by default)."""
    img = np.zeros(size[::-1], np.uint8)
    for r in rows:
        img[r, :] = 255
    for c in cols:
        img[:, c] = 255
    Image.fromarray(255 - img if dark else img, mode="L").save(path)
    return path


# ------------------------------------------------------------------------------ pretrained
def test_pretrained_loads_the_stored_dae_and_trains_nothing(stored, monkeypatch):
    before = _files(stored)
    trained = rc.Results("ci", may_compute=False, progress=False, root=stored,
                         device="cpu").table_dae("bars", 1)
    monkeypatch.setenv("RC_RESULTS", str(stored))
    model = rc.pretrained("bars", profile="ci", device="cpu")   # RC_RESULTS is the root
    assert _files(stored) == before
    assert not model.dae.training
    for (name, a), b in zip(model.dae.state_dict().items(), trained.dae.state_dict().values()):
        assert torch.equal(a, b), name
    assert model.config == rc.specs.DAEConfig.from_mapping(rc.paper.table1.PAPER["bars"])
    assert model.spec.name == "bars-train_single-100relu-s0"
    assert model.history.epochs == trained.history.epochs >= 1
    assert model.provenance["profile"] == "ci" and model.profile == "ci"
    assert (model.k, model.e_step, model.image_shape) == (12, "soft", (20, 20))
    assert model.source == "the paper's Table 1"
    assert "Bars" in model.describe() and "100 relu" in model.describe()
    spec = model.rc_spec(k=2, n_iters=3)
    assert (spec.k, spec.n_iters, spec.e_step) == (2, 3, "soft")


def test_pretrained_says_what_is_missing_and_how_to_compute_it(tmp_path):
    with pytest.raises(rc.MissingResultError) as err:
        rc.pretrained("multi_mnist", root=tmp_path)
    message = str(err.value)
    assert "Multi-MNIST" in message and "Table 1" in message and "make full" in message
    assert "multi_mnist-train_single-1000relu-s0" in message and str(tmp_path) in message
    assert not list(tmp_path.iterdir())   # nothing computed, nothing written


@pytest.mark.parametrize("args, match", [
    (("mnist", 1), "unknown data set 'mnist'"),
    (("shapes", 3), "table must be 1"),
    (("shapes", True), "table must be 1"),
    (("shapes", "1"), "table must be 1"),
    (("simple_superposition", 2), "no multi-object training split"),
])
def test_pretrained_rejects_bad_names(tmp_path, args, match):
    with pytest.raises(ValueError, match=match):
        rc.pretrained(*args, root=tmp_path)


def test_full_scale_dae_is_preferred_where_stored(tmp_path):
    ci = rc.Results("ci", progress=False, root=tmp_path, device="cpu")
    own = full_scale_or_own(ci, "simple_superposition")
    assert own.profile == "ci"                     # nothing at full scale: its own
    full = rc.Results("full", progress=False, root=tmp_path, device="cpu")
    spec = full.table_spec("simple_superposition")
    stand_in = TrainedDAE(rc.DAE(64, spec.config.n_hidden, spec.config.activation, seed=5),
                          TrainHistory(epochs=1, stopped="max epochs"),
                          full.provenance(seconds=0.0))
    full.cache.store(f"dae/{spec.name}", spec.inputs(), stand_in, TrainedDAE)
    chosen = full_scale_or_own(ci, "simple_superposition")
    assert chosen.profile == "full" and chosen.spec == spec
    assert torch.equal(chosen.dae.encoder.weight, stand_in.dae.encoder.weight)
    # a profile at the paper's scale keeps its own DAEs
    assert full_scale_or_own(full, "simple_superposition").profile == "full"


# ------------------------------------------------------------------------------ the command
def _bind(stored, image, out, *extra):
    return cli.main(["bind", str(image), "--model", "bars", "--profile", "ci", "--results",
                     str(stored), "--out", str(out), "--iterations", "3", *extra])


def test_bind_writes_the_groups_and_the_assignments(stored, tmp_path, capsys):
    image = _bars_png(tmp_path / "bars.png")
    assert _bind(stored, image, tmp_path / "groups.png", "--k", "2", "--scale", "4") == 0
    printed = capsys.readouterr()
    assert "bound the 39 on-pixels" in printed.out and printed.err == ""
    picture = np.asarray(Image.open(tmp_path / "groups.png"))
    assert picture.shape == (80, 80, 3)
    doc = json.loads((tmp_path / "groups.json").read_text())
    labels = np.array(doc["labels"])
    on = np.asarray(Image.open(image)) > 127
    assert labels.shape == (20, 20) and (labels[~on] == -1).all()
    assert set(np.unique(labels[on])) <= {0, 1}
    assert sum(doc["group_sizes"]) == doc["on_pixels"] == on.sum()
    gamma = np.array(doc["gamma"])
    assert gamma.shape == (20, 20, 2) and np.allclose(gamma.sum(-1), 1, atol=1e-3)
    assert (labels[on] == gamma.argmax(-1)[on]).all()
    assert doc["settings"] == {"threshold": 0.5, "ink": "light", "resized": False, "k": 2,
                               "e_step": "soft", "iterations": 3, "seed": 0,
                               "init": "gaussian"}
    assert doc["model"]["profile"] == "ci" and doc["model"]["dataset"] == "bars"
    # the same as RC with the stored DAE on the binarised image
    model = rc.pretrained("bars", profile="ci", root=stored, device="cpu")
    res = rc.reconstruction_clustering(model.dae, on[None].astype(np.float32), k=2,
                                       n_iters=3)
    assert np.allclose(gamma, res.gamma[0], atol=1e-4)


def test_bind_options_dark_ink_hard_resize(stored, tmp_path, capsys):
    dark = _bars_png(tmp_path / "dark.png", dark=True)
    assert _bind(stored, dark, tmp_path / "light.png") == 0
    assert "pass --ink dark" in capsys.readouterr().err      # most pixels on: a note
    assert _bind(stored, dark, tmp_path / "d.png", "--ink", "dark", "--e-step", "hard") == 0
    doc = json.loads((tmp_path / "d.json").read_text())
    assert doc["on_pixels"] == 39 and doc["settings"]["e_step"] == "hard"
    assert set(np.unique(doc["gamma"])) <= {0.0, 1.0}
    big = _bars_png(tmp_path / "big.png", size=(40, 40), rows=(10, 11), cols=(24, 25))
    assert _bind(stored, big, tmp_path / "r.png", "--resize") == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["settings"]["resized"] and doc["image_size"] == [40, 40]
    assert doc["shape"] == [20, 20]


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _bad_image(kind: str, folder: Path) -> Path:
    """An image file with one problem, drawn for the test."""
    path = folder / f"{kind}.png"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not an image")
    elif kind == "truncated":
        path.write_bytes(_bars_png(folder / "whole.png").read_bytes()[:60])
    elif kind == "wrong_size":
        _bars_png(path, size=(30, 20))
    elif kind in ("black", "white"):
        Image.new("L", (20, 20), 0 if kind == "black" else 255).save(path)
    elif kind == "folder":
        path.mkdir()
    return path  # "missing": not created


@pytest.mark.parametrize("kind, match", [
    ("missing", "missing.png: no such file"),
    ("empty", "the file is empty"),
    ("text", "not an image file"),
    ("truncated", "cannot be decoded"),
    ("wrong_size", "is 30x20 pixels but the Bars DAE takes 20x20; .* --resize"),
    ("black", "every pixel is off: the image is all one value"),
    ("white", "every pixel is on"),
    ("folder", "is a folder"),
])
def test_bind_rejects_bad_images_in_one_line(stored, tmp_path, capsys, kind, match):
    image = _bad_image(kind, tmp_path)
    assert _bind(stored, image, tmp_path / "out.png") == 1
    line = _error(capsys)
    assert line.startswith("python -m rc bind: error: ")
    assert re.search(match, line), line
    assert not (tmp_path / "out.png").exists() and not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("extra, match, status", [
    (["--out", "{tmp}/no/such/folder/x.png"], "does not exist", 1),
    (["--out", "{tmp}/x.jpg"], "ending in .png", 1),
    (["--out", "{tmp}/bars.png/x.png"], "does not exist", 1),
    (["--threshold", "1.5"], "--threshold must be between 0 and 1", 1),
    (["--k", "0"], "--k must be a positive integer", 1),
    (["--iterations", "0"], "--iterations must be a positive integer", 1),
    (["--k", "two"], "invalid int value", 2),
    (["--model", "mnist"], "invalid choice", 2),
    (["--profile", "fast"], "unknown profile 'fast'", 1),
])
def test_bind_rejects_bad_settings_in_one_line(stored, tmp_path, capsys, extra, match,
                                                status):
    image = _bars_png(tmp_path / "bars.png")
    args = ["bind", str(image), "--model", "bars", "--profile", "ci", "--results",
            str(stored), "--out", str(tmp_path / "o.png")]
    extra = [e.replace("{tmp}", str(tmp_path)) for e in extra]
    if status == 2:
        with pytest.raises(SystemExit) as exit_:
            cli.main(args + extra)
        assert exit_.value.code == 2
    else:
        assert cli.main(args + extra) == status
    assert match in _error(capsys)


def test_bind_names_a_missing_model_and_the_command(tmp_path, capsys):
    image = _bars_png(tmp_path / "bars.png")
    assert cli.main(["bind", str(image), "--model", "bars", "--results", str(tmp_path),
                     "--out", str(tmp_path / "o.png")]) == 1
    line = _error(capsys)
    assert "no stored full-profile DAE of Table 1 for Bars" in line and "make full" in line


@pytest.mark.slow  # a fresh interpreter runs rc bind
def test_python_dash_m_rc_bind_end_to_end(stored, tmp_path):
    """The command in a fresh interpreter: an image in, a picture and a JSON out; and a
    broken file gives one line on stderr and exit status 1."""
    image = _bars_png(tmp_path / "bars.png")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    base = [sys.executable, "-m", "rc", "bind", "--model", "bars", "--profile", "ci",
            "--results", str(stored), "--k", "2", "--iterations", "4"]
    done = subprocess.run(base + [str(image), "--out", str(tmp_path / "g.png")], env=env,
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and (tmp_path / "g.png").exists()
    assert json.loads((tmp_path / "g.json").read_text())["settings"]["iterations"] == 4
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    bad = subprocess.run(base + [str(tmp_path / "broken.png")], env=env,
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "broken.png" in bad.stderr
