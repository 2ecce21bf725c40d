"""Bad inputs to the command line, the book runner and the public functions: each gives
one clear line naming the argument (or a documented note), never a deep traceback."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import load_book_run, load_script
from PIL import Image

import rc
from rc import cli
from rc.dae import MAX_PARAMETERS
from rc.pipeline import TrainedDAE
from rc.training import TrainHistory

REPO = Path(__file__).resolve().parent.parent


run_book = load_script("run_book")
arguments, execution = load_book_run("arguments"), load_book_run("execution")


# ------------------------------------------------------------------------------ bind
@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    """A results folder whose ci-profile Table 1 DAE of Bars (20x20) is an untrained
    stand-in: the command runs through without training anything."""
    root = tmp_path_factory.mktemp("results")
    ci = rc.Results("ci", progress=False, root=root, device="cpu")
    spec = ci.table_spec("bars", 1)
    dae = rc.DAE(400, spec.config.n_hidden, spec.config.activation, seed=0)
    ci.cache.store(f"dae/{spec.name}", spec.inputs(),
                   TrainedDAE(dae, TrainHistory(epochs=1, stopped="max epochs"),
                              ci.provenance(seconds=0.0)), TrainedDAE)
    return root


def _bars(path: Path, width: int = 20, rows=(5,), cols=(12,)) -> Path:
    img = np.zeros((20, width), np.uint8)
    img[list(rows), :] = 255
    img[:, list(cols)] = 255
    Image.fromarray(img, mode="L").save(path)
    return path


def _bind(root, image, *extra) -> int:
    return cli.main(["bind", str(image), "--model", "bars", "--profile", "ci", "--results",
                     str(root), "--iterations", "2", *map(str, extra)])


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("python -m rc bind: error: ")
    return lines[0]


def test_bind_refuses_one_file_for_the_picture_and_the_assignments(stand_in, tmp_path,
                                                                     capsys):
    image = _bars(tmp_path / "bars.png")
    (tmp_path / "o").mkdir()
    for js in ("o/a.png", "o/./a.png", "o/../o/a.png"):
        assert _bind(stand_in, image, "--out", tmp_path / "o/a.png",
                     "--json", tmp_path / js) == 1
        line = _error(capsys)
        assert "--out" in line and "--json" in line and "are the same file" in line
    assert not list((tmp_path / "o").iterdir())


def test_bind_refuses_to_overwrite_the_input(stand_in, tmp_path, capsys):
    image = _bars(tmp_path / "bars.png")
    before = image.read_bytes()
    os.symlink(image, tmp_path / "link.png")
    for extra in (["--out", image], ["--out", tmp_path / "link.png"],
                  ["--out", tmp_path / "x.png", "--json", image]):
        assert _bind(stand_in, image, *extra) == 1
        assert "is the input image; writing there would overwrite it" in _error(capsys)
    assert image.read_bytes() == before and not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("k", [40, 3000])
def test_bind_refuses_more_groups_than_on_pixels(stand_in, tmp_path, capsys, k):
    image = _bars(tmp_path / "bars.png")  # 39 on pixels
    assert _bind(stand_in, image, "--out", tmp_path / "o.png", "--k", k) == 1
    line = _error(capsys)
    assert f"--k {k} exceeds the number of on pixels" in line and "(39," in line
    assert "give --k 39 or less" in line and not (tmp_path / "o.png").exists()


def test_bind_checks_the_default_k_against_the_on_pixels(stand_in, tmp_path, capsys):
    few = np.zeros((20, 20), np.uint8)
    few[3, 4:9] = 255  # 5 on pixels, Bars' K is 12
    Image.fromarray(few).save(tmp_path / "few.png")
    assert _bind(stand_in, tmp_path / "few.png", "--out", tmp_path / "o.png") == 1
    line = _error(capsys)
    assert "the default K of Bars, 12, exceeds" in line and "(5," in line


def test_bind_with_k_equal_to_the_on_pixels_runs(stand_in, tmp_path, capsys):
    image = _bars(tmp_path / "bars.png")
    assert _bind(stand_in, image, "--out", tmp_path / "o.png", "--k", 39) == 0
    assert json.loads((tmp_path / "o.json").read_text())["settings"]["k"] == 39


def test_resize_says_when_it_stretches_the_image(stand_in, tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["bind", "--help"])
    assert "the aspect ratio is not kept" in " ".join(capsys.readouterr().out.split())
    wide = _bars(tmp_path / "wide.png", width=25)
    assert _bind(stand_in, wide, "--out", tmp_path / "w.png", "--resize") == 0
    err = capsys.readouterr().err
    assert "note: --resize stretches the 25x20 image to 20x20" in err
    assert json.loads((tmp_path / "w.json").read_text())["settings"]["resized"]
    square = np.zeros((40, 40), np.uint8)
    square[10:12, :] = square[:, 24:26] = 255
    Image.fromarray(square).save(tmp_path / "square.png")
    assert _bind(stand_in, tmp_path / "square.png", "--out", tmp_path / "s.png",
                 "--resize") == 0
    assert "stretches" not in capsys.readouterr().err  # same proportions: no note


def test_an_image_all_off_suggests_threshold_and_ink(stand_in, tmp_path, capsys):
    red = np.zeros((20, 20, 3), np.uint8)
    red[5, :, 0] = 255  # grey level 0.298 by luminance: below the default threshold
    Image.fromarray(red).save(tmp_path / "red.png")
    assert _bind(stand_in, tmp_path / "red.png", "--out", tmp_path / "o.png") == 1
    line = _error(capsys)
    assert "every pixel is off" in line and "[0, 0.298]" in line
    assert "--threshold 0.15" in line and "--ink dark" in line
    assert _bind(stand_in, tmp_path / "red.png", "--out", tmp_path / "o.png",
                 "--threshold", "0.15") == 0  # the suggestion works
    dark = np.zeros((20, 20, 4), np.uint8)
    dark[5, :, 3] = 255  # black strokes on a transparent background
    Image.fromarray(dark).save(tmp_path / "dark.png")
    assert _bind(stand_in, tmp_path / "dark.png", "--out", tmp_path / "d.png") == 1
    line = _error(capsys)
    assert "--ink dark" in line and "transparent pixels count as background" in line
    assert _bind(stand_in, tmp_path / "dark.png", "--out", tmp_path / "d.png",
                 "--ink", "dark") == 0


def test_an_animated_image_binds_its_first_frame_with_a_note(stand_in, tmp_path, capsys):
    first = np.asarray(Image.open(_bars(tmp_path / "bars.png")))
    frames = [Image.fromarray(f) for f in (first, 255 - first, first)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert _bind(stand_in, tmp_path / "anim.gif", "--out", tmp_path / "a.png") == 0
    assert "anim.gif has 3 frames (an animated or multi-page image); only the first is " \
           "bound" in capsys.readouterr().err
    assert json.loads((tmp_path / "a.json").read_text())["on_pixels"] == 39


# ------------------------------------------------------------------------------ run_book
def _refused(capsys, call) -> str:
    with pytest.raises(SystemExit) as stop:
        call()
    assert stop.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("run_book: ERROR: "), err
    return lines[0]


def test_the_notebooks_parameters_are_read_from_their_parameters_cells():
    for name in run_book.NOTEBOOKS:
        assert set(arguments.notebook_parameters(name)) == {
            "profile", "recompute_before", "settings", "may_compute"}, name


@pytest.mark.parametrize("key, text, words", [
    ("banana", "3", ["-p banana: not a parameter of the notebooks",
                     "they take compute, may_compute, recompute, recompute_before, "
                     "settings"]),
    ("n_iters", "5", ["-p n_iters: not a parameter", "n_iters is a profile setting",
                      "-p settings '{n_iters: 5}'"]),
    ("settings", "{n_iters: [}", ["-p settings '{n_iters: [}' is not valid YAML",
                                  "column 12"]),
    ("settings", "3", ["give a mapping of profile settings"]),
    ("settings", "{n_iter: 5}", ["unknown profile setting(s) ['n_iter']"]),
    ("settings", "{n_iters: 0}", ["n_iters must be >= 1"]),
    ("recompute", "maybe", ["-p recompute 'maybe'", "true", "false", "a UNIX time"]),
    ("may_compute", "maybe", ["-p may_compute 'maybe'", "give true", "or false"]),
    ("compute", "maybe", ["-p compute 'maybe'", "give true", "or false"]),
    ("recompute_before", "true", ["-p recompute_before 'true'", "a UNIX time", "or null"]),
])
def test_run_book_refuses_bad_parameters_in_one_line(capsys, key, text, words):
    line = _refused(capsys, lambda: run_book.check_parameters([(key, text)], ["05_appendix_"
                                                                             "derivation"],
                                                              "ci"))
    for word in words:
        assert word in line, line


def test_run_book_keeps_good_parameters():
    pairs = [("recompute", "true"), ("may_compute", "false"), ("settings", "{n_iters: 3}")]
    assert run_book.check_parameters(pairs, ["04_results"], "ci") == {
        "recompute": True, "may_compute": False, "settings": {"n_iters": 3}}
    assert run_book.check_parameters([("recompute", "1700000000")], [], "ci") == {
        "recompute": 1700000000}


def test_run_book_translates_the_old_names_of_parameters():
    """-p compute X (the notebooks' parameter before it was renamed may_compute) sets
    may_compute, as -p recompute true|TIME sets recompute_before; the new name wins."""
    given = run_book.check_parameters([("compute", "false")], ["05_appendix_derivation"],
                                      "ci")
    assert given == {"compute": False}
    injected = arguments.injected_parameters("ci", False, given)
    assert injected == {"profile": "ci", "may_compute": False}
    assert arguments.injected_parameters("ci", False, {}) == {"profile": "ci",
                                                              "may_compute": True}
    assert arguments.injected_parameters("full", False, {})["may_compute"] is False
    assert arguments.injected_parameters("full", True, {})["may_compute"] is True
    both = {"compute": True, "may_compute": False}
    assert arguments.injected_parameters("ci", False, both)["may_compute"] is False
    assert arguments.injected_parameters("ci", False, {"recompute": 5}) == {
        "profile": "ci", "may_compute": True, "recompute_before": 5}


def test_run_book_refuses_a_bad_parameter_before_any_kernel(tmp_path, capsys):
    _refused(capsys, lambda: run_book.main(["--profile", "ci", "--only", "05", "--out",
                                            str(tmp_path / "out"), "-p", "banana", "3"]))
    assert not (tmp_path / "out").exists()  # nothing prepared, no kernel started


def test_the_kernels_import_the_rc_of_their_own_checkout(tmp_path, monkeypatch):
    """A clone's notebooks import that clone's rc, even when the virtual environment's
    editable install points at another clone: the kernelspec puts the checkout first on
    PYTHONPATH (checked with a stand-in clone, without starting a kernel)."""
    from jupyter_client.kernelspec import KernelSpecManager

    clone = tmp_path / "clone"
    (clone / "rc").mkdir(parents=True)
    (clone / "rc" / "__init__.py").write_text("")
    (clone / "notebooks").mkdir()
    monkeypatch.setattr(execution, "REPO", clone)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "other"), str(clone)]))
    run_dir = execution._run_dir()
    try:
        spec = KernelSpecManager(kernel_dirs=[str(run_dir / "kernels")]).get_kernel_spec(
            execution.KERNEL_NAME)
        paths = spec.env["PYTHONPATH"].split(os.pathsep)
        assert paths == [str(clone), str(tmp_path / "other")]
        found = subprocess.run(
            [spec.argv[0], "-c", "import importlib.util; print(importlib.util.find_spec("
             "'rc').origin)"], env={**os.environ, **spec.env}, cwd=clone / "notebooks",
            capture_output=True, text=True, timeout=60)
        assert Path(found.stdout.strip()) == clone / "rc" / "__init__.py", found.stderr
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


# ------------------------------------------------------------------------------ the library
@pytest.mark.parametrize("p, match", [
    (1.5, "p must be <= 1; got 1.5"),
    (-0.1, "p must be >= 0; got -0.1"),
    (float("nan"), "p must be a finite number"),
    ("0.1", "p must be a number"),
    (True, "p must be a number"),
])
def test_salt_and_pepper_takes_a_probability(p, match):
    with pytest.raises(ValueError, match=match):
        rc.salt_and_pepper(torch.zeros(8), p)


def test_salt_and_pepper_takes_a_tensor():
    with pytest.raises(ValueError, match=r"x must be a torch.Tensor; got numpy.ndarray "
                                         r"\(convert it with torch.from_numpy\)"):
        rc.salt_and_pepper(np.zeros(8, np.float32), 0.1)
    g = torch.Generator().manual_seed(0)
    assert rc.salt_and_pepper(torch.zeros(8), 1.0, g).sum() > 0  # 1 is a probability too


def _committed_entry() -> Path:
    found = sorted((REPO / "results" / "full" / "dae").glob("bars-train_single-*-s0.*.npz"))
    if not found:
        pytest.skip("no committed full-scale DAE of Bars")
    return found[0]


def test_load_dae_points_a_cache_entry_to_rc_pretrained(tmp_path, monkeypatch):
    monkeypatch.delenv("RC_RESULTS", raising=False)
    entry = _committed_entry()
    with pytest.raises(ValueError) as err:
        rc.load_dae(entry, device="cpu")
    message = str(err.value)
    assert "is the entry 'dae/bars-train_single-" in message and "results store" in message
    assert "not a file written by rc.save_dae" in message
    assert "rc.pretrained('bars', 1)" in message and "\n" not in message
    copy = tmp_path / "results" / "ci" / "dae" / entry.name  # another folder and profile
    copy.parent.mkdir(parents=True)
    shutil.copy(entry, copy)
    call = f"rc.pretrained('bars', 1, profile='ci', root='{tmp_path / 'results'}')"
    with pytest.raises(ValueError, match=re.escape(call)):
        rc.load_dae(copy, device="cpu")


def test_load_dae_refuses_a_file_it_did_not_write(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    (tmp_path / "text.npz").write_text("not an archive")
    for name in ("other.npz", "text.npz"):
        with pytest.raises(ValueError, match=f"{name} is not a DAE file written by "
                                             "rc.save_dae"):
            rc.load_dae(tmp_path / name, device="cpu")


def test_save_dae_names_the_target_it_cannot_write(tmp_path, monkeypatch):
    dae = rc.DAE(4, 2, seed=0)
    with pytest.raises(IsADirectoryError, match=re.escape(f"cannot save the DAE to "
                                                           f"{tmp_path}: it is a folder")):
        rc.save_dae(tmp_path, dae)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="file is a file, not a folder"):
        rc.save_dae(tmp_path / "file" / "dae.npz", dae)

    def denied(*args, **kwargs):  # as in a folder without write permission
        raise PermissionError(13, "Permission denied", str(tmp_path / ".dae.npz.x1y2z3.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(PermissionError) as err:
        rc.save_dae(tmp_path / "dae.npz", dae)
    assert str(err.value).endswith(f"cannot save the DAE to {tmp_path / 'dae.npz'}: "
                                   "Permission denied")
    assert ".tmp" not in str(err.value)


@pytest.mark.parametrize("seed, match", [
    (-1, "seed must be >= 0; got -1"),
    (2**64, "seed must be < 2\\*\\*64"),
    (True, "seed must be an integer"),
    (1.0, "seed must be an integer"),
])
def test_dae_refuses_bad_seeds(seed, match):
    with pytest.raises(ValueError, match=match):
        rc.DAE(4, 2, seed=seed)


def test_dae_takes_every_64_bit_seed():
    for seed in (0, np.int64(3), 2**64 - 1):
        rc.DAE(4, 2, seed=seed)


def test_dae_refuses_an_absurd_size_before_allocating():
    with pytest.raises(ValueError) as err:
        rc.DAE(10**6, 10**6)
    message = str(err.value)
    assert "n_pixels=1000000 and n_hidden=1000000" in message
    assert "2,000,002,000,000 parameters (8.0 TB as float32)" in message
    assert f"at most {MAX_PARAMETERS:,} (4.0 GB)" in message
    rc.DAE(2304, 1000)  # Multi-MNIST's, the paper's largest


@pytest.mark.parametrize("table", [1.0, 2.0, True, "1", None])
def test_pretrained_takes_the_table_as_an_int(tmp_path, table):
    with pytest.raises(ValueError, match=r"table must be 1 .* as an int; got"):
        rc.pretrained("shapes", table, root=tmp_path)


def test_pretrained_takes_a_numpy_integer_table(tmp_path):
    with pytest.raises(rc.MissingResultError, match="Table 1"):  # looked up, not refused
        rc.pretrained("shapes", np.int64(1), root=tmp_path)
