"""The catalogue of bad input: every case is one line on stderr starting ``pyrovae: error:``,
exit status 2, no traceback, and nothing already written is damaged.

Each case is ``(id, argv, fragment)``: ``argv`` is a function of the :class:`World` (a trained
run, data files, a scratch folder) so that a case can prepare what it needs; ``fragment`` is a
piece of the expected message. After every case the trained runs and the data files are hashed
again and must be byte-identical. The tests outside the catalogue check their line with the
``one_line`` fixture of tests/conftest.py.
"""

import hashlib
import os
import shutil

import numpy as np
import pytest
import torch

from pyrovae.cli import main

TINY = ["--z-dim", "2", "--quiet", "--set", "model.encoder.hidden=[8]",
        "--set", "model.decoder.hidden=[8]"]


class World:
    """What the cases act on; ``scratch`` is a fresh folder per case."""

    def __init__(self, root):
        self.root = root
        self.run = str(root / "run")
        self.m2 = str(root / "m2")
        assert main(["train", "--epochs", "1", "--out", self.run, *TINY]) == 0
        assert main(["train", "--epochs", "1", "--model", "m2", "--labels", "50",
                     "--out", self.m2, *TINY,
                     "--set", "model.classifier.hidden=[8]"]) == 0
        data = root / "data"
        data.mkdir()
        rng = np.random.default_rng(0)
        good = rng.random((40, 4, 4)).astype(np.float32)
        self.files = {}
        for name, array in {
            "nan.npy": np.where(good > 0.9, np.nan, good),
            "inf.npy": np.where(good > 0.9, np.inf, good),
            "grey2.npy": good * 2,
            "five_d.npy": good.reshape(40, 1, 1, 4, 4),
            "empty.npy": good[:0],
            "one.npy": good[:1],
            "text.npy": np.array(["a", "b"]),
            "unlabelled.npy": good,
        }.items():
            np.save(data / name, array)
            self.files[name] = str(data / name)
        np.savez(data / "big_label.npz", x=good, y=np.array([0] * 39 + [10**9]))
        np.savez(data / "float_label.npz", x=good, y=np.linspace(0, 1, 40))
        (data / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not a zip")
        (data / "bad.toml").write_text("[train\nlr = 1")
        (data / "unknown.toml").write_text("[train]\nlearning_rate = 1.0\n")
        for name in ("big_label.npz", "float_label.npz", "corrupt.npz", "bad.toml",
                     "unknown.toml"):
            self.files[name] = str(data / name)
        self.scratch = None

    def protected(self):
        """sha256 of every file of the trained runs and the data."""
        return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
                for folder in (self.root / "run", self.root / "m2", self.root / "data")
                for p in sorted(folder.rglob("*")) if p.is_file()}

    def copy(self, what="run"):
        """A copy of a trained run in the scratch folder, free to damage."""
        target = self.scratch / f"copy-{what}"
        shutil.copytree(getattr(self, what), target)
        return target

    def file(self, name):
        return self.files[name]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("world"))


def _corrupt(world, name, content=b"not a checkpoint"):
    run = world.copy()
    (run / name).write_bytes(content)
    return str(run)


def _edit_checkpoint(world, edit):
    run = world.copy()
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    edit(state)
    torch.save(state, run / "checkpoint.pt")
    return str(run)


class Unsafe:
    """Not a tensor: saving it pickles a reference to this class."""


def _unsafe(world):
    run = world.copy()
    torch.save({"format": "pyrovae-checkpoint", "payload": Unsafe()}, run / "checkpoint.pt")
    return str(run)


def _edit_config(world, old, new):
    run = world.copy()
    text = (run / "config.toml").read_text()
    assert old in text
    (run / "config.toml").write_text(text.replace(old, new))
    return str(run)


def _config_is_a_folder(world):
    run = world.copy()
    (run / "config.toml").unlink()
    (run / "config.toml").mkdir()
    return str(run)


def _a_file(world):
    path = world.scratch / "a-file"
    path.write_text("x")
    return str(path)


def _full_folder(world):
    path = world.scratch / "full"
    path.mkdir()
    (path / "keep.txt").write_text("mine")
    return str(path)


def _png_folder(world):
    path = world.scratch / "grid.png"
    path.mkdir()
    return str(path)


LONG = "x" * 300


def _not_utf8(world, name="r\xff"):
    """A path in the scratch folder whose name is bytes that are not UTF-8, as Python decodes
    such a command line (``surrogateescape``)."""
    return os.fsdecode(os.fsencode(str(world.scratch)) + b"/" + name.encode("latin-1"))


def _metrics(world, content, unfinished=False):
    """A copy of the trained run whose metrics.csv is ``content`` (bytes); ``unfinished``:
    without its results.json, so that it can be resumed."""
    run = world.copy()
    (run / "metrics.csv").write_bytes(content)
    if unfinished:
        (run / "results.json").unlink()
    return str(run)


def _toml(world, text):
    path = world.scratch / "config.toml"
    path.write_text(text)
    return str(path)


GOOD_METRICS_HEADER = b"epoch,train_loss,kl_weight,lr,epoch_seconds\n"

CASES = [
    # -- the command line itself (argparse) ----------------------------------------------
    ("no-command", lambda w: [], "required: COMMAND"),
    ("unknown-command", lambda w: ["trian"], "invalid choice: 'trian'"),
    ("unknown-flag", lambda w: ["train", "--foo"], "unrecognized arguments: --foo"),
    ("epochs-not-int", lambda w: ["train", "--epochs", "abc"], "invalid int value: 'abc'"),
    ("lr-not-float", lambda w: ["train", "--lr", "fast"], "invalid float value"),
    ("evaluate-no-run", lambda w: ["evaluate"], "required: RUN_DIR"),
    ("evaluate-bad-split", lambda w: ["evaluate", w.run, "--split", "dev"], "invalid choice"),
    ("checkpoint-bad-choice", lambda w: ["evaluate", w.run, "--checkpoint", "first"],
     "invalid choice: 'first'"),
    ("plot-no-run", lambda w: ["plot"], "required: RUN_DIR"),
    # -- seeds -------------------------------------------------------------------------
    ("train-seed-negative", lambda w: ["train", "--seed", "-1"], "train.seed = -1"),
    ("train-seed-too-big", lambda w: ["train", "--seed", "4294967296"], "[0, 4294967295]"),
    ("evaluate-seed-negative", lambda w: ["evaluate", w.run, "--seed", "-1"],
     "-1 is not a seed"),
    ("sample-seed-too-big", lambda w: ["sample", w.run, "--seed", "4294967296"],
     "not a seed in [0, 4294967295]"),
    ("compare-seed-negative", lambda w: ["compare", w.run, "--seed", "-5"], "not a seed"),
    ("split-seed-negative", lambda w: ["train", "--set", "data.split_seed=-2"],
     "data.split_seed = -2"),
    ("seed-not-an-integer", lambda w: ["train", "--set", "train.seed=\"abc\""],
     "train.seed must be int"),
    ("compare-seeds-overflow",
     lambda w: ["compare", w.run, "--seed", "4294967295", "--repeats", "2"],
     "needs seeds up to 4294967296"),
    # -- devices -----------------------------------------------------------------------
    ("device-meta", lambda w: ["train", "--device", "meta"], "unknown device 'meta'"),
    ("device-mps", lambda w: ["train", "--device", "mps"], "MPS is not available"),
    ("device-cuda", lambda w: ["train", "--device", "cuda"], "CUDA is not available"),
    ("device-cuda-n", lambda w: ["train", "--device", "cuda:1"], "CUDA is not available"),
    ("device-garbage", lambda w: ["evaluate", w.run, "--device", "cuda:abc"],
     "unknown device 'cuda:abc'"),
    # -- the config --------------------------------------------------------------------
    ("unknown-prior", lambda w: ["train", "--prior", "nromal"], "did you mean 'normal'"),
    ("unknown-option", lambda w: ["train", "--set", "model.encoder.hiden=[64]"],
     "did you mean 'hidden'"),
    ("vae-refuses-alpha", lambda w: ["train", "--set", "model.alpha=5"],
     "model.alpha is an option of the "),
    ("vae-refuses-label-prior", lambda w: ["train", "--set", "model.label_prior=[0.5,0.5]"],
     "not of 'vae'; drop it or use model.kind"),
    ("binarize-typo", lambda w: ["train", "--set", "data.binarize=\"dynamc\""],
     "did you mean 'dynamic'"),
    ("threads-not-an-integer", lambda w: ["train", "--set", "train.num_threads=\"x\""],
     "train.num_threads must be int"),
    ("lr-infinite", lambda w: ["train", "--lr", "inf"], "train.lr must be a finite number"),
    ("kl-weight-nan", lambda w: ["train", "--set", "model.kl_weight=nan"],
     "model.kl_weight must be a finite number"),
    ("z-dim-zero", lambda w: ["train", "--z-dim", "0"], "model.z_dim must be positive"),
    ("lr-negative", lambda w: ["train", "--lr", "-1"], "train.lr must be positive"),
    ("batch-size-zero", lambda w: ["train", "--batch-size", "0"], "must be positive"),
    ("fraction-out-of-range", lambda w: ["train", "--set", "data.valid_fraction=1.5"],
     "fraction in [0, 1)"),
    ("unknown-section", lambda w: ["train", "--set", "trian.lr=1"], "unknown section"),
    ("epochs-not-whole", lambda w: ["train", "--set", "train.epochs=1.5"],
     "train.epochs must be int"),
    ("set-without-equals", lambda w: ["train", "--set", "train.lr"], "section.key=value"),
    ("missing-config", lambda w: ["train", "--config", str(w.scratch / "nope.toml")],
     "does not exist"),
    ("invalid-toml", lambda w: ["train", "--config", w.file("bad.toml")], "not valid TOML"),
    ("unknown-config-key", lambda w: ["train", "--config", w.file("unknown.toml")],
     "unknown key 'train.learning_rate'"),
    ("labels-without-m2", lambda w: ["train", "--labels", "50"], 'use model.kind = "m2"'),
    ("labels-cvae-quadrants", lambda w: ["train", "--model", "cvae-quadrants", "--labels", "50"],
     "the 'cvae-quadrants' model uses none"),
    ("labels-cvae", lambda w: ["train", "--model", "cvae", "--labels", "50"],
     "conditioned on the label of every example"),
    # -- code of the user's own (more in tests/test_user_models.py, tests/test_plugins.py) --
    ("model-file-missing", lambda w: ["train", "--model", f"{w.scratch / 'mine.py'}:Mine"],
     "mine.py does not exist"),
    ("model-class-missing", lambda w: ["train", "--model", "pyrovae.config:DataConfg"],
     "defines no 'DataConfg' (did you mean 'DataConfig'?)"),
    ("model-not-a-model", lambda w: ["train", "--model", "pyrovae.config:DataConfig"],
     "is not a torch.nn.Module"),
    ("import-missing", lambda w: ["evaluate", w.run, "--import", "no_such_module_xyz"],
     "there is no module named 'no_such_module_xyz'"),
    ("m2-meanfield", lambda w: ["train", "--model", "m2", "--objective", "meanfield"],
     "no enumerated form"),
    ("jit-replaced", lambda w: ["train", "--jit"], "replaced by --compile"),
    ("particles-zero", lambda w: ["train", "--set", "train.objective.num_particles=0"],
     "num_particles must be a positive integer"),
    ("unknown-scheduler", lambda w: ["train", "--set", "train.scheduler=\"cosin\""],
     "did you mean 'cosine'"),
    ("milestones-decrease",
     lambda w: ["train", "--set", "train.scheduler={name=\"multistep\", milestones=[5, 3]}"],
     "strictly increasing"),
    ("patience-negative", lambda w: ["train", "--set", "train.early_stopping.patience=-1"],
     "patience must be a whole number"),
    ("early-stopping-typo", lambda w: ["train", "--set", "train.early_stopping={patiense=5}"],
     "must be a table { patience = P }"),
    ("kl-weight-negative", lambda w: ["train", "--set", "model.kl_weight=-0.5"],
     "must be zero or positive"),
    ("m2-option-type", lambda w: ["train", "--model", "m2", "--set", "model.features=0.5"],
     "model.features must be int"),
    ("unknown-model-kind", lambda w: ["train", "--model", "vea"], "did you mean 'vae'"),
    ("unknown-activation", lambda w: ["train", "--set", "model.encoder.activation=\"rellu\""],
     "unknown activation 'rellu'"),
    # -- data --------------------------------------------------------------------------
    ("nan-pixels", lambda w: ["train", "--dataset", w.file("nan.npy")], "NaN/inf values"),
    ("inf-pixels", lambda w: ["train", "--dataset", w.file("inf.npy")], "NaN/inf values"),
    ("grey-beyond-one", lambda w: ["train", "--dataset", w.file("grey2.npy")],
     "needs values in [0, 1]"),
    ("gaussian-accepts-but-beta-refuses",
     lambda w: ["train", "--dataset", w.file("grey2.npy"), "--likelihood", "beta"],
     "outside the support of the 'beta' likelihood"),
    ("bernoulli-on-values-beyond-one",
     lambda w: ["train", "--dataset", w.file("grey2.npy"), "--set", "data.binarize=\"none\""],
     'use model.likelihood = "gaussian"'),
    ("five-d-array", lambda w: ["train", "--dataset", w.file("five_d.npy")],
     "accepted shapes"),
    ("empty-array", lambda w: ["train", "--dataset", w.file("empty.npy")], "too few"),
    ("one-example", lambda w: ["train", "--dataset", w.file("one.npy")], "too few"),
    ("text-array", lambda w: ["train", "--dataset", w.file("text.npy")],
     "data must be numeric"),
    ("missing-data-file", lambda w: ["train", "--dataset", str(w.scratch / "x.npy")],
     "does not exist"),
    ("corrupt-npz", lambda w: ["train", "--dataset", w.file("corrupt.npz")],
     "cannot read"),
    ("huge-label", lambda w: ["train", "--model", "m2", "--dataset", w.file("big_label.npz")],
     "labels go up to 1000000000"),
    ("float-labels", lambda w: ["train", "--dataset", w.file("float_label.npz")],
     "labels must be integers"),
    ("missing-data-dir",
     lambda w: ["train", "--dataset", "mnist", "--data-dir", str(w.scratch / "none")],
     "does not exist"),
    ("too-many-labels", lambda w: ["train", "--model", "m2", "--labels", "5000"],
     "more than the"),
    ("unbalanced-labels", lambda w: ["train", "--model", "m2", "--labels", "55"],
     "cannot be balanced over 10 classes"),
    ("m2-without-labels", lambda w: ["train", "--model", "m2", "--dataset",
                                     w.file("unlabelled.npy")], "needs a labelled data set"),
    # -- the run directory -------------------------------------------------------------
    ("out-is-a-file", lambda w: ["train", "--out", _a_file(w), *TINY], "is a file"),
    ("out-not-empty", lambda w: ["train", "--out", _full_folder(w), *TINY],
     "already exists and is not empty"),
    ("out-name-too-long", lambda w: ["train", "--out", str(w.scratch / LONG), *TINY],
     "name too long"),
    ("out-not-writable", lambda w: ["train", "--out", "/sys/pyrovae-run", *TINY],
     "cannot create run directory /sys/pyrovae-run"),
    ("diverges", lambda w: ["train", "--lr", "1e3", "--out", str(w.scratch / "d"), *TINY],
     "training diverged in epoch 1"),
    ("failed-overwrite-keeps-the-old-run",
     lambda w: ["train", "--lr", "1e3", "--overwrite", "--out", w.run, *TINY],
     "the existing run in"),
    # -- opening a run -----------------------------------------------------------------
    ("run-missing", lambda w: ["evaluate", str(w.scratch / "none")], "does not exist"),
    ("not-a-run", lambda w: ["evaluate", str(w.scratch)], "config.toml is missing"),
    ("corrupt-checkpoint", lambda w: ["evaluate", _corrupt(w, "checkpoint.pt"),
                                      "--checkpoint", "last"], "corrupt"),
    ("corrupt-best", lambda w: ["sample", _corrupt(w, "best.pt")], "best.pt is corrupt"),
    ("checkpoint-missing-event-shape",
     lambda w: ["evaluate", _edit_checkpoint(w, lambda s: s.pop("event_shape")),
                "--checkpoint", "last"], "missing 'event_shape'"),
    ("checkpoint-missing-config",
     lambda w: ["evaluate", _edit_checkpoint(w, lambda s: s.pop("config")),
                "--checkpoint", "last"], "missing 'config'"),
    ("unsafe-checkpoint", lambda w: ["evaluate", _unsafe(w), "--checkpoint", "last"],
     "pickled Python objects"),
    ("config-does-not-match",
     lambda w: ["evaluate", _edit_config(w, "z_dim = 2", "z_dim = 3")], "model.z_dim"),
    ("config-is-a-folder", lambda w: ["evaluate", _config_is_a_folder(w)],
     "cannot read"),
    ("config-not-toml", lambda w: ["evaluate", _edit_config(w, "[model]", "[model")],
     "corrupt"),
    ("config-invalid-value", lambda w: ["sample", _edit_config(w, "z_dim = 2", "z_dim = -2")],
     "not a valid pyrovae config"),
    # -- evaluate, compare, sample, plot ----------------------------------------------
    ("samples-zero", lambda w: ["evaluate", w.run, "--samples", "0"], "positive integer"),
    ("iwae-k-zero", lambda w: ["evaluate", w.run, "--iwae-k", "0"], "positive integer"),
    ("compare-repeats-zero", lambda w: ["compare", w.run, "--repeats", "0"],
     "positive integer"),
    ("compare-one-draw", lambda w: ["compare", w.run, "--draws", "1"], "at least 2"),
    ("compare-negative-examples", lambda w: ["compare", w.run, "--max-examples", "-1"],
     "0 (all) or positive"),
    ("compare-plot-jpg", lambda w: ["compare", w.run, "--plot", "x.jpg"], ".png"),
    ("sample-zero", lambda w: ["sample", w.run, "-n", "0"], "-n must be a positive"),
    ("sample-into-a-folder", lambda w: ["sample", w.run, "-o", str(w.scratch)], ".png"),
    ("sample-missing-folder", lambda w: ["sample", w.run, "-o",
                                         str(w.scratch / "no" / "x.png")], "does not exist"),
    ("sample-name-too-long", lambda w: ["sample", w.run, "-o",
                                        str(w.scratch / (LONG + ".png"))], "name too long"),
    ("sample-not-writable", lambda w: ["sample", w.run, "-o", "/sys/x.png"],
     "cannot write /sys/x.png: Permission denied; check the folder's permissions or choose "
     "another -o"),
    ("sample-onto-a-png-folder", lambda w: ["sample", w.run, "-o", _png_folder(w)],
     "is a folder"),
    ("run-name-with-a-newline", lambda w: ["evaluate", str(w.scratch / "a\nb")],
     "a\\nb does not exist"),
    ("plot-not-a-run", lambda w: ["plot", str(w.scratch)], "config.toml is missing"),
    ("plot-not-png", lambda w: ["plot", w.run, "-o", "curves.txt"], ".png"),
    # -- resume ------------------------------------------------------------------------
    ("resume-missing", lambda w: ["train", "--resume", str(w.scratch / "none")],
     "does not exist"),
    ("resume-with-other-flags", lambda w: ["train", "--resume", w.run, "--lr", "0.1"],
     "drop --lr"),
    ("resume-finished", lambda w: ["train", "--resume", w.run, "--quiet"],
     "it is finished"),
    ("resume-edited-config",
     lambda w: ["train", "--resume", _edit_config(w, "lr = 0.001", "lr = 0.002"),
                "--epochs", "3"], "differs from checkpoint.pt in train.lr"),
    ("resume-other-version",
     lambda w: ["train", "--resume", _edit_checkpoint(w, lambda s: s.update(pyrovae="0.0.1")),
                "--epochs", "3"], "written by pyrovae 0.0.1"),
    # -- sizes beyond this machine, counts beyond reason (issue 22) -----------------------
    ("z-dim-beyond-memory", lambda w: ["train", "--z-dim", "99999999999"],
     "model.z_dim = 99999999999 would need"),
    ("hidden-beyond-memory", lambda w: ["train", "--set", "model.encoder.hidden=[10000000000]"],
     "model.encoder.hidden = [10000000000] would need"),
    ("particles-beyond-memory",
     lambda w: ["train", "--set", "train.objective.num_particles=100000000000"],
     "train.objective.num_particles = 100000000000 would need"),
    ("eval-samples-beyond-memory", lambda w: ["train", "--set", "train.eval_samples=10000000000"],
     "train.eval_samples = 10000000000 would need"),
    ("hvae-latent-beyond-memory",
     lambda w: ["train", "--model", "hvae", "--set", "model.z1_dim=1000000000"],
     "model.z1_dim = 1000000000 would need"),
    ("m2-features-beyond-memory",
     lambda w: ["train", "--model", "m2", "--set", "model.features=10000000000"],
     "model.features = 10000000000 would need"),
    ("conv-channels-beyond-memory",
     lambda w: ["train", "--set", "model.encoder={name=\"conv\", channels=[100000000]}"],
     "model.encoder.channels = [100000000] would need"),
    ("z-dim-overflow", lambda w: ["train", "--set", "model.z_dim=99999999999999999999999"],
     "model.z_dim = 99999999999999999999999 is beyond the largest integer"),
    ("epochs-overflow", lambda w: ["train", "--set", "train.epochs=100000000000000000000000"],
     "train.epochs = 100000000000000000000000 is beyond the largest integer"),
    ("hidden-overflow",
     lambda w: ["train", "--set", "model.decoder.hidden=[99999999999999999999]"],
     "model.decoder.hidden[0] = 99999999999999999999 is beyond"),
    ("batch-size-overflow", lambda w: ["train", "--batch-size", "99999999999999999999"],
     "train.batch_size = 99999999999999999999 is beyond"),
    ("labels-overflow", lambda w: ["train", "--model", "m2", "--labels", "99999999999999999999"],
     "data.labels = 99999999999999999999 is beyond"),
    ("final-iwae-k-absurd", lambda w: ["train", "--set", "train.final_iwae_k=100000000"],
     "K must be in [0, 1000000]"),
    ("evaluate-samples-beyond-memory",
     lambda w: ["evaluate", w.run, "--samples", "100000000000"],
     "--samples 100000000000 (359 examples at a time) would need"),
    ("evaluate-iwae-k-absurd", lambda w: ["evaluate", w.run, "--iwae-k", "100000000000"],
     "--iwae-k 100000000000 is more than 1000000"),
    ("sample-n-beyond-memory", lambda w: ["sample", w.run, "-n", "10000000000"],
     "-n 10000000000 would need"),
    ("compare-draws-absurd", lambda w: ["compare", w.run, "--draws", "1000000000"],
     "--draws 1000000000 is more than 10000"),
    ("compare-repeats-absurd", lambda w: ["compare", w.run, "--repeats", "1000000"],
     "--repeats 1000000 is more than 100"),
    ("evaluate-samples-negative", lambda w: ["evaluate", w.run, "--samples", "-5"],
     "--samples must be a positive integer"),
    ("evaluate-iwae-k-negative", lambda w: ["evaluate", w.run, "--iwae-k", "-1"],
     "--iwae-k must be a positive integer"),
    ("sample-n-negative", lambda w: ["sample", w.run, "-n", "-3"], "-n must be a positive"),
    ("compare-draws-negative", lambda w: ["compare", w.run, "--draws", "-2"],
     "--draws must be a positive integer"),
    ("sample-class-negative", lambda w: ["sample", w.m2, "--class", "-1"],
     "--class -1 is not a class of this model"),
    ("sample-class-huge", lambda w: ["sample", w.m2, "--class", "99999999999"],
     "is not a class of this model"),
    ("sample-class-of-a-vae", lambda w: ["sample", w.run, "--class", "0"],
     "--class needs a model of labelled data"),
    ("sample-n-not-whole", lambda w: ["sample", w.run, "-n", "1.5"], "invalid int value: '1.5'"),
    ("compare-draws-not-whole", lambda w: ["compare", w.run, "--draws", "2.5"],
     "invalid int value: '2.5'"),
    ("evaluate-samples-missing-value", lambda w: ["evaluate", w.run, "--samples"],
     "expected one argument"),
    # -- networks, optimizers, schedules out of range ---------------------------------
    ("conv-channels-empty",
     lambda w: ["train", "--set", "model.encoder={name=\"conv\", channels=[]}"],
     "model.encoder.channels is empty"),
    ("sgd-momentum-negative",
     lambda w: ["train", "--set", "train.optimizer={name=\"sgd\", momentum=-1}"],
     "momentum must be a number in [0, 1), got -1"),
    ("sgd-momentum-one",
     lambda w: ["train", "--set", "train.optimizer={name=\"sgd\", momentum=1}"],
     "momentum must be a number in [0, 1)"),
    ("sgd-nesterov-without-momentum",
     lambda w: ["train", "--set", "train.optimizer={name=\"sgd\", nesterov=true}"],
     "nesterov = true needs a momentum > 0"),
    ("sgd-nesterov-not-a-bool",
     lambda w: ["train", "--set", "train.optimizer={name=\"sgd\", momentum=0.9, nesterov=2}"],
     "nesterov must be true or false"),
    ("adam-beta-one",
     lambda w: ["train", "--set", "train.optimizer={name=\"adam\", betas=[0.9, 1.0]}"],
     "betas must be a pair of numbers in [0, 1)"),
    ("adam-betas-a-number",
     lambda w: ["train", "--set", "train.optimizer={name=\"adam\", betas=0.9}"],
     "betas must be a pair"),
    ("adam-eps-zero", lambda w: ["train", "--set", "train.optimizer={name=\"adam\", eps=0}"],
     "eps must be a number > 0"),
    ("adamw-weight-decay-negative",
     lambda w: ["train", "--set", "train.optimizer={name=\"adamw\", weight_decay=-0.1}"],
     "weight_decay must be a number"),
    ("rmsprop-alpha-two",
     lambda w: ["train", "--set", "train.optimizer={name=\"rmsprop\", alpha=2}"],
     "alpha must be a number in [0, 1)"),
    ("adam-fused-a-number",
     lambda w: ["train", "--set", "train.optimizer={name=\"adam\", fused=3}"],
     "fused must be true or false"),
    ("optimizer-typo", lambda w: ["train", "--set", "train.optimizer=\"adma\""],
     "did you mean 'adam'"),
    ("optimizer-lr-option",
     lambda w: ["train", "--set", "train.optimizer={name=\"sgd\", lr=1}"],
     "optimizer 'sgd' has no option 'lr'"),
    ("optimizer-eps-nan",
     lambda w: ["train", "--set", "train.optimizer={name=\"adam\", eps=nan}"],
     "train.optimizer.eps must be a finite number"),
    ("step-gamma-two",
     lambda w: ["train", "--set", "train.scheduler={name=\"step\", step_size=1, gamma=2}"],
     "gamma must be a number in (0, 1]"),
    ("step-size-zero",
     lambda w: ["train", "--set", "train.scheduler={name=\"step\", step_size=0}"],
     "step_size must be an integer"),
    ("cosine-without-t-max", lambda w: ["train", "--set", "train.scheduler=\"cosine\""],
     "needs the option 't_max'"),
    ("cosine-eta-min-negative",
     lambda w: ["train", "--set", "train.scheduler={name=\"cosine\", t_max=5, eta_min=-1}"],
     "eta_min must be a number"),
    ("plateau-factor-one",
     lambda w: ["train", "--set", "train.scheduler={name=\"plateau\", factor=1}"],
     "factor must be a number in (0, 1)"),
    ("plateau-patience-negative",
     lambda w: ["train", "--set", "train.scheduler={name=\"plateau\", patience=-1}"],
     "patience must be an integer"),
    ("exponential-gamma-zero",
     lambda w: ["train", "--set", "train.scheduler={name=\"exponential\", gamma=0}"],
     "gamma must be a number in (0, 1]"),
    ("multistep-milestones-a-number",
     lambda w: ["train", "--set", "train.scheduler={name=\"multistep\", milestones=5}"],
     "milestones must be a list of epochs"),
    # -- overrides and types -------------------------------------------------------------
    ("set-a-section", lambda w: ["train", "--set", "train=1"],
     "train is a section, not a key; name one of its keys, train.KEY=VALUE"),
    ("set-the-model-section", lambda w: ["train", "--set", "model=5"],
     "or an option of the model kind"),
    ("set-empty-section", lambda w: ["train", "--set", ".x=1"], "has an empty name"),
    ("set-empty-key", lambda w: ["train", "--set", "train.=1"], "has an empty name"),
    ("set-nothing-before-equals", lambda w: ["train", "--set", "=1"], "has an empty name"),
    ("set-unknown-section-three-parts", lambda w: ["train", "--set", "a.b.c=1"],
     "unknown section 'a'"),
    ("set-too-many-dots", lambda w: ["train", "--set", "train.objective.num_particles.x=1"],
     "too many dots"),
    ("set-into-a-number", lambda w: ["train", "--set", "train.lr.x=1"],
     "train.lr is not a component"),
    ("list-where-an-int-goes", lambda w: ["train", "--set", "model.z_dim=[2]"],
     "model.z_dim must be int"),
    ("bool-where-an-int-goes", lambda w: ["train", "--set", "model.z_dim=true"],
     "model.z_dim must be int"),
    ("int-where-a-bool-goes", lambda w: ["train", "--set", "train.compile=1"],
     "train.compile must be bool"),
    ("text-where-a-float-goes", lambda w: ["train", "--set", "train.lr=\"fast\""],
     "train.lr must be float"),
    ("bool-where-a-size-goes", lambda w: ["train", "--set", "model.encoder.hidden=[true]"],
     "hidden sizes must be positive integers"),
    ("lr-nan", lambda w: ["train", "--set", "train.lr=nan"], "train.lr must be a finite number"),
    ("likelihood-scale-inf",
     lambda w: ["train", "--set", "model.likelihood={name=\"gaussian\", scale=inf}"],
     "model.likelihood.scale must be a finite number"),
    ("patience-a-bool", lambda w: ["train", "--set", "train.early_stopping.patience=true"],
     "patience must be a whole number"),
    ("imports-not-a-list", lambda w: ["train", "--set", "plugins.imports=\"x\""],
     "plugins.imports must be a list"),
    ("toml-duplicate-key",
     lambda w: ["train", "--config", _toml(w, "[train]\nlr = 0.1\nlr = 0.2\n")],
     "not valid TOML"),
    ("toml-negative-seed", lambda w: ["train", "--config", _toml(w, "[train]\nseed = -1\n")],
     "train.seed = -1"),
    ("toml-section-not-a-table", lambda w: ["train", "--config", _toml(w, "train = 1\n")],
     "[train] must be a table"),
    ("toml-unknown-section", lambda w: ["train", "--config", _toml(w, "[trian]\nlr = 1\n")],
     "unknown section [trian] (did you mean 'train'?)"),
    ("toml-z-dim-overflow",
     lambda w: ["train", "--config", _toml(w, "[model]\nz_dim = 99999999999999999999999\n")],
     "is beyond the largest integer"),
    ("toml-hidden-a-list-of-lists",
     lambda w: ["train", "--config", _toml(w, "[model]\nencoder = { name = \"mlp\", "
                                              "hidden = [[8]] }\n")],
     "hidden sizes must be positive integers"),
    # -- names that do not exist ---------------------------------------------------------
    ("unknown-recipe", lambda w: ["train", "--recipe", "vae-statik"],
     "did you mean 'vae-static'"),
    ("unknown-likelihood", lambda w: ["train", "--likelihood", "bernouli"],
     "did you mean 'bernoulli'"),
    ("unknown-guide", lambda w: ["train", "--guide", "diag-norml"],
     "did you mean 'diag-normal'"),
    ("unknown-objective", lambda w: ["train", "--objective", "iwea"], "did you mean 'iwae'"),
    ("unknown-dataset", lambda w: ["train", "--dataset", "mnits"], "did you mean 'mnist'"),
    ("list-unknown-section", lambda w: ["list", "prior"], "did you mean 'priors'"),
    ("compile-and-no-compile", lambda w: ["train", "--compile", "--no-compile"],
     "not allowed with argument"),
    ("resume-with-set", lambda w: ["train", "--resume", w.run, "--set", "train.lr=1"],
     "drop --set train.lr=1"),
    ("resume-threads-not-a-number",
     lambda w: ["train", "--resume", w.run, "--set", "train.num_threads=many"],
     "give a whole number of threads"),
    # -- names that are not UTF-8 --------------------------------------------------------
    ("out-not-utf8", lambda w: ["train", "--out", _not_utf8(w)],
     "\\xff: the name is not valid UTF-8"),
    ("dataset-not-utf8", lambda w: ["train", "--dataset", _not_utf8(w, "d\xff.npy")],
     "--dataset"),
    ("data-dir-not-utf8", lambda w: ["train", "--data-dir", _not_utf8(w)], "--data-dir"),
    ("config-not-utf8", lambda w: ["train", "--config", _not_utf8(w, "c\xff.toml")],
     "is not valid UTF-8"),
    ("set-value-not-utf8",
     lambda w: ["train", "--set", f"output.dir=\"{_not_utf8(w)}\""],
     "the value is not valid UTF-8"),
    ("evaluate-run-not-utf8", lambda w: ["evaluate", _not_utf8(w)], "RUN_DIR"),
    ("evaluate-data-dir-not-utf8", lambda w: ["evaluate", w.run, "--data-dir", _not_utf8(w)],
     "is not valid UTF-8"),
    ("resume-not-utf8", lambda w: ["train", "--resume", _not_utf8(w)], "--resume"),
    ("sample-output-not-utf8", lambda w: ["sample", w.run, "-o", _not_utf8(w, "s\xff.png")],
     "--output"),
    ("plot-output-not-utf8", lambda w: ["plot", w.run, "-o", _not_utf8(w, "p\xff.png")],
     "is not valid UTF-8"),
    ("compare-plot-not-utf8",
     lambda w: ["compare", w.run, "--plot", _not_utf8(w, "c\xff.png")], "--plot"),
    ("import-not-utf8", lambda w: ["list", "--import", _not_utf8(w, "m\xff.py")], "--import"),
    # -- metrics.csv that is not what pyrovae wrote --------------------------------------
    ("plot-metrics-random-bytes",
     lambda w: ["plot", _metrics(w, bytes(range(256)) * 4), "-o", str(w.scratch / "c.png")],
     "metrics.csv is corrupt: byte"),
    ("plot-metrics-bad-header",
     lambda w: ["plot", _metrics(w, b"epch,loss\n1,2\n"), "-o", str(w.scratch / "c.png")],
     "its header has no 'epoch' column"),
    ("plot-metrics-repeated-column",
     lambda w: ["plot", _metrics(w, b"epoch,lr,lr\n1,2,3\n"), "-o", str(w.scratch / "c.png")],
     "a repeated column name"),
    ("plot-metrics-truncated",
     lambda w: ["plot", _metrics(w, GOOD_METRICS_HEADER + b"1,44.7,1.0,0.001,0.04\n2,43.1"),
                "-o", str(w.scratch / "c.png")],
     "row 3 has 2 values for 5 columns"),
    ("plot-metrics-latin-1",
     lambda w: ["plot", _metrics(w, "epoch,train_loss\n1,é\n".encode("latin-1")),
                "-o", str(w.scratch / "c.png")],
     "is not UTF-8 text"),
    ("plot-metrics-text-in-numbers",
     lambda w: ["plot", _metrics(w, b"epoch,train_loss\n1,lots\n"),
                "-o", str(w.scratch / "c.png")],
     "'lots' in the column train_loss"),
    ("plot-metrics-epochs-backwards",
     lambda w: ["plot", _metrics(w, b"epoch,train_loss\n2,1.0\n1,2.0\n"),
                "-o", str(w.scratch / "c.png")],
     "row 3 has epoch '1', not a whole number above 2"),
    ("resume-metrics-random-bytes",
     lambda w: ["train", "--resume", _metrics(w, bytes(range(128, 256)), unfinished=True),
                "--epochs", "2", "--quiet"],
     "metrics.csv is corrupt"),
    # -- every numeric flag, and the config keys behind them, at their extremes -----------
    ("epochs-flag-overflow", lambda w: ["train", "--epochs", "99999999999999999999"],
     "train.epochs = 99999999999999999999 is beyond the largest integer"),
    ("lr-flag-overflows-to-inf", lambda w: ["train", "--lr", "1e400"],
     "train.lr must be a finite number, got inf"),
    ("evaluate-seed-overflow", lambda w: ["evaluate", w.run, "--seed", "99999999999999999999"],
     "not a seed in [0, 4294967295]"),
    ("warmup-overflow", lambda w: ["train", "--set", "model.kl_warmup_epochs=99999999999999999999"],
     "model.kl_warmup_epochs = 99999999999999999999 is beyond"),
    ("num-particles-a-bool", lambda w: ["train", "--set", "train.objective.num_particles=true"],
     "num_particles must be a positive integer, got True"),
    ("threads-negative", lambda w: ["train", "--set", "train.num_threads=-1"],
     "train.num_threads must be zero or positive"),
    ("eval-batch-size-zero", lambda w: ["train", "--set", "train.eval_batch_size=0"],
     "train.eval_batch_size must be positive"),
    ("conv-kernel-zero",
     lambda w: ["train", "--set", "model.encoder={name=\"conv\", kernel_size=0}"],
     "kernel_size must be a positive odd integer"),
    ("callback-unknown", lambda w: ["train", "--set", "train.callbacks=[\"nope\"]"],
     "unknown callback 'nope'"),
    ("callbacks-not-a-list", lambda w: ["train", "--set", "train.callbacks=\"mlflow\""],
     "train.callbacks must be a list"),
    ("device-empty", lambda w: ["train", "--device", ""], "unknown device ''"),
    # -- flags that do not go together ---------------------------------------------------
    ("resume-with-overwrite", lambda w: ["train", "--resume", w.run, "--overwrite"],
     "drop --overwrite"),
    ("resume-with-compile", lambda w: ["train", "--resume", w.run, "--no-compile"],
     "drop --no-compile"),
    ("recipe-and-config",
     lambda w: ["train", "--recipe", "vae-static", "--config", w.file("unknown.toml")],
     "not allowed with argument"),
    ("compare-plot-onto-a-png-folder", lambda w: ["compare", w.run, "--plot", _png_folder(w)],
     "is a folder"),
]


@pytest.mark.parametrize("argv, fragment", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_input_is_one_clear_line(world, tmp_path, capsys, argv, fragment):
    world.scratch = tmp_path
    args = argv(world)
    before = world.protected()
    capsys.readouterr()
    assert main(args) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("pyrovae: error: "), err
    assert "\n" not in err, err
    assert "Traceback" not in captured.err + captured.out
    assert fragment in err, err
    assert world.protected() == before  # nothing already written was damaged


def test_the_catalogue_is_large_and_its_ids_unique():
    ids = [case[0] for case in CASES]
    assert len(ids) >= 200 and len(set(ids)) == len(ids)


def test_an_unreadable_run_config_is_one_line(world, monkeypatch, one_line):
    """Root reads through chmod 000, so the permission error is raised by ``open`` itself."""
    import builtins
    from pathlib import Path

    real_open, real_path_open = builtins.open, Path.open

    def denied(file, *args, **kwargs):
        if str(file).endswith("config.toml"):
            raise PermissionError(13, "Permission denied", str(file))
        return (real_path_open if isinstance(file, Path) else real_open)(file, *args, **kwargs)

    before = world.protected()
    monkeypatch.setattr(builtins, "open", denied)
    monkeypatch.setattr(Path, "open", denied)
    for command in ("evaluate", "sample"):
        one_line(main([command, world.run]), "cannot read", "config.toml",
                 "Permission denied")
    monkeypatch.undo()
    assert world.protected() == before


def test_an_os_error_no_command_caught_is_still_one_line(monkeypatch, one_line):
    import pyrovae.cli as cli

    def broken(args):
        raise PermissionError(13, "Permission denied", "/somewhere/file")

    monkeypatch.setitem(cli.COMMANDS, "list", broken)
    one_line(main(["list"]), "pyrovae list failed: Permission denied: /somewhere/file")


def test_offline_download_is_one_line_saying_where_it_looked(tmp_path, monkeypatch, capsys):
    """torchvision prints a line per mirror and raises a message of several lines; the user
    gets one line naming the cache folder and data.dir."""
    import torchvision

    def offline(root, download):
        print("Downloading http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz")
        print("Failed to download (trying next):\n<urlopen error [Errno -3]>")
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried mirror1,\n"
                           "mirror2")

    monkeypatch.setenv("PYROVAE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    code = main(["train", "--dataset", "mnist", "--quiet", "--out", str(tmp_path / "never")])
    captured = capsys.readouterr()
    assert code == 2 and not captured.out, captured.out  # torchvision's chatter is not shown
    err = captured.err
    assert err.startswith("pyrovae: error: ") and err.count("\n") == 1, err
    assert "\\n" not in err, err  # its message of several lines is joined, not escaped
    assert str(tmp_path / "cache") in err and "set data.dir to" in err, err
    assert not (tmp_path / "never").exists()


def test_array_file_names_in_any_case(tmp_path, capsys):
    """``D.NPZ`` is an array file like ``d.npz``, not an unknown data set name."""
    path = tmp_path / "D.NPZ"
    with open(path, "wb") as f:  # np.savez would append .npz to a name not ending in it
        np.savez(f, x=np.random.default_rng(0).random((40, 4, 4)).astype(np.float32))
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(path), "--epochs", "1", "--out", str(out),
                 *TINY]) == 0, capsys.readouterr().err
    assert (out / "checkpoint.pt").is_file()


def test_help_still_prints_usage_and_exits_0(capsys):
    for argv in (["--help"], ["train", "--help"], ["sample", "-h"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
        captured = capsys.readouterr()
        assert captured.out.startswith("usage: pyrovae") and not captured.err
