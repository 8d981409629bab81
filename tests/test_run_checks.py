"""A run's files are checked as a whole when they are read (pyrovae.checkpoint): config.toml
against the checkpoint in every setting that changes a number, best.pt against checkpoint.pt,
and the training state field by field before a resume restores it. Every case edits one thing
in a copy of a tiny trained run, as a user (or a bad script) might, and asserts one
``pyrovae: error:`` line naming the field, exit status 2 and every file of the run unchanged.

Also here: SIGTERM and SIGHUP stop a training run like Ctrl-C (pyrovae.signals): one line,
exit status 128 + the signal, the lock released and the run resumable."""

import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pyrovae.cli import main

TINY = ["--z-dim", "2", "--quiet", "--set", "model.encoder.hidden=[8]", "--set",
        "model.decoder.hidden=[8]"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny runs of one epoch: ``run`` and ``other`` (another seed)."""
    root = tmp_path_factory.mktemp("runs")
    for name, seed in (("run", "0"), ("other", "1")):
        assert main(["train", "--epochs", "1", "--out", str(root / name), "--seed", seed,
                     *TINY]) == 0
    return root


def snapshot(run):
    return {p.name: p.read_bytes() for p in sorted(Path(run).iterdir())}


def copy(runs, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(runs / "run", target)
    return target


# -- edits -------------------------------------------------------------------------------------

def edit_config(old, new):
    def edit(run, runs):
        text = (run / "config.toml").read_text()
        assert old in text, old
        (run / "config.toml").write_text(text.replace(old, new, 1))
    return edit


def edit_checkpoint(change, name="checkpoint.pt"):
    def edit(run, runs):
        state = torch.load(run / name, weights_only=True)
        change(state)
        torch.save(state, run / name)
    return edit


def trainer(key, value):
    def change(state):
        if value is _DELETE:
            del state["training"]["trainer"][key]
        else:
            state["training"]["trainer"][key] = value
    return change


_DELETE = object()


def setter(*keys, value):
    def change(state):
        target = state
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return change


def nan_weights(state):
    name = next(iter(state["state_dict"]))
    state["state_dict"][name] = torch.full_like(state["state_dict"][name], math.nan)


def numpy_keys_cut(state):
    state["training"]["rng"]["numpy"]["keys"] = state["training"]["rng"]["numpy"]["keys"][:10]


def best_from_other_run(run, runs):
    shutil.copy(runs / "other" / "best.pt", run / "best.pt")


def best_after_last(run, runs):
    edit_checkpoint(setter("epoch", value=2), "best.pt")(run, runs)


EVALUATE = "evaluate"
RESUME = "resume"
SAMPLE = "sample"

CASES = [
    # config.toml edited by hand: every setting that changes a number
    ("split-seed", EVALUATE, edit_config("split_seed = 0", "split_seed = 7"), "data.split_seed"),
    ("split-seed", RESUME, edit_config("split_seed = 0", "split_seed = 7"), "data.split_seed"),
    ("binarize", EVALUATE, edit_config('binarize = "auto"', 'binarize = "none"'),
     "data.binarize"),
    ("binarize", RESUME, edit_config('binarize = "auto"', 'binarize = "none"'),
     "data.binarize"),
    ("valid-fraction", EVALUATE, edit_config("valid_fraction = 0.1", "valid_fraction = 0.2"),
     "data.valid_fraction"),
    ("test-fraction", SAMPLE, edit_config("test_fraction = 0.2", "test_fraction = 0.3"),
     "data.test_fraction"),
    ("z-dim", EVALUATE, edit_config("z_dim = 2", "z_dim = 3"), "model.z_dim"),
    ("z-dim", RESUME, edit_config("z_dim = 2", "z_dim = 3"), "model.z_dim"),
    ("encoder-activation", EVALUATE, edit_config('activation = "relu"', 'activation = "tanh"'),
     "model.encoder.activation"),
    ("kl-weight", EVALUATE, edit_config("kl_weight = 1.0", "kl_weight = 0.5"),
     "model.kl_weight"),
    ("objective", EVALUATE, edit_config('name = "trace"', 'name = "meanfield"'),
     "train.objective.name"),
    ("objective", RESUME, edit_config('name = "trace"', 'name = "meanfield"'),
     "train.objective.name"),
    ("seed", EVALUATE, edit_config("\nseed = 0", "\nseed = 5"), "train.seed"),
    ("lr", SAMPLE, edit_config("lr = 0.001", "lr = 0.01"), "train.lr"),
    # the training state of checkpoint.pt, field by field
    ("trainer-epoch-negative", RESUME, edit_checkpoint(trainer("epoch", -5)),
     "training.trainer.epoch"),
    ("trainer-epoch-ahead", RESUME, edit_checkpoint(trainer("epoch", 7)),
     "training.trainer.epoch"),
    ("trainer-epoch-text", RESUME, edit_checkpoint(trainer("epoch", "1")),
     "training.trainer.epoch"),
    ("global-step-negative", RESUME, edit_checkpoint(trainer("global_step", -1)),
     "training.trainer.global_step"),
    ("best-epoch-ahead", RESUME, edit_checkpoint(trainer("best_epoch", 9)),
     "training.trainer.best_epoch"),
    ("seconds-nan", RESUME, edit_checkpoint(trainer("seconds", math.nan)),
     "training.trainer.seconds"),
    ("optimizer-missing", RESUME, edit_checkpoint(trainer("optimizer", _DELETE)),
     "optimizer"),
    ("optimizer-empty", RESUME, edit_checkpoint(trainer("optimizer", {})),
     "training.trainer.optimizer"),
    ("scheduler-missing", RESUME, edit_checkpoint(trainer("scheduler", _DELETE)), "scheduler"),
    ("rng-empty", RESUME, edit_checkpoint(setter("training", "rng", value={})),
     "training.rng"),
    ("rng-torch-short", RESUME,
     edit_checkpoint(setter("training", "rng", "torch", value=torch.zeros(3, dtype=torch.uint8))),
     "training.rng['torch']"),
    ("rng-numpy-keys", RESUME, edit_checkpoint(numpy_keys_cut), "training.rng['numpy']"),
    ("rng-random", RESUME, edit_checkpoint(setter("training", "rng", "random", value=(3, (1,), None))),
     "training.rng['random']"),
    ("batches-wrong-type", RESUME, edit_checkpoint(setter("training", "batches", value=[1, 2])),
     "training.batches"),
    ("batches-semi-supervised", RESUME,
     edit_checkpoint(lambda s: s["training"].__setitem__(
         "batches", {"labelled": s["training"]["batches"]})), "training.batches"),
    ("batches-generator-float", RESUME,
     edit_checkpoint(setter("training", "batches", "generator", value=torch.zeros(5))),
     "training.batches['generator']"),
    ("training-missing-rng", RESUME, edit_checkpoint(lambda s: s["training"].pop("rng")),
     "training"),
    # fields every reader uses
    ("event-shape-text", EVALUATE, edit_checkpoint(setter("event_shape", value="abc"),
                                                   "best.pt"), "event_shape"),
    ("event-shape-text", RESUME, edit_checkpoint(setter("event_shape", value="abc")),
     "event_shape"),
    ("event-shape-zero", SAMPLE, edit_checkpoint(setter("event_shape", value=[0, 8, 8]),
                                                 "best.pt"), "event_shape"),
    ("num-classes-negative", EVALUATE, edit_checkpoint(setter("num_classes", value=-1),
                                                       "best.pt"), "num_classes"),
    ("epoch-text", EVALUATE, edit_checkpoint(setter("epoch", value="1"), "best.pt"), "epoch"),
    ("nan-weights", EVALUATE, edit_checkpoint(nan_weights, "best.pt"), "state_dict"),
    ("nan-weights", RESUME, edit_checkpoint(nan_weights), "state_dict"),
    ("weights-not-tensors", EVALUATE,
     edit_checkpoint(setter("state_dict", value={"encoder.weight": [1.0]}), "best.pt"),
     "state_dict['encoder.weight']"),
    ("config-not-tables", EVALUATE, edit_checkpoint(setter("config", value={"model": 3}),
                                                    "best.pt"), "config"),
    # best.pt against checkpoint.pt
    ("best-from-another-run", EVALUATE, best_from_other_run, "train.seed"),
    ("best-after-last", EVALUATE, best_after_last, "epoch 2"),
    ("last-checkpoint-damaged", EVALUATE,
     edit_checkpoint(setter("event_shape", value="abc")), "checkpoint.pt"),
]


def command(kind, run):
    if kind == EVALUATE:
        return ["evaluate", str(run)]
    if kind == SAMPLE:
        return ["sample", str(run), "-n", "4", "-o", str(run.parent / "grid.png")]
    return ["train", "--resume", str(run), "--epochs", "3", "--quiet"]


@pytest.mark.parametrize("name,kind,edit,field", CASES,
                         ids=[f"{kind}-{name}" for name, kind, _, _ in CASES])
def test_an_edited_run_is_refused_in_one_line_naming_the_field(runs, tmp_path, capsys, name,
                                                               kind, edit, field):
    run = copy(runs, tmp_path)
    edit(run, runs)
    before = snapshot(run)
    capsys.readouterr()
    status = main(command(kind, run))
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert status == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("pyrovae: error: "), lines
    assert field in lines[0], lines[0]
    assert "--" not in lines[0]  # the library's message names no flag
    assert snapshot(run) == before
    assert not (run.parent / "grid.png").exists()


@pytest.mark.parametrize("kind", [EVALUATE, SAMPLE, RESUME])
def test_the_unedited_run_is_read_and_resumed(runs, tmp_path, capsys, kind):
    """Guard for the cases above: the same commands on the run as it was written succeed."""
    run = copy(runs, tmp_path)
    assert main(command(kind, run)) == 0, capsys.readouterr().err


@pytest.mark.parametrize("old,new", [
    ("epochs = 1", "epochs = 40"),                        # how far it trains
    ('device = "cpu"', 'device = "auto"'),                 # where it computes
    ("num_threads = 0", "num_threads = 1"),
    ("eval_batch_size = 1000", "eval_batch_size = 7"),    # evaluation does not depend on it
    ("tensorboard = true", "tensorboard = false"),
])
def test_a_reader_allows_keys_that_change_no_number(runs, tmp_path, capsys, old, new):
    run = copy(runs, tmp_path)
    edit_config(old, new)(run, runs)
    assert main(["evaluate", str(run)]) == 0, capsys.readouterr().err


def test_a_moved_run_reads_with_its_output_dir_edited(runs, tmp_path, capsys):
    run = copy(runs, tmp_path)
    text = (run / "config.toml").read_text()
    (run / "config.toml").write_text(text.replace(str(runs / "run"), str(run)))
    assert main(["evaluate", str(run), "--checkpoint", "last"]) == 0, capsys.readouterr().err


# -- signals -----------------------------------------------------------------------------------

def _epoch_of(run):
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    return int(state["epoch"])


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_termination_signal_stops_training_like_ctrl_c(tmp_path, name):
    """One line, exit status 128 + the signal's number, the lock released (a resume runs at
    once) and the run resumable."""
    signum = getattr(signal, name)
    run = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "pyrovae", "train", "--epochs", "500", "--out", str(run), *TINY],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 240
    while not (run / "checkpoint.pt").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint after 240 s"
        time.sleep(0.1)
    time.sleep(0.3)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, err
    assert err.strip().splitlines() == [f"pyrovae: terminated by {name}"], err
    done = _epoch_of(run)
    assert 1 <= done < 500
    assert not (run / "results.json").exists()
    resumed = subprocess.run(
        [sys.executable, "-m", "pyrovae", "train", "--resume", str(run), "--epochs",
         str(done + 1), "--quiet"], capture_output=True, text=True, env=ENV, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert _epoch_of(run) == done + 1 and (run / "results.json").exists()


def test_handle_termination_raises_terminated_and_restores_the_handlers():
    from pyrovae.signals import Terminated, handle_termination

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as caught:
        with handle_termination():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises first
    assert isinstance(caught.value, KeyboardInterrupt)
    assert caught.value.name == "SIGTERM" and caught.value.exit_status == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before
