"""Screenshots of the built documentation, to look at it as a reader would.

Build the pages first (``sphinx-build -W --keep-going -b html docs docs/_build/html``), then::

    python docs/check_pages.py [OUT_DIR] [--html docs/_build/html] [--page PATH ...]

saves PNGs of the landing page, the first tutorial (if any), one API page and one page with
mathematics into OUT_DIR (default ``/tmp/docs-shots``), with headless Chromium
(``apt-get install -y chromium`` on Debian; ``chromium-browser`` or ``google-chrome`` are
found too). ``--page`` adds pages, relative to the HTML folder. The screenshots are for looking
at, not for the repository.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def browser():
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    sys.exit("check_pages: no Chromium found; install it (apt-get install -y chromium)")


def pages(html, extra):
    """``{screenshot name: HTML file}``: the landing page, the first tutorial, an API page, a
    page with mathematics, and ``extra``."""
    chosen = {"index": html / "index.html"}
    tutorials = sorted(p for p in (html / "tutorials").glob("*.html") if p.name != "index.html")
    if tutorials:
        chosen["tutorial"] = tutorials[0]
    chosen["api"] = html / "reference" / "api" / "pyrovae.config.html"
    chosen["math"] = html / "guide" / "elbo.html"
    for page in extra:
        chosen[Path(page).with_suffix("").as_posix().replace("/", "-")] = html / page
    missing = [str(p) for p in chosen.values() if not p.is_file()]
    if missing:
        sys.exit(f"check_pages: not built: {', '.join(missing)}; build the docs first")
    return chosen


def shoot(chrome, page, png, size):
    with tempfile.TemporaryDirectory() as profile:  # a fresh profile: no state between shots
        cmd = [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={profile}", f"--window-size={size}",
               "--virtual-time-budget=10000",  # let MathJax typeset before the shot
               f"--screenshot={png}", page.resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not png.is_file():
        sys.exit(f"check_pages: {chrome} failed on {page}:\n{proc.stderr[-2000:]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default="/tmp/docs-shots", help="folder for the PNGs")
    parser.add_argument("--html", default=str(DOCS / "_build" / "html"),
                        help="the built HTML (default docs/_build/html)")
    parser.add_argument("--page", action="append", default=[],
                        help="another page to shoot, relative to the HTML folder")
    parser.add_argument("--window-size", default="1280,2000")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chrome = browser()
    for name, page in pages(Path(args.html), args.page).items():
        png = out / f"{name}.png"
        shoot(chrome, page, png, args.window_size)
        print(f"{png}  <-  {page}")


if __name__ == "__main__":
    main()
