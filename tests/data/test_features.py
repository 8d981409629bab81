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


def _encode(dataset, run, **options):
    """``encode_dataset`` with the M1 of the run ``run`` (loaded as ``load_data`` does)."""
    return encode_dataset(dataset, open_run(run)[1], run, **options)


@pytest.fixture(scope="module")
def m1(tmp_path_factory):
    run = tmp_path_factory.mktemp("features") / "m1"
    assert main(["train", "--out", str(run), "--z-dim", "3", *TINY]) == 0
    return run


def test_the_codes_are_the_posterior_means_of_every_split(m1):
    data = pv.load_dataset("digits", labels=50)
    codes = _encode(data, m1)
    _, vae, _, _ = open_run(m1)
    assert codes.event_shape == (3,) and codes.binarize == "none"
    assert torch.equal(codes.labelled, data.labelled)  # the same kept labels
    for name in ("train", "valid", "test"):
        split, images = codes.split(name), data.split(name)
        with torch.no_grad():
            loc = vae.posterior.loc_scale(vae.encoder(images.x))[0]  # the mean, by hand
        torch.testing.assert_close(split.x, loc, rtol=1e-6, atol=1e-6)
        assert torch.equal(split.y, images.y)


def test_sampled_codes_carry_the_posterior_scales_of_the_training_images(m1):
    """``draw = "sample"``: the means stay the codes of every split, and the training split
    also carries q(z|x)'s standard deviations, by hand, which its batches draw from."""
    data = pv.load_dataset("digits", labels=50)
    codes = _encode(data, m1, draw="sample")
    means = _encode(data, m1)
    _, vae, _, _ = open_run(m1)
    with torch.no_grad():
        scale = vae.posterior.loc_scale(vae.encoder(data.train.x))[1]
    torch.testing.assert_close(codes.train_std, scale, rtol=1e-6, atol=1e-6)
    assert means.train_std is None
    for name in ("train", "valid", "test"):
        assert torch.equal(codes.split(name).x, means.split(name).x)
    batches = _encode(pv.load_dataset("digits"), m1, draw="sample").batches(64, seed=0)
    first, second = (torch.cat([x for x, _ in batches]).sort(0).values for _ in range(2))
    assert first.shape == (len(data.train), 3)
    assert not torch.equal(first, second)  # new values each epoch, not just a new order
    assert not torch.equal(first, means.train.x.sort(0).values)


def test_sampled_codes_train_and_resume_exactly(m1, tmp_path):
    """An M1+M2 run on sampled codes resumes to the same losses as an uninterrupted run: the
    draws come from the batcher's generator, which the checkpoint stores."""
    common = ["--model", "m2", "--labels", "50", *TINY, "--likelihood", "gaussian",
              "--set", f"data.features_from=\"{m1}\"", "--set", "data.features_draw=\"sample\""]
    assert main(["train", "--out", str(tmp_path / "whole"), *common, "--epochs", "2"]) == 0
    assert main(["train", "--out", str(tmp_path / "part"), *common]) == 0
    assert main(["train", "--resume", str(tmp_path / "part"), "--epochs", "2", "--quiet"]) == 0

    def losses(run):
        lines = (run / "metrics.csv").read_text().splitlines()
        return [float(line.split(",")[1]) for line in lines[1:]]

    assert losses(tmp_path / "part") == pytest.approx(losses(tmp_path / "whole"), rel=1e-6)


def test_active_units_keep_the_dimensions_whose_mean_varies(tmp_path):
    """``units = "active"``: a unit whose posterior mean is the same for every image (here
    made so by zeroing its row of M1's output layer) is dropped from every split and from the
    training scales; the kept columns are the means by hand. A VAE with no active unit is
    refused."""
    import shutil

    m1 = tmp_path / "m1"  # 8 epochs: its 3 units are active (variances about 0.02-0.03)
    assert main(["train", "--out", str(m1), "--z-dim", "3", *TINY, "--epochs", "8"]) == 0

    from pyrovae.data.features import active_units

    means = torch.tensor([[0.0, 1.0, 5.0], [0.0, 1.2, 5.0], [0.0, 0.8, 5.3]])
    # variances 0, 0.04, 0.03: the threshold is Burda et al.'s 0.01
    assert active_units(means).tolist() == [False, True, True]
    assert active_units(means * 0.55).tolist() == [False, True, False]  # 0.0121, 0.0091

    def with_dead_units(rows, name):
        run = tmp_path / name
        shutil.copytree(m1, run)
        state = torch.load(run / "best.pt", weights_only=False)
        out = [k for k in state["state_dict"] if k.startswith("encoder.")][-2:]  # last layer
        for key in out:
            state["state_dict"][key][rows] = 0.0  # μ_u = 0 for every image
        torch.save(state, run / "best.pt")
        return run

    dead = with_dead_units([1], "dead1")
    data = pv.load_dataset("digits", labels=50)
    codes = _encode(data, dead, draw="sample", units="active")
    every = _encode(data, dead, draw="sample")
    keep = every.train.x.var(0) > 0.01  # by hand
    assert keep.tolist() == [True, False, True]
    assert codes.event_shape == (2,)
    for name in ("train", "valid", "test"):
        assert torch.equal(codes.split(name).x, every.split(name).x[:, keep])
    assert torch.equal(codes.train_std, every.train_std[:, keep])
    with pytest.raises(DataError, match="no latent unit.*is active"):
        _encode(data, with_dead_units([0, 1, 2], "dead3"), units="active")


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


def test_a_run_on_codes_refuses_a_changed_m1(tmp_path, capsys):
    """The run records the SHA-256 of M1's checkpoint; once M1 is retrained in place, evaluate
    and resume refuse in one line and write nothing."""
    import hashlib

    m1 = tmp_path / "m1"
    assert main(["train", "--out", str(m1), "--z-dim", "3", *TINY]) == 0
    run = tmp_path / "m1m2"
    assert main(["train", "--out", str(run), "--model", "m2", "--labels", "50", *TINY,
                 "--set", f"data.features_from=\"{m1}\"", "--likelihood", "gaussian"]) == 0
    recorded = pv.load_config(run / "config.toml").data.features_checksum
    assert recorded == hashlib.sha256((m1 / "best.pt").read_bytes()).hexdigest()
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0  # unchanged M1: fine
    assert main(["train", "--out", str(m1), "--z-dim", "3", *TINY, "--seed", "1",
                 "--overwrite"]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 2
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("has changed since this run was trained" in e for e in err)
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_refusals(m1, tmp_path, capsys):
    m2_run = tmp_path / "m2"
    assert main(["train", "--out", str(m2_run), "--model", "m2", "--labels", "50", *TINY]) == 0
    data = pv.load_dataset("digits")
    with pytest.raises(ConfigError, match="'m2' run.*model.kind = \"vae\""):
        _encode(data, m2_run)
    other = pv.load_dataset("digits")
    other.event_shape = (64,)
    with pytest.raises(DataError, match="shape"):
        _encode(other, m1)
    iaf = tmp_path / "iaf"
    assert main(["train", "--out", str(iaf), "--guide", "iaf", "--z-dim", "3", *TINY]) == 0
    with pytest.raises(ConfigError, match="diagonal-Gaussian.*features_draw = \"mean\""):
        _encode(data, iaf, draw="sample")
    _encode(data, iaf)  # its means are fine
    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "r"), *TINY, "--set", "data.binarize=\"dynamic\"",
                 "--set", f"data.features_from=\"{m1}\"", "--likelihood", "gaussian"]) == 2
    assert "real-valued codes" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_any_model_that_provides_codes_is_an_m1(tmp_path):
    """An M1 is a capability, not a kind: a two-layer model of the user's own, whose guide
    draws z1 from x first, gives the means (and scales) of its q(z1|x), by hand; a model of x
    given its label gives none."""
    from pathlib import Path

    import torch.nn.functional as F

    spec = f"{Path(__file__).resolve().parents[1] / 'user_models' / 'two_layer.py'}:TwoLayer"
    run = tmp_path / "two-layer"
    assert main(["train", "--model", spec, "--out", str(run), "--epochs", "1", "--quiet",
                 "--set", "model.hidden=8"]) == 0
    data = pv.load_dataset("digits")
    codes = _encode(data, run, draw="sample")
    _, model, _, _ = open_run(run)
    assert codes.event_shape == (4,)
    with torch.no_grad():
        for name in ("train", "test"):
            loc, raw = model.inner.encode1(data.split(name).x.flatten(1)).chunk(2, -1)
            torch.testing.assert_close(codes.split(name).x, loc)
        loc, raw = model.inner.encode1(data.train.x.flatten(1)).chunk(2, -1)
        torch.testing.assert_close(codes.train_std, F.softplus(raw) + 1e-3)
    cvae = tmp_path / "cvae"
    assert main(["train", "--out", str(cvae), "--model", "cvae", *TINY]) == 0
    with pytest.raises(ConfigError, match="'cvae' run, a model of x given its label"):
        _encode(data, cvae)


def test_progress_bar_over_the_batches_changes_no_code(m1, capsys):
    """The bar (forced on) counts the batches of every split on stderr; the codes and scales are
    those without it, bit for bit; off (and by default, off a terminal) it prints nothing."""
    data = pv.load_dataset("digits", labels=50)
    _, vae, _, _ = open_run(m1)
    batches = sum(-(-len(data.split(name).x) // 100) for name in ("train", "valid", "test"))
    runs = {progress: encode_dataset(data, vae, m1, batch_size=100, draw="sample",
                                     progress=progress) for progress in (True, False, None)}
    out, err = capsys.readouterr()
    assert out == "" and err.count("M1 codes: 100%") == 1 and f"{batches}/{batches}" in err
    for progress in (False, None):
        assert torch.equal(runs[progress].train_std, runs[True].train_std)
        for name in ("train", "valid", "test"):
            assert torch.equal(runs[progress].split(name).x, runs[True].split(name).x)
