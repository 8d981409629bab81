"""The public API's type hints (pyrovae ships ``py.typed``, so users' type checkers read them):
``mypy --strict`` accepts a typed script of the API's real use (tests/typed_usage.py), refuses
misuse of it, and the script runs with every value of the type its hint says.

mypy reads torch and Pyro once (about 30-60 s on 2 cores); its cache, outside the repository,
makes later runs take seconds.
"""

import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy is in the test extra: pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parents[1]
USAGE = ROOT / "tests" / "typed_usage.py"
#: one cache per environment, outside the repository
CACHE = Path(tempfile.gettempdir()) / (
    "pyrovae-mypy-" + hashlib.sha256(sys.prefix.encode()).hexdigest()[:12])

#: a user's mistakes: each line marked ``# E`` must be an error
MISUSE = '''\
import pyrovae as pv
from pyrovae import recipes

config = pv.load_config(42)  # E: not a path
epochs: str = pv.load_config().train.epochs  # E: an int
run: pv.Config = pv.load_run("runs/a")  # E: a Run
pv.load_dataset("digits", binarise="dynamic")  # E: no such keyword
pv.lod_config()  # E: no such name (type checkers do not see the lazy __getattr__)
pv.Trainer(pv.VAE.build((1, 8, 8)), lr="fast")  # E: lr is a float
bounds: float = pv.importance_bound(None, pv.load_dataset("digits").test.x, 5)  # E: a tensor
recipes.path(3)  # E: a name
pv.PRIORS.register("mine", description=7)  # E: a str
'''


def mypy(*files, cwd=ROOT):
    """mypy --strict on ``files``; pyrovae's own modules (and torch's, Pyro's) are read for
    their hints, their errors not reported (``--follow-imports=silent``)."""
    env = {**os.environ, "MYPYPATH": str(ROOT)}  # the source, whatever the install
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--untyped-calls-exclude=pyro",  # Pyro's own functions without hints (to_event)
         "--cache-dir", str(CACHE), "--no-color-output", "--no-error-summary",
         *map(str, files)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )


def test_the_hints_fit_real_use_and_refuse_misuse(tmp_path):
    """One mypy run (torch is read once): the typed script passes, and every marked line of
    the misuse is an error (so the hints are really seen, not ``Any``)."""
    misuse = tmp_path / "misuse.py"
    misuse.write_text(MISUSE)
    done = mypy(USAGE, misuse)
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 2: mypy itself failed
    usage_errors = [line for line in errors if f"{USAGE.name}:" in line]
    assert usage_errors == [], "\n".join(usage_errors)
    found = {int(m.group(1)) for line in errors
             if (m := re.search(r"misuse\.py:(\d+):", line))}
    expected = {n for n, line in enumerate(MISUSE.splitlines(), 1) if "# E" in line}
    assert expected - found == set(), "\n".join(
        f"line {n} is not an error: {MISUSE.splitlines()[n - 1]}" for n in sorted(expected - found))
    assert found <= expected, "\n".join(errors)


def test_typed_usage_runs(tmp_path):
    """The script mypy checks runs, and each value is of its hinted type at run time."""
    done = subprocess.run([sys.executable, str(USAGE), str(tmp_path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert done.stdout.splitlines()[-1] == "typed usage ran"


def test_the_package_is_marked_typed():
    assert (ROOT / "pyrovae" / "py.typed").is_file()
