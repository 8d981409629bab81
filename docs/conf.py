"""Sphinx configuration of pyrovae's documentation.

Build it, warnings as errors, with::

    sphinx-build -W --keep-going -b html docs docs/_build/html

(``pip install -e ".[docs]"`` first). The notebooks in ``tutorials/`` are executed during the
build and their outputs cached in ``docs/_build/.jupyter_cache``; the reference pages are
generated from the code by ``_ext/pyrovae_reference.py``.
"""

import importlib.util
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS.parent))  # the checkout's pyrovae, installed or not

os.environ.setdefault("OMP_NUM_THREADS", "1")  # autodoc imports torch; notebooks inherit it

from pyrovae._version import __version__  # noqa: E402

project = "pyrovae"
author = "the pyrovae authors"
copyright = "pyrovae authors; MIT licence"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "myst_nb",  # Markdown pages (myst-parser) and executed notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "pyrovae_reference",  # docs/_ext: configuration, components, CLI and API pages
]
# MathJax from the docs extra, copied into the built pages, so that the mathematics renders
# without a network (otherwise MathJax comes from its CDN)
if importlib.util.find_spec("sphinx-mathjax-offline") is not None:
    extensions.append("sphinx-mathjax-offline")

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "**.ipynb_checkpoints",
    "**/jupyter_execute",
    "check_pages.py",
    ".gitignore",
]
templates_path = []

# MyST: $...$ and $$...$$ math, \begin{align} blocks, ::: fences, heading anchors for links
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# notebooks: executed when they (or nothing) changed since the cached run; an error fails the
# build
nb_execution_mode = os.environ.get("PYROVAE_DOCS_EXECUTE", "cache")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_in_temp = True  # notebooks' runs/ go to a temporary folder, not into docs/
nb_merge_streams = True

# autodoc: the docstrings are reST with :param x: fields
autodoc_member_order = "bysource"
autodoc_default_options = {"show-inheritance": True}
autodoc_typehints = "description"
autodoc_preserve_defaults = True
add_module_names = False

html_theme = "furo"
html_title = f"pyrovae {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": True,
}
pygments_style = "sphinx"
# a block without a language (the docstrings' "::" blocks: tables, formulas, pseudo-code) is
# shown as it is, not coloured as Python
highlight_language = "none"



def _no_tutorials_yet(app, docname, source):
    """The tutorials' toctree globs the notebooks; with none in ``tutorials/`` the glob would
    match nothing (a warning, so an error under ``-W``): the page then says so instead."""
    if docname == "tutorials/index" and not any((DOCS / "tutorials").glob("*.ipynb")):
        text = source[0]
        start = text.find("```{toctree}")
        end = text.find("```", start + 3)
        if start >= 0 and end >= 0:
            source[0] = (text[:start] + "No tutorial notebook has been written yet."
                         + text[end + 3:])


def setup(app):
    app.connect("source-read", _no_tutorials_yet)
