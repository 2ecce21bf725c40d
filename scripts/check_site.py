#!/usr/bin/env python
"""Open every page of the built book in headless Chromium, offline, check it, screenshot it.

The site (``_build/html``) is served on 127.0.0.1 and Chromium resolves no other host, as
for a reader without network. Every page listed in ``_toc.yml`` is checked for:

* raw TeX: math left as ``\\(...\\)`` or ``$$...$$`` in the visible text (MathJax must be
  served by the site itself);
* images that did not load;
* errors: browser console errors, failed requests, notebook error outputs;
* captions: no automatic figure numbers ("Fig. 7"), and every figure caption starts with
  the paper's number ("Figure 4a") or says it is the book's own ("Book figure 1").

A full-page screenshot of every page goes to ``--screenshots``. Exits 1 on any problem.

Usage: python scripts/check_site.py _build/html --screenshots _build/screenshots
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
CAPTION = re.compile(r"^(Figure (1c|2b|3|4a|4b|5|6a|6b|7|8|9|10|11)\b|Book figure \d+\b)")

# Visible text without code, math, scripts and styles; then the checks of one page.
PAGE_CHECKS = r"""
const body = document.body.cloneNode(true);
body.querySelectorAll('pre, code, mjx-container, script, style, .MathJax, textarea')
    .forEach(e => e.remove());
const text = body.innerText;
const tex = [];
for (const m of text.matchAll(/\\\(|\\\)|\\\[|\\\]|\$\$|\\(frac|gamma|mu|sum|mathbf|boldsymbol)\b/g))
  tex.push(text.slice(Math.max(0, m.index - 30), m.index + 30));
const images = Array.from(document.images);
const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
const captions = Array.from(document.querySelectorAll('figcaption'))
    .map(c => c.innerText.trim());
const numbers = Array.from(document.querySelectorAll('.caption-number'))
    .map(c => c.innerText.trim());
const errors = Array.from(document.querySelectorAll('.output.error, .output.traceback'))
    .map(e => e.innerText.slice(0, 200));
return {tex: tex, images: images.length, broken: broken, captions: captions,
        numbers: numbers, errors: errors, mathjax: !!(window.MathJax && MathJax.version),
        height: document.documentElement.scrollHeight};
"""


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
            for _ in range(100):  # until MathJax has typeset the page (or 10 s)
                if driver.execute_script(
                        "return !window.MathJax || !MathJax.startup || "
                        "MathJax.startup.document.state() >= 200"):
                    break
                time.sleep(0.1)
            time.sleep(0.3)
            found = driver.execute_script(PAGE_CHECKS)
            console = [e["message"] for e in driver.get_log("browser")
                       if e["level"] == "SEVERE"]
            report[page] = {**found, "console": console}
            for what, items in (("raw TeX", found["tex"]), ("images not loaded",
                                found["broken"]), ("browser errors", console),
                                ("error outputs", found["errors"]),
                                ("automatic figure numbers", found["numbers"])):
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
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--chromedriver", default=shutil.which("chromedriver")
                    or "/usr/bin/chromedriver")
    args = ap.parse_args(argv)
    if args.screenshots is not None:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    problems, report = check(args.site.resolve(), args.screenshots, args.chromium,
                             args.chromedriver)
    if args.report:
        args.report.write_text(json.dumps(report, indent=1))
    figures = sorted({m.group(0) for r in report.values() for c in r["captions"]
                      if (m := CAPTION.match(c))})
    print(f"check_site: {len(report)} pages, {sum(r['images'] for r in report.values())} "
          f"images, captions {figures}")
    for p in problems:
        print(f"check_site: PROBLEM {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
