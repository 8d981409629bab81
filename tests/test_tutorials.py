"""Every tutorial notebook in docs/tutorials/ runs top to bottom, as the documentation build runs
it: executed with nbclient in a fresh temporary working directory, any error (the notebooks end
with an ``assert`` on one of their claims) failing the test. New notebooks are picked up by the
glob; the five expected ones must exist; the stored notebooks carry no outputs.

The execution tests need the docs extra (``pip install -e ".[docs]"``: myst-nb brings nbclient and
nbformat, and ipykernel the kernel) and are skipped without it. Each notebook's wall time is
printed (``-s`` or ``-rP`` shows it) and recorded as the test's ``seconds`` property (``--junitxml``).
"""

import json
import time
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

#: the most a notebook may take, all cells together (each is sized for about 1-2 minutes on 2 cores)
NOTEBOOK_SECONDS = 600


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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_tutorial_runs(path, tmp_path, capsys, record_property):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(path, as_version=4)
    start = time.monotonic()
    deadline = start + NOTEBOOK_SECONDS
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        # the time left of the notebook's budget, for every cell
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    try:
        client.execute()
    finally:
        seconds = time.monotonic() - start
        record_property("seconds", round(seconds, 1))
        with capsys.disabled():
            print(f"\n{path.name}: executed in {seconds:.1f} s")
    assert seconds <= NOTEBOOK_SECONDS
