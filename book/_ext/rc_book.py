"""Small Sphinx additions for the book (loaded from _config.yml).

* Each inline or external script is included once per page: Jupyter Book 1.x adds the
  configuration script of sphinx-thebe twice to notebook pages, which browsers report as
  an error ("Identifier 'THEBE_JS_URL' has already been declared").
* ``numfig`` stays as _config.yml sets it: sphinx-jupyterbook-latex switches it on for
  every builder, which would add automatic numbers ("Fig. 7") to figures that carry the
  paper's numbers in their captions. It is set back while the configuration is read
  (``config-inited``, after that extension), before Sphinx compares the configuration
  with the one of the last build: set back later, every build would find ``numfig``
  changed and rebuild every page.
"""
from __future__ import annotations


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    seen, unique = set(), []
    for script in context.get("script_files", []):
        name = getattr(script, "filename", script) or ""  # inline: None or ""
        key = (str(name), repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _remember_numfig(app, config) -> None:
    app._rc_book_numfig = config.numfig


def _restore_numfig(app, config) -> None:
    config.numfig = app._rc_book_numfig


def setup(app):
    app.connect("config-inited", _remember_numfig, priority=100)  # before the others
    app.connect("config-inited", _restore_numfig, priority=900)   # after them
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
