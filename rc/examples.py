"""The command line on a few images drawn for the purpose: what ``python -m rc bind`` does.

The book's Appendix D shows the command at work; anyone can repeat it::

    from rc import examples
    demo = examples.bind_demo()      # draws the images, runs the command on each
    print(demo.transcript())         # what each command printed, and its exit status
    demo.show()                      # each drawing beside the picture the command wrote

:func:`draw_images` draws 48x48 images like Multi-MNIST's with objects that appear in
none of the data sets (letters, a ring and a cross, dark ink on white) and one image of
twice that size; :func:`run_command` runs ``python -m rc bind ...`` (the function behind
the command, :func:`rc.cli.main`, in this process) in their folder and keeps what it
printed; :func:`bind_demo` does both for a list of commands (:data:`COMMANDS`) and
returns a :class:`BindDemo`.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from .report import Markdown

__all__ = ["COMMANDS", "BindDemo", "CommandRun", "bind_demo", "draw_images", "run_command"]

#: Side of the drawn images, in pixels: Multi-MNIST's input size.
SIZE = 48

#: The commands of the demonstration: (arguments after ``bind``, the picture it writes,
#: or None where it stops). ``--model`` and ``--profile`` are added by :func:`bind_demo`.
COMMANDS = (
    (("letters.png", "--k", "2"), "letters-groups.png"),
    (("ring_and_cross.png", "--k", "2"), "ring_and_cross-groups.png"),
    (("dark_ink.png", "--k", "2", "--ink", "dark"), "dark_ink-groups.png"),
    (("letters_96.png", "--k", "2"), None),  # twice the DAE's size: stops with an error
    (("letters_96.png", "--k", "2", "--resize", "--out", "resized-groups.png"),
     "resized-groups.png"),
)


def draw_images(folder: Path | str) -> dict[str, Path]:
    """Draw the demonstration's images into ``folder`` (PNG, grey levels); returns their
    paths by file name.

    ``letters.png``: a white T and K on black; ``ring_and_cross.png``: a ring and a cross;
    ``dark_ink.png``: a square and a zigzag drawn in black on white (for ``--ink dark``);
    ``letters_96.png``: ``letters.png`` at twice the size (for ``--resize``). All but the
    last are :data:`SIZE` pixels square.
    """
    from matplotlib import font_manager
    from PIL import Image, ImageDraw, ImageFont

    folder = Path(folder)
    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans:bold"), 22)

    def canvas(background: int = 0):
        image = Image.new("L", (SIZE, SIZE), background)
        return image, ImageDraw.Draw(image)

    letters, pen = canvas()
    pen.text((4, 2), "T", fill=255, font=font)
    pen.text((24, 20), "K", fill=255, font=font)
    strokes, pen = canvas()
    pen.ellipse((3, 3, 25, 25), outline=255, width=2)
    pen.line((24, 26, 44, 44), fill=255, width=2)
    pen.line((24, 44, 44, 26), fill=255, width=2)
    ink, pen = canvas(255)
    pen.rectangle((5, 5, 21, 21), outline=0, width=2)
    pen.line([(24, 42), (30, 28), (36, 42), (42, 28)], fill=0, width=2)
    images = {"letters.png": letters, "ring_and_cross.png": strokes, "dark_ink.png": ink,
              "letters_96.png": letters.resize((2 * SIZE, 2 * SIZE))}
    paths = {}
    for name, image in images.items():
        image.save(folder / name)
        paths[name] = folder / name
    return paths


@dataclass(frozen=True)
class CommandRun:
    """One run of ``python -m rc`` and what it printed (stdout and stderr, in order)."""

    arguments: tuple[str, ...]
    output: str
    status: int

    @property
    def command(self) -> str:
        return "python -m rc " + " ".join(self.arguments)

    def transcript(self, width: int = 78) -> str:
        """The command line, its output wrapped to ``width`` columns and its exit status."""
        lines = [f"$ {self.command}"]
        lines += [textwrap.fill(line, width, subsequent_indent="    ")
                  for line in self.output.splitlines()]
        return "\n".join(lines + [f"(exit status {self.status})"])


@contextlib.contextmanager
def _working_directory(folder: Path | str):
    """``os.chdir(folder)`` for the duration (``contextlib.chdir`` of Python 3.11)."""
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def _environment(name: str, value: str | None):
    """``os.environ[name] = value`` for the duration (unchanged where ``value`` is None)."""
    old = os.environ.get(name)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        if value is not None:
            if old is None:
                del os.environ[name]
            else:
                os.environ[name] = old


def run_command(arguments, folder: Path | str, results: Path | str | None = None
                ) -> CommandRun:
    """``python -m rc ARGUMENTS`` run in ``folder`` by :func:`rc.cli.main` in this process
    (no second Python start-up), with ``RC_RESULTS`` set to ``results`` for the call where
    given; returns what it printed and its exit status. The working directory and the
    environment are restored afterwards."""
    from .cli import main

    output = io.StringIO()
    with (_working_directory(folder), _environment("RC_RESULTS", results and str(results)),
          contextlib.redirect_stdout(output), contextlib.redirect_stderr(output)):
        status = main(list(arguments))
    return CommandRun(tuple(arguments), output.getvalue(), int(status))


@dataclass
class BindDemo:
    """The drawn images, the commands run on them and what those wrote (in ``folder``,
    removed when the demo is garbage-collected or :meth:`close` is called)."""

    folder: Path
    runs: list[CommandRun]
    pairs: list[tuple[str, str]]          # (drawn image, picture the command wrote)
    model: str                            # the DAE used, in words
    profile: str                          # whose stored DAE it is
    _tmp: object = field(default=None, repr=False)

    def transcript(self) -> Markdown:
        """Every command with what it printed, as a console block for a notebook."""
        body = "\n\n".join(run.transcript() for run in self.runs)
        return Markdown(f"```console\n{body}\n```")

    def written(self, name: str = "letters-groups.json") -> dict:
        """A JSON file that a command wrote, read back."""
        return json.loads((self.folder / name).read_text())

    def json_excerpt(self, name: str = "letters-groups.json", rows=slice(14, 20),
                     columns=slice(4, 16)) -> Markdown:
        """Part of a written JSON file for a notebook: its settings, the size of each
        group and a few rows of the per-pixel groups (-1: background), the rest left out
        (marked by comments)."""
        doc = self.written(name)
        settings = json.dumps(doc["settings"], indent=4).replace("\n}", "\n  }")
        grid = "\n".join(f"    {json.dumps(row[columns])}," for row in doc["labels"][rows])
        shape = "x".join(str(n) for n in doc["shape"])
        text = (f'{{\n  "settings": {settings},\n'
                f'  "group_sizes": {json.dumps(doc["group_sizes"])},\n'
                f'  "labels": [\n    // of the {shape} pixels: rows {rows.start}-'
                f'{rows.stop - 1}, columns {columns.start}-{columns.stop - 1}\n{grid}\n'
                f'  ],\n  // and more: "gamma", "model", "log_likelihood", ...\n}}')
        return Markdown(f"`{name}` (excerpt):\n\n```javascript\n{text}\n```")

    def draw(self):
        """Each drawn image (top) above the picture the command wrote for it (bottom)."""
        import matplotlib.pyplot as plt
        from PIL import Image

        from .plots import style

        with style():
            fig, axes = plt.subplots(2, len(self.pairs), figsize=(7.2, 3.9),
                                     layout="constrained", squeeze=False)
            for column, (drawn, written) in zip(axes.T, self.pairs):
                with Image.open(self.folder / drawn) as image:
                    column[0].imshow(image.copy(), cmap="gray", vmin=0, vmax=255)
                column[0].set_title(drawn)
                with Image.open(self.folder / written) as image:
                    column[1].imshow(image.copy())
                column[1].set_title(written)
            for ax in axes.flat:
                ax.set_axis_off()
        return fig

    def show(self) -> None:
        """Display :meth:`draw` in a notebook (and close it)."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        figure = self.draw()
        display(figure)
        plt.close(figure)

    def close(self) -> None:
        """Remove the folder of images and outputs."""
        if self._tmp is not None:
            self._tmp.cleanup()


def bind_demo(results=None, dataset: str = "multi_mnist", commands=COMMANDS) -> BindDemo:
    """Draw the images (:func:`draw_images`) into a temporary folder and run each of
    ``commands`` on them with the stored Table 1 DAE of ``dataset``.

    The DAE is the full-scale one (profile ``full``) where it is stored, else the one of
    ``results``' own profile (trained first if missing and ``results`` may compute;
    :func:`rc.pretrained_daes.full_scale_or_own`); without ``results`` it must be stored at
    full scale. Each command gets ``--model dataset --profile <that profile>`` and runs
    with ``RC_RESULTS`` set to the folder holding it.
    """
    from .pretrained_daes import full_scale_or_own, pretrained

    if results is not None:
        model, results_folder = full_scale_or_own(results, dataset), results.cache.root.parent
    else:
        model, results_folder = pretrained(dataset), None
    tmp = tempfile.TemporaryDirectory(prefix="rc-bind-")
    folder = Path(tmp.name)
    draw_images(folder)
    runs = [run_command(("bind", *arguments, "--model", dataset, "--profile", model.profile),
                        folder, results_folder) for arguments, _ in commands]
    pairs = [(arguments[0], written) for arguments, written in commands
             if written is not None and (folder / written).exists()]
    return BindDemo(folder, runs, pairs, model.describe(), model.profile, tmp)
