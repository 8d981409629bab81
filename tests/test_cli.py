"""The ``pyrovae`` command end to end on tiny settings, and its handling of bad input."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from pyrovae.cli import main

TINY = [
    "--epochs", "2", "--z-dim", "2", "--batch-size", "64", "--quiet",
    "--set", "model.encoder.hidden=[16]", "--set", "model.decoder.hidden=[16]",
]  # fmt: skip


def train(tmp_path, *extra, name="run"):
    out = tmp_path / name
    assert main(["train", "--out", str(out), *TINY, *extra]) == 0
    return out


def read_metrics(run):
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train(tmp_path_factory.mktemp("cli"))


def test_train_writes_a_complete_run_directory(trained):
    for name in ("config.toml", "metrics.csv", "checkpoint.pt", "samples.png",
                 "reconstructions.png"):
        assert (trained / name).stat().st_size > 0, name
    rows = read_metrics(trained)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for row in rows:
        assert np.isfinite(float(row["train_loss"]))
        assert float(row["valid_elbo"]) < 0
        # the terms add up: ELBO = reconstruction − KL
        rec, kl = float(row["valid_reconstruction"]), float(row["valid_kl"])
        assert float(row["valid_elbo"]) == pytest.approx(rec - kl, rel=1e-6)
    state = torch.load(trained / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2 and state["event_shape"] == [1, 8, 8]


def test_evaluate_json_and_text(trained, capsys):
    assert main(["evaluate", str(trained), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "test" and result["num_examples"] == 359
    assert result["kl_method"] == "analytic"
    assert result["elbo"] == pytest.approx(result["reconstruction"] - result["kl"], rel=1e-6)
    assert result["kl"] > 0 and result["elbo_stderr"] > 0
    assert main(["evaluate", str(trained), "--split", "valid"]) == 0
    text = capsys.readouterr().out
    assert "valid split, 180 examples" in text and "elbo" in text


def test_evaluate_is_reproducible_with_a_seed(trained, capsys):
    main(["evaluate", str(trained), "--json", "--seed", "3"])
    first = json.loads(capsys.readouterr().out)
    main(["evaluate", str(trained), "--json", "--seed", "3"])
    assert json.loads(capsys.readouterr().out) == first


def test_sample_writes_png(trained, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["sample", str(trained), "-n", "9", "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_list_json_covers_every_registry(capsys):
    assert main(["list", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert {"priors", "likelihoods", "guides", "encoders", "decoders", "objectives",
            "datasets", "optimizers", "models"} <= set(table)
    assert "normal" in table["priors"] and table["priors"]["normal"]
    assert {"trace", "meanfield"} <= set(table["objectives"])
    assert all(description for entries in table.values() for description in entries.values())


def test_same_seed_same_numbers(tmp_path):
    a = read_metrics(train(tmp_path, "--seed", "7", name="a"))
    b = read_metrics(train(tmp_path, "--seed", "7", name="b"))
    c = read_metrics(train(tmp_path, "--seed", "8", name="c"))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in rows]
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


# -- bad input: one line on stderr, exit code 2, nothing damaged -----------------------------


def save(tmp_path, array, name="data.npy"):
    path = tmp_path / name
    np.save(path, array)
    return str(path)


def fails(capsys, argv, *fragments):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pyrovae: error: ") and "\n" not in err, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["--prior", "nromal"], ["unknown prior 'nromal'", "did you mean 'normal'"]),
        (["--z-dim", "0"], ["model.z_dim must be positive"]),
        (["--lr", "-0.1"], ["train.lr must be positive"]),
        (["--batch-size", "0"], ["train.batch_size must be positive"]),
        (["--set", "model.encoder.activation=rellu"], ["unknown activation 'rellu'", "relu"]),
        (["--dataset", "mnist", "--data-dir", "/nonexistent/folder"], ["/nonexistent/folder"]),
        (["--device", "cuda:0"] if not torch.cuda.is_available() else ["--device", "tpu"],
         ["cpu"]),
    ],
)
def test_bad_arguments(tmp_path, capsys, argv, fragments):
    out = tmp_path / "never"
    fails(capsys, ["train", "--out", str(out), *TINY, *argv], *fragments)
    assert not out.exists()


def test_bad_data_files(tmp_path, capsys):
    images = np.random.default_rng(0).random((40, 8, 8)).astype(np.float32)
    nan = images.copy()
    nan[3, 2, 2] = np.nan
    fails(capsys, ["train", "--dataset", save(tmp_path, nan, "nan.npy"), *TINY], "NaN")
    big = images * 5
    fails(capsys, ["train", "--dataset", save(tmp_path, big, "big.npy"), *TINY,
                   "--set", "data.binarize=none"], "bernoulli", "gaussian")
    fails(capsys, ["train", "--dataset", save(tmp_path, images[:0], "empty.npy"), *TINY])
    fails(capsys, ["train", "--dataset", save(tmp_path, images[None, None], "5d.npy"), *TINY],
          "shape")
    fails(capsys, ["train", "--dataset", str(tmp_path / "missing.npy"), *TINY], "missing.npy")


def test_grey_levels_with_bernoulli_warn_once_in_one_line(tmp_path, capsys):
    images = np.random.default_rng(0).random((60, 4, 4)).astype(np.float32)
    assert main(["train", "--out", str(tmp_path / "r"), "--dataset",
                 save(tmp_path, images), *TINY, "--set", "data.binarize=none"]) == 0
    err = capsys.readouterr().err
    assert "pyrovae: warning:" in err and "not a normalized density" in err


def test_existing_run_directory_is_not_overwritten(trained, capsys):
    before = {p.name: p.read_bytes() for p in trained.iterdir()}
    fails(capsys, ["train", "--out", str(trained), *TINY], "already exists", "--overwrite")
    assert {p.name: p.read_bytes() for p in trained.iterdir()} == before


def test_corrupt_and_mismatched_checkpoints(trained, tmp_path, capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(trained, bad)
    (bad / "checkpoint.pt").write_bytes(b"not a checkpoint")
    fails(capsys, ["evaluate", str(bad), "--checkpoint", "last"], "corrupt")
    fails(capsys, ["sample", str(bad), "--checkpoint", "last"], "corrupt")
    (bad / "best.pt").write_bytes(b"not a checkpoint either")
    fails(capsys, ["evaluate", str(bad)], "best.pt", "corrupt")

    mismatch = tmp_path / "mismatch"
    shutil.copytree(trained, mismatch)
    config = (mismatch / "config.toml").read_text().replace("z_dim = 2", "z_dim = 3")
    (mismatch / "config.toml").write_text(config)
    fails(capsys, ["evaluate", str(mismatch)], "does not match", "model.z_dim")

    fails(capsys, ["evaluate", str(tmp_path / "nothing")], "does not exist")
    fails(capsys, ["sample", str(trained), "-n", "0"], "-n must be a positive")
    fails(capsys, ["sample", str(trained), "-o", str(tmp_path / "x.jpg")], ".png")


def test_console_script_exit_code_and_single_line():
    """Through a real process: exit status 2 and one line, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "pyrovae.cli", "train", "--prior", "nope", "--quiet"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "unknown prior 'nope'" in proc.stderr


def test_output_cut_short_by_a_pipe_is_not_an_error():
    """`pyrovae list | head -1`: no traceback when the reader closes the pipe. Here the reader
    closes it before the command writes anything, so the write always fails."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyrovae.cli", "list"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait() == 0
    assert "Traceback" not in err and "BrokenPipe" not in err, err
