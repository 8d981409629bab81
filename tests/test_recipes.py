"""Every recipe loads, validates and trains one epoch (on digits instead of MNIST, with the
recipe's own model, objective, optimizer and schedule), and names its paper and published NLL."""

import json
import re
from pathlib import Path

import pytest

import pyrovae as pv

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.toml"))


def test_the_published_protocols_are_all_there():
    names = {p.stem for p in RECIPES}
    assert {"vae-burda2016", "iwae5-burda2016", "iwae50-burda2016", "vae-static",
            "vampprior-tomczak2018", "m2-pyro-100", "m2-pyro-600", "m2-pyro-1000",
            "m2-pyro-3000", "cvae-mnist", "m1-kingma2014",
            "m1m2-kingma2014-100", "cvae-quadrants-pyro"} <= names


@pytest.mark.parametrize("recipe", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_loads_and_trains_one_epoch(recipe, tmp_path):
    header = " ".join(line.lstrip("# ") for line in recipe.read_text().splitlines()
                      if line.startswith("#"))
    assert re.search(r"(19|20)\d\d", header[:300]), "names its paper and year first"
    assert re.search(r"test NLL\s+\d+\.\d+ nats|test accuracy \d+\.\d+ %|no published figure"
                     r" for this setting; target: .*\d+ %", header), \
        "states the published figure (or that there is none, and the target instead)"
    config = pv.load_config(recipe)  # every name and option is valid
    small = pv.load_config(recipe, [
        "data.name=\"digits\"", "data.dir=\"\"", "data.binarize=\"dynamic\"",
        "train.epochs=1", "train.final_iwae_k=3", f"output.dir=\"{tmp_path / 'run'}\"",
        "train.compile=false",  # the compiled step has its own tests; here: the recipe's settings
        *(["data.labels=100"] if config.data.labels else []),  # digits has 1 258 images
        # M1+M2's first stage is a run of its own (tests/data/test_features.py): here, pixels
        *(["data.features_from=\"\"", "data.features_draw=\"mean\"",
           "data.features_units=\"all\""] if config.data.features_from else []),
    ])
    assert small.model.options == config.model.options  # the recipe's own model
    pv.train(small, progress=False, log=lambda message: None)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["epochs_run"] == 1 and results["test"]["iwae_k"] == 3
