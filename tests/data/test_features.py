"""``data.features_from``: a VAE run's codes as the data set (Kingma et al.'s M1+M2)."""

import json

import pytest
import torch

import pyrovae as pv
from pyrovae.cli import main
from pyrovae.data.features import encode_dataset
from pyrovae.errors import ConfigError, DataError
from pyrovae.runs import open_run

TINY = ["--epochs", "1", "--batch-size", "64", "--quiet", "--set", "model.encoder.hidden=[16]",
        "--set", "model.decoder.hidden=[16]"]


@pytest.fixture(scope="module")
def m1(tmp_path_factory):
    run = tmp_path_factory.mktemp("features") / "m1"
    assert main(["train", "--out", str(run), "--z-dim", "3", *TINY]) == 0
    return run


def test_the_codes_are_the_posterior_means_of_every_split(m1):
    data = pv.load_dataset("digits", labels=50)
    codes = encode_dataset(data, m1)
    _, vae, _, _ = open_run(m1)
    assert codes.event_shape == (3,) and codes.binarize == "none"
    assert torch.equal(codes.labelled, data.labelled)  # the same kept labels
    for name in ("train", "valid", "test"):
        split, images = codes.split(name), data.split(name)
        with torch.no_grad():
            loc = vae.posterior.loc_scale(vae.encoder(images.x))[0]  # the mean, by hand
        torch.testing.assert_close(split.x, loc, rtol=1e-6, atol=1e-6)
        assert torch.equal(split.y, images.y)


def test_m2_on_the_codes_evaluates_the_whole_pipeline_on_test_images(m1, tmp_path, capsys):
    """``evaluate`` of an M1+M2 run classifies test *images*: its accuracy equals the M2
    classifier applied by hand to the M1 encoder's means of the test images."""
    run = tmp_path / "m1m2"
    assert main(["train", "--out", str(run), "--model", "m2", "--labels", "50", *TINY,
                 "--set", f"data.features_from=\"{m1}\"", "--likelihood", "gaussian"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    _, vae, _, _ = open_run(m1)
    _, m2, _, _ = open_run(run)
    test = pv.load_dataset("digits").test
    with torch.no_grad():
        codes = vae.posterior.loc_scale(vae.encoder(test.x))[0]
        accuracy = (m2.classifier(codes).argmax(-1) == test.y).double().mean().item()
    assert result["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert result["num_examples"] == len(test.y)


def test_refusals(m1, tmp_path, capsys):
    m2_run = tmp_path / "m2"
    assert main(["train", "--out", str(m2_run), "--model", "m2", "--labels", "50", *TINY]) == 0
    data = pv.load_dataset("digits")
    with pytest.raises(ConfigError, match="'m2' run.*model.kind = \"vae\""):
        encode_dataset(data, m2_run)
    other = pv.load_dataset("digits")
    other.event_shape = (64,)
    with pytest.raises(DataError, match="shape"):
        encode_dataset(other, m1)
    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "r"), *TINY, "--set", "data.binarize=\"dynamic\"",
                 "--set", f"data.features_from=\"{m1}\"", "--likelihood", "gaussian"]) == 2
    assert "real-valued codes" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
