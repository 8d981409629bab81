"""The tutorial notebooks in docs/tutorials/ as stored: the five expected ones exist, in reading
order, without outputs, each ending with an ``assert`` on one of its claims.

They are executed once per test run, by the documentation build (tests/test_docs.py builds the
site into a fresh folder with myst-nb's ``nb_execution_raise_on_error``, so a notebook that
fails, its final ``assert`` included, fails that test), not a second time here.
"""

import json
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))

#: the tutorials, in reading order (docs/tutorials/index.md lists them so)
EXPECTED = [
    "01-first-vae.ipynb",
    "02-priors-and-likelihoods.ipynb",
    "03-estimators.ipynb",
    "04-semi-supervised.ipynb",
    "05-your-own-model.ipynb",
]


def test_expected_tutorials_exist():
    missing = [name for name in EXPECTED if not (TUTORIALS / name).is_file()]
    assert not missing, f"missing tutorials in {TUTORIALS}: {', '.join(missing)}"


def test_index_lists_the_tutorials_in_order():
    """docs/tutorials/index.md's toctree names the tutorials in reading order, or globs them
    (``*``: Sphinx then orders them by file name, which must be the reading order)."""
    index = (TUTORIALS / "index.md").read_text(encoding="utf-8")
    toctree = index[index.index("```{toctree}"):]
    toctree = toctree[: toctree.index("```", 3)].splitlines()
    if ":glob:" in toctree and "*" in toctree:
        assert EXPECTED == sorted(EXPECTED), "name the tutorials so that they sort in order"
        return
    positions = [toctree.index(Path(name).stem) if Path(name).stem in toctree else -1
                 for name in EXPECTED]
    assert min(positions) >= 0, "docs/tutorials/index.md: add the notebooks to its toctree"
    assert positions == sorted(positions), "docs/tutorials/index.md: list the tutorials in order"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_tutorial_is_stored_clean(path):
    """nbformat 4, the python3 kernel, no outputs or execution counts (the docs build executes
    the notebooks; outputs would only make the files large and stale), and a last code cell
    that checks a claim with an assert."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [cell for cell in nb["cells"] if cell["cell_type"] == "code"]
    dirty = [i for i, cell in enumerate(code) if cell.get("outputs") or cell.get("execution_count")]
    assert not dirty, f"{path.name}: clear the outputs of code cells {dirty} before committing"
    assert code and "assert " in "".join(code[-1]["source"]), \
        f"{path.name}: the last code cell should check a claim with an assert"
