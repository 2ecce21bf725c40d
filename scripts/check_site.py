#!/usr/bin/env python
"""Open every page of the built book in headless Chromium, offline, check it, screenshot it.

The site (``_build/html``) is served on 127.0.0.1 and Chromium resolves no other host, as
for a reader without network. Every page listed in ``_toc.yml`` is checked for:

* raw TeX: math left as ``\\(...\\)`` or ``$$...$$`` in the visible text (MathJax must be
  served by the site itself);
* images that did not load;
* errors: browser console errors, failed requests, notebook error outputs;
* captions: no automatic figure numbers ("Fig. 7"), and every figure caption starts with
  the paper's number ("Figure 4a") or says it is the book's own ("Book figure 1",
  "Animation 1");
* animations: every figure whose caption starts with "Animation" shows a GIF of the site
  with more than one frame and at most 2 MB (read with Pillow);
* overflow: no element sticks out of the content column unless it lies in a box that
  scrolls within the column (code, display equations), and no table is wider than the
  column (a table that only scrolls sideways looks cut off; book/_static/rc.css makes
  them fit);
* downloads: every chapter (a page made from an executed notebook, ``book/executed/``)
  offers that notebook, with its outputs, in its download menu
  (``_sources/book/executed/<name>.ipynb``, :func:`download_problems`);
* plain text: every output a reader sees is a figure, a table or text set as Markdown,
  never a bare Python value or printed text, unless its cell is tagged
  ``allow-text-output`` (:data:`ALLOW_TEXT`). Checked on the executed notebooks
  (:func:`plain_text_outputs`: a stream, or a result or display with nothing but
  ``text/plain``) and on the pages (an output block rendered as plain text).

A full-page screenshot of every page goes to ``--screenshots``. Exits 1 on any problem.

Usage: python scripts/check_site.py _build/html --screenshots _build/screenshots
       python scripts/check_site.py --outputs-only --notebooks book/executed   # no browser
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import shutil
import sys
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CHROME_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                # no network but the local server: every other host fails to resolve
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
#: A caption of a figure starts like this.
CAPTION = re.compile(r"^(Figure (1c|2b|3|4a|4b|5|6a|6b|7|8|9|10|11)\b|Book figure \d+\b"
                     r"|Animation \d+\b)")
#: Largest animation (bytes).
MAX_GIF_BYTES = 2_000_000
#: The cell tag that lets a code cell show plain text (printed text, a bare value).
ALLOW_TEXT = "allow-text-output"
#: Tags that keep a cell's outputs off the page.
HIDDEN = ("remove-cell", "remove-output")

# Visible text without code, math, scripts and styles; then the checks of one page.
PAGE_CHECKS = r"""
const body = document.body.cloneNode(true);
body.querySelectorAll('pre, code, mjx-container, script, style, .MathJax, textarea')
    .forEach(e => e.remove());
const text = body.innerText;
const tex = [];
const TEX = /\\\(|\\\)|\\\[|\\\]|\$\$|\\(frac|gamma|mu|sum|mathbf|boldsymbol)\b/g;
for (const m of text.matchAll(TEX))
  tex.push(text.slice(Math.max(0, m.index - 30), m.index + 30));
const images = Array.from(document.images);
const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
const captions = Array.from(document.querySelectorAll('figcaption'))
    .map(c => c.innerText.trim());
const numbers = Array.from(document.querySelectorAll('.caption-number'))
    .map(c => c.innerText.trim());
const errors = Array.from(document.querySelectorAll('.output.error, .output.traceback'))
    .map(e => e.innerText.slice(0, 200));
const figures = Array.from(document.querySelectorAll('figure')).map(f => ({
    caption: (f.querySelector('figcaption') || {innerText: ''}).innerText.trim(),
    images: Array.from(f.querySelectorAll('img')).map(i => i.getAttribute('src'))}));
// elements sticking out of the content column (outermost only), unless inside a box
// that scrolls and itself fits the column
const column = document.querySelector('article.bd-article') || document.querySelector('main');
const overflow = [];
if (column) {
  const edge = column.getBoundingClientRect();
  const fits = r => r.left >= edge.left - 1 && r.right <= edge.right + 1;
  const scrolls = e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  const reported = [];
  for (const el of column.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || fits(r)) continue;
    if (getComputedStyle(el).visibility === 'hidden') continue;
    let inside = false;
    for (let a = el.parentElement; a && a !== column; a = a.parentElement)
      if (scrolls(a) && fits(a.getBoundingClientRect())) { inside = true; break; }
    if (inside || reported.some(o => o.contains(el))) continue;
    reported.push(el);
    const name = el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined
        ? '.' + String(el.className).trim().split(/\s+/).join('.') : '');
    const beyond = Math.round(Math.max(r.right - edge.right, edge.left - r.left));
    overflow.push(`${name} ${beyond} px beyond the column: ` +
                  (el.innerText || '').replace(/\s+/g, ' ').trim().slice(0, 60));
  }
  // a table must fit the column: one that only scrolls sideways in its box looks cut off
  for (const t of column.querySelectorAll('table')) {
    const w = Math.max(t.scrollWidth, t.getBoundingClientRect().width);
    if (w > edge.width + 1 && !reported.some(o => o.contains(t)))
      overflow.push(`a table ${Math.round(w - edge.width)} px wider than the column ` +
                    `(it scrolls sideways): ` + (t.rows.length ? t.rows[0].innerText : '')
                    .replace(/\s+/g, ' ').trim().slice(0, 60));
  }
}
// output blocks shown as plain text (printed text, a bare value), unless allowed
const plain = Array.from(document.querySelectorAll(
    '.cell_output .output.text_plain, .cell_output .output.stream, ' +
    '.cell_output .output.stderr'))
    .filter(e => !(e.closest('.cell') || document.body).classList.contains('tag_ALLOW'))
    .map(e => e.innerText.replace(/\s+/g, ' ').trim().slice(0, 80));
return {tex: tex, images: images.length, broken: broken, captions: captions,
        numbers: numbers, errors: errors, mathjax: !!(window.MathJax && MathJax.version),
        figures: figures, overflow: overflow, plain: plain,
        height: document.documentElement.scrollHeight};
"""


PAGE_CHECKS = PAGE_CHECKS.replace("tag_ALLOW", f"tag_{ALLOW_TEXT}")


def plain_text_outputs(notebook, name: str = "") -> list[str]:
    """The outputs of an executed notebook that a reader would see as plain text, one
    line each: a stream (printed text on stdout or stderr) or a result or display whose
    only format is ``text/plain`` (a bare Python value). Not counted: the outputs of a
    cell tagged ``allow-text-output`` (:data:`ALLOW_TEXT`) or kept off the page
    (``remove-cell``, ``remove-output``, ``remove-stdout``/``remove-stderr`` for the
    streams), glued values (``myst_nb.glue``, shown only where the prose places them)
    and errors (reported as such).

    ``notebook``: a path to an ``.ipynb`` file or the notebook as a dict.
    """
    if not isinstance(notebook, dict):
        name = name or Path(notebook).name
        notebook = json.loads(Path(notebook).read_text())
    found = []
    for index, cell in enumerate(notebook.get("cells", [])):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.get("cell_type") != "code" or ALLOW_TEXT in tags or tags & set(HIDDEN):
            continue
        shown = {}  # what -> text; the streams of a cell are one block on the page
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            text = output.get("text", "")
            if kind == "stream":
                stream = output.get("name", "stdout")
                if f"remove-{stream}" in tags:
                    continue
                what = f"printed text ({stream})"
            elif kind in ("execute_result", "display_data"):
                data = output.get("data", {})
                if "scrapbook" in output.get("metadata", {}) or set(data) - {"text/plain"}:
                    continue
                what, text = "a bare value (text/plain only)", data.get("text/plain", "")
            else:
                continue
            text = "".join(text) if isinstance(text, list) else str(text)
            key = what if kind == "stream" else (what, len(shown))
            shown[key] = shown.get(key, "") + text
        source = "".join(cell.get("source", ""))
        last = next((line for line in reversed(source.splitlines()) if line.strip()), "")
        for key, text in shown.items():
            what = key if isinstance(key, str) else key[0]
            found.append(f"{name}: cell {index} (ending `{last.strip()[:60]}`) shows "
                         f"{what}: {' '.join(text.split())[:80]!r}")
    return found


def check_notebooks(folder: Path) -> list[str]:
    """:func:`plain_text_outputs` of every executed notebook in ``folder``, as problems
    that say how to fix them."""
    problems = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        problems += [f"{p}; end the line with ';', show a table, figure or sentence "
                     f"instead, or tag the cell {ALLOW_TEXT}"
                     for p in plain_text_outputs(path)]
    return problems


def pages(site: Path) -> list[str]:
    """The HTML pages of the book's table of contents, relative to the site."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for e in entries:
            if "file" in e:
                files.append(e["file"])
            for key in ("parts", "chapters", "sections"):
                walk(e.get(key, []))
    walk(toc.get("parts", []) + toc.get("chapters", []))
    return [f"{f}.html" for f in files if (site / f"{f}.html").exists()]


def download_problems(site: Path) -> list[str]:
    """Chapters whose page does not offer its executed notebook for download: the
    download menu (sphinx-book-theme's ``use_download_button``) links to
    ``_sources/book/executed/<name>.ipynb``, which must be in the site and hold the
    outputs of its code cells."""
    problems = []
    for page in pages(site):
        if not page.startswith("book/executed/"):
            continue
        source = f"_sources/{page.removesuffix('.html')}.ipynb"
        if f'href="../../{source}"' not in (site / page).read_text(errors="replace"):
            problems.append(f"{page}: no download link to {source}")
            continue
        try:
            cells = json.loads((site / source).read_text())["cells"]
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{page}: {source} is not a notebook ({exc})")
            continue
        if not any(c.get("outputs") for c in cells if c.get("cell_type") == "code"):
            problems.append(f"{page}: {source} holds no outputs (not the executed notebook)")
    return problems


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def browser(chromium: str, chromedriver: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for flag in CHROME_FLAGS + ["--window-size=1280,1000"]:
        options.add_argument(flag)
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(chromedriver), options=options)


def gif_problem(path: Path) -> str | None:
    """Why the file at ``path`` is not a playable animation of the site, or None."""
    from PIL import Image, UnidentifiedImageError

    if path.suffix.lower() != ".gif" or not path.is_file():
        return f"{path.name}: not a GIF file of the site"
    size = path.stat().st_size
    if size > MAX_GIF_BYTES:
        return f"{path.name}: {size:,} bytes, more than {MAX_GIF_BYTES:,}"
    try:
        with Image.open(path) as gif:
            frames = getattr(gif, "n_frames", 1)
    except (OSError, UnidentifiedImageError) as exc:
        return f"{path.name}: unreadable ({exc})"
    return None if frames > 1 else f"{path.name}: a single frame"


def animations(site: Path, page: str, figures: list[dict]) -> list[dict]:
    """The animations of a page (figures captioned "Animation ..."): their GIF files,
    frames and sizes, and a problem for each that does not play."""
    from PIL import Image

    found = []
    for figure in figures:
        if not figure["caption"].startswith("Animation"):
            continue
        name = figure["caption"].split(" (")[0].split(".")[0][:40]
        paths = [((site / page).parent / src.split("?")[0]).resolve()
                 for src in figure["images"] if src]
        gifs = [p for p in paths if gif_problem(p) is None]
        entry = {"caption": name, "files": [str(p.relative_to(site)) for p in paths
                                             if p.is_relative_to(site)]}
        if gifs:
            with Image.open(gifs[0]) as gif:
                entry.update(frames=gif.n_frames, bytes=gifs[0].stat().st_size)
            entry["problem"] = None
        else:
            why = [gif_problem(p) for p in paths] or ["no image in the figure"]
            entry["problem"] = f"{name}: {'; '.join(why)}"
        found.append(entry)
    return found


#: Resolves once MathJax has typeset the page (at once where the page has no MathJax).
#: (``MathJax.startup.document.state()`` returns the document, not a number: waiting for
#: it to pass a state never ended before the 10 s cap, on every page.)
_MATHJAX_DONE = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) { done(true); }
else { MathJax.startup.promise.then(() => done(true), () => done(false)); }
"""


def _wait_for_mathjax(driver, seconds: float = 10.0) -> None:
    """Wait until MathJax has typeset the page, at most ``seconds`` (a page still raw
    after that is reported by the raw-TeX check)."""
    from selenium.common.exceptions import JavascriptException, TimeoutException

    driver.set_script_timeout(seconds)
    try:
        driver.execute_async_script(_MATHJAX_DONE)
    except (TimeoutException, JavascriptException):
        pass


def check(site: Path, screenshots: Path | None, chromium: str, chromedriver: str
          ) -> tuple[list[str], dict]:
    """Check every page; returns (problems, per-page report)."""
    server, port = serve(site)
    driver = browser(chromium, chromedriver)
    problems, report = [], {}
    try:
        for page in pages(site):
            driver.set_window_size(1280, 1000)
            driver.get(f"http://127.0.0.1:{port}/{page}")
            _wait_for_mathjax(driver)
            time.sleep(0.3)
            found = driver.execute_script(PAGE_CHECKS)
            console = [e["message"] for e in driver.get_log("browser")
                       if e["level"] == "SEVERE"]
            found["animations"] = animations(site, page, found["figures"])
            report[page] = {**found, "console": console}
            for what, items in (("raw TeX", found["tex"]), ("images not loaded",
                                found["broken"]), ("browser errors", console),
                                ("error outputs", found["errors"]),
                                ("automatic figure numbers", found["numbers"]),
                                ("elements wider than the content column",
                                 found["overflow"]),
                                (f"plain-text output blocks (tag the cell {ALLOW_TEXT} "
                                 f"if meant)", found["plain"]),
                                ("animations that do not play",
                                 [a["problem"] for a in found["animations"]
                                  if a["problem"]])):
                if items:
                    problems.append(f"{page}: {what}: {items[:3]}")
            for caption in found["captions"]:
                if not CAPTION.match(caption):
                    problems.append(f"{page}: a caption without the paper's number: "
                                    f"{caption[:80]!r}")
            if screenshots is not None:
                driver.set_window_size(1280, min(found["height"], 16000))
                time.sleep(0.2)
                name = page.replace("/", "_").replace(".html", ".png")
                driver.save_screenshot(str(screenshots / name))
    finally:
        driver.quit()
        server.shutdown()
    return problems, report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("site", type=Path, nargs="?", default=REPO / "_build" / "html")
    ap.add_argument("--screenshots", type=Path, default=None)
    ap.add_argument("--report", type=Path, default=None, help="write the report as JSON")
    ap.add_argument("--notebooks", type=Path, default=None,
                    help="the executed notebooks to check for plain-text outputs "
                         "(default: SITE/../../book/executed, where the book was built)")
    ap.add_argument("--outputs-only", action="store_true",
                    help="check only the executed notebooks' outputs (no browser)")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--chromedriver", default=shutil.which("chromedriver")
                    or "/usr/bin/chromedriver")
    args = ap.parse_args(argv)
    notebooks = args.notebooks or args.site.resolve().parent.parent / "book" / "executed"
    if not notebooks.is_dir():
        print(f"check_site: PROBLEM no executed notebooks in {notebooks} (--notebooks)")
        return 1
    text_problems = check_notebooks(notebooks)
    print(f"check_site: {len(list(notebooks.glob('*.ipynb')))} executed notebooks in "
          f"{notebooks}, {len(text_problems)} plain-text outputs")
    if args.outputs_only:
        for p in text_problems:
            print(f"check_site: PROBLEM {p}")
        return 1 if text_problems else 0
    if args.screenshots is not None:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    problems, report = check(args.site.resolve(), args.screenshots, args.chromium,
                             args.chromedriver)
    problems = text_problems + download_problems(args.site.resolve()) + problems
    if args.report:
        args.report.write_text(json.dumps(report, indent=1))
    figures = sorted({m.group(0) for r in report.values() for c in r["captions"]
                      if (m := CAPTION.match(c))})
    movies = [a for r in report.values() for a in r["animations"]]
    print(f"check_site: {len(report)} pages, {sum(r['images'] for r in report.values())} "
          f"images, captions {figures}")
    print(f"check_site: {len(movies)} animations: "
          + ", ".join(f"{a['caption']} ({a.get('frames', 0)} frames, "
                      f"{a.get('bytes', 0) / 1e3:.0f} kB)" for a in movies))
    for p in problems:
        print(f"check_site: PROBLEM {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
