"""What a reader sees: the check for plain-text outputs (scripts/check_site.py), the
command-line demonstration of Appendix D (rc.examples) and the robustness chapter's
full-scale view (rc.beyond.robustness). Fast: no browser, no training."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import load_script

import rc
from rc.beyond import robustness

REPO = Path(__file__).resolve().parent.parent


def _load_check_site():
    return load_script("check_site")


check_site = _load_check_site()


def _cell(source: str, outputs: list, tags=()) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {"tags": list(tags)},
            "outputs": outputs, "execution_count": 1}


def _result(data: dict, kind: str = "execute_result", metadata=None) -> dict:
    out = {"output_type": kind, "data": data, "metadata": metadata or {}}
    if kind == "execute_result":
        out["execution_count"] = 1
    return out


def _notebook(*cells) -> dict:
    return {"cells": [{"cell_type": "markdown", "source": "# A page", "metadata": {}},
                      *cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


STRAY = _cell("results = rc.Results('ci')\nresults",
              [_result({"text/plain": "Results(profile='ci', device='cpu')"})])
PRINTED = _cell("print('hello')", [{"output_type": "stream", "name": "stdout",
                                    "text": ["hello\n"]}])
READER_FACING = [
    _cell("table", [_result({"text/plain": "'| a |'", "text/markdown": "| a |"})]),
    _cell("fig", [_result({"text/plain": "<Figure>", "image/png": "iVBOR"}, "display_data")]),
    _cell("glue('x', 1, display=False)",
          [_result({"text/plain": "1"}, "display_data",
                   {"scrapbook": {"name": "x", "mime_prefix": ""}})]),
    _cell("print('meant')", PRINTED["outputs"], tags=[check_site.ALLOW_TEXT]),
    _cell("x", STRAY["outputs"], tags=["remove-output"]),
    _cell("x", STRAY["outputs"], tags=["remove-cell"]),
    _cell("warn()", [{"output_type": "stream", "name": "stderr", "text": "careful\n"}],
          tags=["remove-stderr"]),
    _cell("1/0", [{"output_type": "error", "ename": "ZeroDivisionError", "evalue": "",
                   "traceback": []}]),
    {"cell_type": "markdown", "source": "prose", "metadata": {}},
]


def test_a_bare_value_or_printed_text_is_reported_with_its_cell():
    found = check_site.plain_text_outputs(_notebook(STRAY, PRINTED), "page.ipynb")
    assert len(found) == 2
    assert found[0].startswith("page.ipynb: cell 1 (ending `results`) shows a bare value")
    assert "Results(profile='ci', device='cpu')" in found[0]
    assert "printed text (stdout)" in found[1] and "'hello'" in found[1]


def test_figures_tables_glue_allowed_and_removed_cells_are_not_reported():
    assert check_site.plain_text_outputs(_notebook(*READER_FACING)) == []
    # stderr shown on the page counts; only remove-stderr keeps it off
    shown = _cell("warn()", [{"output_type": "stream", "name": "stderr", "text": "x\n"}],
                  tags=["remove-stdout"])
    assert len(check_site.plain_text_outputs(_notebook(shown))) == 1


def test_the_check_fails_on_a_stray_output_and_passes_without(tmp_path, capsys):
    folder = tmp_path / "book" / "executed"
    folder.mkdir(parents=True)
    (folder / "01_clean.ipynb").write_text(json.dumps(_notebook(*READER_FACING)))
    assert check_site.main(["--outputs-only", "--notebooks", str(folder)]) == 0
    (folder / "02_stray.ipynb").write_text(json.dumps(_notebook(*READER_FACING, STRAY)))
    assert check_site.main(["--outputs-only", "--notebooks", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "1 plain-text outputs" in out
    problem = [line for line in out.splitlines() if "PROBLEM" in line]
    assert len(problem) == 1 and "02_stray.ipynb: cell" in problem[0]
    assert check_site.ALLOW_TEXT in problem[0]
    # the default folder is the one beside the site that was built from it
    site = tmp_path / "_build" / "html"
    site.mkdir(parents=True)
    assert check_site.main([str(site), "--outputs-only"]) == 1
    assert check_site.main([str(tmp_path / "nowhere"), "--outputs-only"]) == 1


def test_the_page_check_looks_for_plain_output_blocks_of_untagged_cells():
    assert "tag_allow-text-output" in check_site.PAGE_CHECKS
    assert ".output.text_plain" in check_site.PAGE_CHECKS


# ------------------------------------------------------------------------- rc.examples
def test_the_drawn_images(tmp_path):
    from PIL import Image

    from rc import examples

    paths = examples.draw_images(tmp_path)
    assert set(paths) == {"letters.png", "ring_and_cross.png", "dark_ink.png",
                          "letters_96.png"}
    for name, path in paths.items():
        with Image.open(path) as image:
            side = 2 * examples.SIZE if name == "letters_96.png" else examples.SIZE
            assert image.size == (side, side) and image.mode == "L"
            grey = np.asarray(image)
        assert 0 < (grey > 127).mean() < 1  # something drawn, not everything
    assert np.asarray(Image.open(paths["dark_ink.png"])).mean() > 127  # dark on white


def test_a_command_that_fails_reports_one_line_and_its_status(tmp_path, monkeypatch):
    from rc import examples

    monkeypatch.delenv("RC_RESULTS", raising=False)
    run = examples.run_command(("bind", "missing.png"), tmp_path, results=tmp_path)
    assert run.status == 1 and "error" in run.output and "missing.png" in run.output
    assert run.transcript().splitlines()[0] == "$ python -m rc bind missing.png"
    assert run.transcript().endswith("(exit status 1)")
    import os
    assert "RC_RESULTS" not in os.environ and Path.cwd() != tmp_path  # both restored


def test_the_bind_demonstration_with_the_stored_full_scale_dae():
    import matplotlib.pyplot as plt

    from rc import examples

    try:
        rc.pretrained("multi_mnist")
    except rc.MissingResultError:
        pytest.skip("the full-scale Multi-MNIST DAE is not stored")
    demo = examples.bind_demo()
    try:
        assert [r.status for r in demo.runs] == [0, 0, 0, 1, 0]  # the 96x96 image stops
        assert "the image is 96x96 pixels" in demo.runs[3].output
        assert len(demo.pairs) == 4 and demo.profile == "full"
        text = demo.transcript()
        assert text.startswith("```console\n$ python -m rc bind letters.png --k 2")
        assert text._repr_markdown_() == text
        written = demo.written()
        assert written["settings"]["k"] == 2 and len(written["group_sizes"]) == 2
        excerpt = demo.json_excerpt()
        assert '"group_sizes"' in excerpt and excerpt.count("[-1") >= 1
        fig = demo.draw()
        assert len(fig.axes) == 8
        plt.close(fig)
    finally:
        demo.close()
    assert not demo.folder.exists()


# ---------------------------------------------------------- robustness at full scale
def _spread(dataset, table, ami, seeds, restarts):
    return robustness.Spread(dataset, table, 0.9, ami, ami + 0.01, ami - 0.01,
                             (ami - 0.02, ami + 0.02), seeds, restarts, len(seeds),
                             len(restarts))


def _robustness(profile, corners_seeds):
    spreads = {1: {"bars": _spread("bars", 1, 0.94, [0.94, 0.95, 0.93], [0.94, 0.942])},
               2: {"corners": _spread("corners", 2, corners_seeds[0], corners_seeds,
                                      [corners_seeds[0]])}}
    return robustness.Robustness(profile, spreads, {1: {}, 2: {}}, 1000)


def test_the_full_scale_spreads_lead_and_the_own_profile_stands_beside(monkeypatch):
    from rc.paper import full_scale

    monkeypatch.setattr(full_scale, "caption", lambda results=None: "stored somewhere")
    full = _robustness("full", [0.72, 0.69, 0.71])
    own = _robustness("ci", [0.5])
    text = robustness.table(full, 2, beside=own)
    header = text.splitlines()[0]
    assert "ours (full): AMI" in header and header.endswith("ours (ci): AMI |")
    assert "0.707 ± 0.012 (3)" in text and "| 0.500 |" in text
    assert "ours (ci)" not in robustness.table(full, 2, beside=full)
    numbers = robustness.chapter_glue_values(own, rc.get_profile("ci"), full)
    assert numbers["profile_name"] == "ci" and numbers["spread_profile"] == "full"
    assert numbers["spread_origin"] == "stored somewhere"
    assert (numbers["corners2_lo"], numbers["corners2_hi"]) == (0.69, 0.72)
    assert numbers["max_seed_std"] == pytest.approx(np.std([0.94, 0.95, 0.93]))
    assert "ci" in numbers["beside_note"]
    alone = robustness.chapter_glue_values(own, rc.get_profile("ci"), None)
    assert alone["spread_profile"] == "ci" and alone["beside_note"] == ""
    assert "make full" in alone["spread_origin"]
    import matplotlib.pyplot as plt

    fig = robustness.draw_spread(full, beside=own)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[-1] == "table DAE, profile ci"
    plt.close(fig)
