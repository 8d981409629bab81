"""Every recipe loads, validates and trains one epoch (on digits instead of MNIST, with the
recipe's own model, objective, optimizer and schedule), and names its paper and published NLL;
the recipes ship inside the package (``pyrovae.recipes``) and run by name
(``pyrovae train --recipe NAME``, ``pyrovae list recipes``)."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import pyrovae as pv
from pyrovae import recipes
from pyrovae.cli import main

RECIPES = recipes.names()
#: this project's data, beside the repository (the recipes' own ``data.dir``)
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def test_the_published_protocols_are_all_there():
    names = set(RECIPES)
    assert {"vae-burda2016", "iwae5-burda2016", "iwae50-burda2016", "vae-static",
            "vampprior-tomczak2018", "m2-pyro-100", "m2-pyro-600", "m2-pyro-1000",
            "m2-pyro-3000", "cvae-mnist", "m1-kingma2014",
            "m1m2-kingma2014-100", "cvae-quadrants-pyro"} <= names


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_loads_and_trains_one_epoch(name, tmp_path):
    header = " ".join(line.lstrip("# ") for line in recipes.read(name).splitlines()
                      if line.startswith("#"))
    assert re.search(r"(19|20)\d\d", header[:300]), "names its paper and year first"
    assert re.search(r"test NLL\s+\d+\.\d+ nats|test accuracy \d+\.\d+ %|no published figure"
                     r" for this setting; target: .*\d+ %", header), \
        "states the published figure (or that there is none, and the target instead)"
    with recipes.path(name) as recipe:
        config = pv.load_config(recipe)  # every name and option is valid
        small = pv.load_config(recipe, [
            "data.name=\"digits\"", "data.dir=\"\"", "data.binarize=\"dynamic\"",
            "train.epochs=1", "train.final_iwae_k=3", f"output.dir=\"{tmp_path / 'run'}\"",
            # the compiled step has its own tests; here: the recipe's settings
            "train.compile=false",
            *(["data.labels=100"] if config.data.labels else []),  # digits has 1 258 images
            # M1+M2's first stage is a run of its own (tests/data/test_features.py): here, pixels
            *(["data.features_from=\"\"", "data.features_draw=\"mean\"",
               "data.features_units=\"all\""] if config.data.features_from else []),
        ])
    assert small.model.options == config.model.options  # the recipe's own model
    pv.train(small, progress=False, log=lambda message: None)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["epochs_run"] == 1 and results["test"]["iwae_k"] == 3


# -- the recipes as package data, by name -------------------------------------------------------


def test_recipes_are_package_files_read_by_name():
    assert RECIPES == sorted(RECIPES) and "vae-static" in RECIPES
    with recipes.path("vae-static") as file:
        assert file.is_file() and file.name == "vae-static.toml"
        assert file.parent == Path(pv.__file__).parent / "recipes"  # inside the package
        assert tomllib.loads(file.read_text())["data"]["dir"] == "../shared/data"
    assert recipes.read("vae-static") == file.read_text()
    described = recipes.describe()
    assert list(described) == RECIPES and all(described.values())
    assert described["vampprior-tomczak2018"].startswith("VampPrior VAE: Tomczak & Welling (2018)")
    assert recipes.description("# One line.\n\n[data]\n") == "One line."
    assert recipes.description("# Goes\n# on.\n") == "Goes …"


def test_train_recipe_runs_the_recipe(tmp_path, capsys):
    """``--recipe NAME`` is ``--config`` with the shipped file: the recipe's model and training
    settings reach the run; flags and ``--set`` override it as usual (here: digits instead of
    MNIST, for speed)."""
    out = tmp_path / "run"
    assert main(["train", "--recipe", "vae-static", "--epochs", "1", "--out", str(out),
                 "--dataset", "digits", "--data-dir", "", "--quiet",
                 "--set", "data.binarize=\"dynamic\"", "--set", "train.final_iwae_k=3",
                 "--set", "train.compile=false"]) == 0
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["model"]["z_dim"] == 40 and config["model"]["encoder"]["hidden"] == [400]
    assert config["train"]["lr"] == 1e-4 and config["train"]["scheduler"]["name"] == "multistep"
    assert config["data"]["name"] == "digits" and config["train"]["epochs"] == 1


@pytest.mark.skipif(not (SHARED / "binarized_mnist").is_dir(),
                    reason=f"no binarized MNIST at {SHARED}")
def test_train_recipe_on_its_own_data(tmp_path, capsys):
    """The recipe as published (one epoch of it, a small final bound) on Larochelle's binarized
    MNIST; ``--data-dir`` replaces the recipe's ``data.dir``."""
    out = tmp_path / "run"
    assert main(["train", "--recipe", "vae-static", "--epochs", "1", "--data-dir", str(SHARED),
                 "--out", str(out), "--set", "train.final_iwae_k=10", "--quiet"]) == 0
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["data"]["dir"] == str(SHARED) and config["data"]["name"] == "binarized-mnist"
    results = json.loads((out / "results.json").read_text())
    assert results["epochs_run"] == 1 and results["test"]["iwae_k"] == 10
    assert results["test"]["num_examples"] == 10_000
    assert "outputs in" in capsys.readouterr().out


def test_recipe_and_config_together_are_refused(tmp_path, one_line):
    config = tmp_path / "c.toml"
    config.write_text("")
    one_line(main(["train", "--recipe", "vae-static", "--config", str(config),
                   "--out", str(tmp_path / "run")]),
             "--config", "--recipe", "not allowed")
    assert not (tmp_path / "run").exists()


def test_an_unknown_recipe_names_the_closest_and_the_list(tmp_path, one_line):
    one_line(main(["train", "--recipe", "vae-statik", "--out", str(tmp_path / "run")]),
             "unknown recipe 'vae-statik'", "did you mean 'vae-static'?",
             ", ".join(RECIPES), "pyrovae list recipes")
    assert not (tmp_path / "run").exists()


def test_resume_refuses_a_recipe(tmp_path, one_line):
    one_line(main(["train", "--resume", str(tmp_path), "--recipe", "vae-static"]),
             "drop --recipe")


def test_list_recipes(capsys, one_line):
    """``pyrovae list recipes`` (without torch), its JSON, and the section of ``pyrovae list``."""
    code = ("import sys\nfrom pyrovae.cli import main\nmain(['list', 'recipes'])\n"
            "print(sorted({'torch', 'pyro'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    lines = done.stdout.splitlines()
    assert lines[0] == "recipes:" and lines[-1] == "[]"
    assert [line.split()[0] for line in lines[1:-1]] == RECIPES
    assert any(line.split(None, 1)[1] == recipes.describe()["vae-static"] for line in lines[1:-1])

    assert main(["list", "recipes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"recipes": recipes.describe()}
    assert main(["list", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["recipes"] == recipes.describe() and "priors" in table
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "\nrecipes:\n" in out and "\npriors:\n" in out
    one_line(main(["list", "recipe"]), "no section 'recipe'", "did you mean 'recipes'?")
