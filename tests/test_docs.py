"""The documentation builds with no warning, and its pages link only to pages and anchors that
exist.

The build is the one README and docs/ document, ``sphinx-build -W --keep-going -b html docs
OUT`` (warnings are errors), into a fresh folder, so the tutorial notebooks are executed: it
takes minutes, and this module's tests run after every other test of a session. The links are
checked offline by parsing the built HTML (Sphinx's linkcheck builder would need a network).
Skipped when the ``docs`` extra is not installed (``pip install -e ".[docs]"``).
"""

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytest.importorskip("sphinx", reason='the docs extra is not installed: pip install -e ".[docs]"')
pytest.importorskip("myst_nb", reason='the docs extra is not installed: pip install -e ".[docs]"')
pytest.importorskip("furo", reason='the docs extra is not installed: pip install -e ".[docs]"')

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: the whole build, notebooks included (each has 600 s in conf.py)
BUILD_TIMEOUT = 3600

# This module is its own plugin, so that its hook below runs: the build takes minutes, and the
# rest of the suite should not wait for it.
pytest_plugins = [__name__]


def pytest_collection_modifyitems(session, config, items):
    """This module's tests run after every other test of the session."""
    ours = [item for item in items if getattr(item, "module", None) is sys.modules[__name__]]
    if ours:
        items[:] = [item for item in items if item not in ours] + ours


def build(out):
    """Build the site as documented, warnings as errors, into ``out``; returns the problems
    (the build's exit status and every warning it printed)."""
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
               PYROVAE_DOCS_EXECUTE="force")  # every notebook runs: this is their only test
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", str(DOCS), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
    )
    log = proc.stdout + proc.stderr
    warnings = [line for line in log.splitlines()
                if re.search(r"\b(WARNING|ERROR|CRITICAL):", line) and "IPKernelApp" not in line]
    problems = [f"warning: {line}" for line in warnings]
    if proc.returncode != 0:
        problems.append(f"the build exited with status {proc.returncode}; its output ends:\n"
                        + log[-4000:])
    return problems


class _Page(HTMLParser):
    """The ids of an HTML page, its links (``href``/``src``), and its prose: the text outside
    code, scripts and typeset mathematics."""

    SKIP = {"head", "pre", "code", "script", "style", "kbd", "samp", "textarea"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.links, self.prose = set(), [], []
        self._stack = []  # (tag, skipped?) for the open elements

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key):
                self.links.append((tag, attrs[key]))
        if tag in ("br", "img", "meta", "link", "input", "hr", "source", "wbr"):
            return
        classes = (attrs.get("class") or "").split()
        skipped = tag in self.SKIP or "math" in classes
        self._stack.append((tag, skipped))

    def handle_endtag(self, tag):
        for i in range(len(self._stack) - 1, -1, -1):  # tolerate unclosed elements
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break

    def handle_data(self, data):
        if not any(skipped for _, skipped in self._stack):
            self.prose.append(data)


def _pages(html):
    pages = {}
    for path in sorted(html.resolve().rglob("*.html")):
        page = _Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages[path] = page
    return pages


def broken_links(html):
    """``[(page, link, why)]`` for every internal link of the built site whose file or anchor
    does not exist."""
    html = html.resolve()
    pages, broken = _pages(html), []
    for path, page in pages.items():
        for tag, link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue  # external: not checked offline
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            where = path.relative_to(html).as_posix()
            if not target.exists():
                broken.append((where, link, "no such file"))
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else set()
                if unquote(parts.fragment) not in ids:
                    broken.append((where, link, f"no id '{parts.fragment}' in it"))
    return broken


#: what a page's prose shows when a directive, a role or the math was not rendered
UNRENDERED = re.compile(
    r"```\{|\{eval-rst\}|\{toctree\}|\{py:[a-z]+\}`|^\s*\.\. [a-z:-]+::|:(py:)?(class|func|mod|"
    r"meth|attr|data|obj):`|(?<![\w$])\$[^$\s][^$]*\$(?![\w$])|\\\(|\\\[|\\begin\{", re.M)


PAGES = ("index.html", "getting-started.html", "guide/elbo.html",
         "reference/configuration.html", "reference/components.html", "reference/cli.html",
         "reference/recipes.html",
         "reference/api/index.html", "reference/api/pyrovae.config.html", "results/index.html",
         "tutorials/index.html")


def missing_pages(html):
    return [f"the build has no {page}" for page in PAGES if not (html / page).is_file()]


def raw_markup(html):
    """No page's prose shows MyST or reST source: an unknown directive, a role that was not
    resolved, or mathematics MathJax was not given (``$...$`` left as text)."""
    html, raw = html.resolve(), []
    for path, page in _pages(html).items():
        if path.parent.name in ("_sources", "_static", "_modules") or path.name in (
                "genindex.html", "search.html"):
            continue
        text = "".join(page.prose)
        for m in UNRENDERED.finditer(text):
            raw.append(f"raw markup in {path.relative_to(html)}: "
                       f"...{text[max(0, m.start() - 40):m.end() + 40]!r}")
    return raw


#: what the code has now, read in a fresh interpreter: the registries of this test process may
#: hold the kinds and components that other tests registered from their own files
CODE_NOW = """
import json
from pyrovae import cli
from pyrovae.config import config_to_dict, load_config
from pyrovae.registries import REGISTRIES
sub = next(a for a in cli._parser()._actions if a.__class__.__name__ == "_SubParsersAction")
print(json.dumps({"config": {s: list(k) for s, k in config_to_dict(load_config()).items()},
                  "registries": {r.kind: r.names() for r in REGISTRIES.values()},
                  "commands": list(sub.choices)}))
"""


def stale_reference(html):
    """The configuration, components and command-line references show what the code has now."""
    done = subprocess.run([sys.executable, "-c", CODE_NOW], capture_output=True, text=True,
                          check=True)
    now = json.loads(done.stdout)
    text = {name: (html / "reference" / f"{name}.html").read_text(encoding="utf-8")
            for name in ("configuration", "components", "cli")}
    stale = []
    for section, keys in now["config"].items():
        stale += [f"[{section}] {key} is not in the configuration reference"
                  for key in keys if key not in text["configuration"]]
    for kind, names in now["registries"].items():
        stale += [f"{kind} {name!r} is not in the components reference"
                  for name in names if f">{name}<" not in text["components"]]
    stale += [f"pyrovae {command} is not in the command-line reference"
              for command in now["commands"] if f"pyrovae {command}" not in text["cli"]]
    return stale


def unexecuted_tutorials(html):
    """The tutorial pages without an executed cell's output: every notebook in docs/tutorials/
    is executed by the build (the only place the suite runs them), and shows what it printed."""
    pages = [html / "tutorials" / f"{path.stem}.html"
             for path in sorted((DOCS / "tutorials").glob("*.ipynb"))]
    return [f"tutorial page {page.relative_to(html)} is missing or shows no executed output"
            for page in pages
            if not page.is_file() or "cell_output" not in page.read_text(encoding="utf-8")]


def test_docs_build_without_warnings_and_with_working_links(tmp_path):
    """One test, so that the site is built once even when the suite runs in parallel: the build
    has no warning, the main pages exist, every internal link and anchor resolves, no page
    shows raw markup, and the generated references are those of the code."""
    html = tmp_path / "html"
    problems = build(html)
    if html.is_dir():
        problems += missing_pages(html)
        problems += [f"broken link in {page}: {link} ({why})"
                     for page, link, why in broken_links(html)]
        problems += raw_markup(html)
        problems += unexecuted_tutorials(html)
        problems += stale_reference(html) if (html / "reference").is_dir() else []
    assert not problems, f"{len(problems)} problems with the docs:\n" + "\n".join(problems[:60])
