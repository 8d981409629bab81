"""``data.binarize = "auto"``: binarize only for a likelihood on {0, 1}, and not for M2."""

import pytest

import pyrovae as pv
from pyrovae.run_data import binarize_mode, load_data


@pytest.mark.parametrize("overrides, mode", [
    ([], "dynamic"),  # the default VAE: bernoulli
    (["model.likelihood=\"gaussian\""], "none"),
    (["model.likelihood=\"continuous-bernoulli\""], "none"),
    (["model.likelihood=\"categorical\""], "none"),
    (["model.kind=\"m2\""], "none"),  # M2 classifies grey levels
    (["data.binarize=\"static\"", "model.likelihood=\"gaussian\""], "static"),  # explicit wins
    (["data.binarize=\"none\""], "none"),
], ids=["vae-bernoulli", "gaussian", "continuous-bernoulli", "categorical", "m2", "explicit",
        "explicit-none"])
def test_auto_binarizes_for_binary_likelihoods_only(overrides, mode):
    config = pv.load_config(None, overrides)
    assert config.data.binarize == ("auto" if not any("binarize" in o for o in overrides)
                                    else config.data.binarize)
    assert binarize_mode(config) == mode


def test_load_data_applies_the_resolved_mode_and_the_labels():
    grey = load_data(pv.load_config(None, ["model.likelihood=\"gaussian\""]))
    assert grey.binarize == "none" and grey.test.x.unique().numel() > 2
    binary = load_data(pv.load_config(None, ["data.labels=0"]))
    assert binary.binarize == "dynamic" and set(binary.test.x.unique().tolist()) == {0.0, 1.0}
    m2 = load_data(pv.load_config(None, ["model.kind=\"m2\"", "data.labels=30"]))
    assert len(m2.labelled) == 30
