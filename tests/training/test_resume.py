"""Resume: a run stopped and continued ends bit for bit where the uninterrupted run ends; best.pt,
early stopping, evaluation on a schedule and results.json."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import pyrovae as pv
from pyrovae.errors import CheckpointError, ConfigError
from pyrovae.checkpoint import load_checkpoint
from pyrovae.runfiles import load_run_config
from pyrovae.training import resume

QUIET = {"progress": False, "log": lambda message: None}
TINY = ["model.z_dim=2", "model.encoder.hidden=[16]", "model.decoder.hidden=[16]",
        "train.batch_size=128", "train.num_threads=1"]


def config(out, *overrides):
    return pv.load_config(None, [*TINY, *overrides, f"output.dir=\"{out}\""])


def metrics(run):
    """metrics.csv without the wall-time column (the only one that differs between runs)."""
    with open(run / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "epoch_seconds"} for row in csv.DictReader(f)]


def assert_same_run(a, b):
    assert metrics(a) == metrics(b)
    sa = torch.load(a / "checkpoint.pt", weights_only=True)
    sb = torch.load(b / "checkpoint.pt", weights_only=True)
    assert sa["epoch"] == sb["epoch"]
    for key, value in sa["state_dict"].items():
        assert torch.equal(value, sb["state_dict"][key]), key  # bit for bit
    assert sa["training"]["trainer"]["best_elbo"] == sb["training"]["trainer"]["best_elbo"]
    opt_a, opt_b = sa["training"]["trainer"]["optimizer"], sb["training"]["trainer"]["optimizer"]
    for key, state in opt_a["state"].items():
        for name, value in state.items():
            assert torch.equal(value, opt_b["state"][key][name]), (key, name)


SCHEDULE = ["model.kl_warmup_epochs=3", "train.scheduler={name=\"step\", step_size=3, gamma=0.5}"]


@pytest.mark.parametrize("kind", [[], ["model.kind=\"m2\"", "data.labels=50"],
                                  ["model.kind=\"cvae\"", "model.class_prior=true"]],
                         ids=["vae-dynamic-binarization", "m2-50-labels", "cvae-class-prior"])
def test_resume_at_an_epoch_boundary_is_bit_for_bit(tmp_path, kind):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    pv.train(config(straight, *SCHEDULE, *kind, "train.epochs=5"), **QUIET)
    pv.train(config(stopped, *SCHEDULE, *kind, "train.epochs=2"), **QUIET)
    _, _, rows = resume(stopped, epochs=5, **QUIET)
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5]
    assert load_run_config(stopped).train.epochs == 5
    assert_same_run(straight, stopped)
    assert [row["lr"] for row in metrics(stopped)] == ["0.001", "0.001", "0.001", "0.0005",
                                                        "0.0005"]


def _train_command(out, epochs):
    flags = [f"--set={o}" for o in TINY]
    return [sys.executable, "-m", "pyrovae", "train", "--quiet", "--out", str(out),
            "--epochs", str(epochs), "--batch-size", "16", *flags]


def test_resume_after_sigkill_mid_epoch_is_bit_for_bit(tmp_path):
    """A training process killed (SIGKILL) during an epoch, then resumed, ends exactly where a
    never-interrupted process ends."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(_train_command(straight, 6), check=True, env=env, capture_output=True)
    process = subprocess.Popen(_train_command(killed, 6), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait for the checkpoint of epoch 2, then kill
        if (killed / "metrics.csv").exists() and len(metrics(killed)) >= 2:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    _, state = load_checkpoint(killed, load_run_config(killed))
    # killed in epoch 3, or between metrics.csv and the checkpoint of epoch 2 (then the resume
    # drops the row the checkpoint does not cover)
    assert 1 <= state["epoch"] < 6, "the process was not killed mid-run"
    result = subprocess.run([sys.executable, "-m", "pyrovae", "train", "--resume", str(killed),
                             "--quiet"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert_same_run(straight, killed)
    # no staging left; the lock files stay (filelock keeps them) and are free again
    assert sorted(p.name for p in tmp_path.iterdir()) == [".killed.lock", ".straight.lock",
                                                           "killed", "straight"]


def test_a_resume_that_cannot_match_says_so(tmp_path):
    run = tmp_path / "run"
    pv.train(config(run, "train.epochs=2"), **QUIET)
    with pytest.raises(ConfigError, match=r"has run 2 of its 2 epochs: it is finished; "
                       r"resume it with more than 2 epochs to extend it"):
        resume(run, **QUIET)
    text = (run / "config.toml").read_text()
    (run / "config.toml").write_text(text.replace("lr = 0.001", "lr = 0.01"))
    with pytest.raises(CheckpointError, match=r"differs from (its checkpoint|checkpoint\.pt) in train\.lr"):
        resume(run, epochs=3, **QUIET)
    (run / "config.toml").write_text(text)
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    state["pyrovae"] = "0.0.1"
    torch.save(state, run / "checkpoint.pt")
    with pytest.raises(CheckpointError, match=r"written by pyrovae 0.0.1 .* cannot continue it"):
        resume(run, epochs=3, **QUIET)
    (run / "checkpoint.pt").unlink()
    with pytest.raises(CheckpointError, match="has not finished an epoch"):
        resume(run, epochs=3, **QUIET)


def test_early_stopping_best_checkpoint_and_results(tmp_path):
    """With lr ≈ 0 the validation ELBO never improves after epoch 1 (its noise aside, which the
    fixed seeds make repeatable): patience 2 stops after epoch 3 at the latest, best.pt holds the
    best epoch's weights, results.json says why it stopped and gives the test bound."""
    run = tmp_path / "run"
    pv.train(config(run, "train.epochs=20", "train.optimizer={name=\"sgd\"}", "train.lr=1e-12",
                    "train.early_stopping={patience=2}", "train.final_iwae_k=5"), **QUIET)
    rows = metrics(run)
    results = json.loads((run / "results.json").read_text())
    best = results["best_epoch"]
    assert len(rows) == best + 2 < 20
    assert "stopped early" in results["stop_reason"]
    elbos = [float(r["valid_elbo"]) for r in rows]
    assert elbos[best - 1] == max(elbos) == results["best_valid_elbo"]
    _, state = load_checkpoint(run, load_run_config(run), name="best.pt")
    assert state["epoch"] == best
    test = results["test"]
    assert test["iwae_k"] == 5 and test["log_likelihood"] > test["elbo"] - 1.0
    assert set(results["versions"]) == {"pyrovae", "torch", "pyro", "python"}
    assert len(results["config_sha256"]) == 64


def test_validation_on_a_schedule_leaves_empty_cells(tmp_path):
    run = tmp_path / "run"
    pv.train(config(run, "train.epochs=5", "train.eval_every=2"), **QUIET)
    rows = metrics(run)
    assert [bool(r["valid_elbo"]) for r in rows] == [False, True, False, True, True]
    assert list(rows[0]) == ["epoch", "train_loss", "kl_weight", "lr", "valid_elbo",
                             "valid_reconstruction", "valid_kl", "valid_kl_method"]
    header = (run / "metrics.csv").read_text().splitlines()[0]
    assert header.endswith(",epoch_seconds")
