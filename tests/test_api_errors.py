"""The Python catalogue: bad calls of the Python API, each answered by one of pyrovae's typed
errors in one line, in the caller's terms, with nothing written.

The command line has its own catalogue (tests/test_cli_errors.py). Here every case is
``(id, call, error type, fragment)``: ``call(c)`` makes the bad call on the objects of the
module's fixture ``c`` (a small VAE and M2 on the digits, a trainer, a run trained by
``pyrovae train`` and read back with ``pv.load_run``), and must raise ``error type`` (a
:class:`~pyrovae.errors.PyroVAEError` subclass, never torch's, Pyro's or NumPy's own) whose
message holds ``fragment`` and is one line; the run's files are byte-identical afterwards.

The examples of issue 22 come first, then what a hostile user tries next.
"""

import importlib
import inspect
import math
import types
import warnings

import numpy as np
import pytest
import torch

import pyrovae as pv
from pyrovae import checks, cli
from pyrovae.callbacks import Callback
from pyrovae.data.base import DataSet, Split
from pyrovae.errors import CallbackError, ConfigError, DataError, PyroVAEError
from pyrovae.infer.traces import ProgramError
from pyrovae.models import ADGM, CVAE, HVAE, M2, VAE, CVAEQuadrants
from pyrovae.plugins import PluginError

SHAPE = (1, 8, 8)
SMALL = {"encoder": {"name": "mlp", "hidden": [8]}, "decoder": {"name": "mlp", "hidden": [8]}}


def _snapshot(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def c(tmp_path_factory):
    """The objects the bad calls are made on, and a run whose files must not change."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("api-errors")
    run_dir = root / "run"
    code = cli.main(["train", "--epochs", "1", "--out", str(run_dir), "--z-dim", "2", "--quiet",
                     "--set", "model.encoder.hidden=[8]", "--set", "model.decoder.hidden=[8]"])
    assert code in (0, None)
    run = pv.load_run(run_dir)
    data = pv.load_dataset("digits", binarize="dynamic")
    vae = VAE.build(SHAPE, z_dim=2, **SMALL)
    m2 = M2.build(SHAPE, 10, z_dim=2, **SMALL)
    x = data.test.x[:16]
    grey = data.train.x[:60] * 254  # values 0 … 254
    wrong = DataSet("small", Split(data.train.x[:40, :, :4]), Split(data.valid.x[:20, :, :4]),
                    Split(data.test.x[:20, :, :4]), (1, 4, 8))
    levels = DataSet("levels", Split(grey[:40]), Split(grey[40:50]), Split(grey[50:60]), SHAPE)
    nan = data.train.x[:60].clone()
    nan[3, 0, 2, 2] = math.nan
    with_nan = DataSet("nan", Split(nan[:40]), Split(nan[40:50]), Split(nan[50:]), SHAPE)
    doubles = DataSet("doubles", Split(data.train.x[:40].double()),
                      Split(data.valid.x[:10].double()), Split(data.test.x[:10].double()), SHAPE)
    y = data.train.y[:60].clone()
    y[0] = 10
    bad_labels = DataSet("labels", Split(data.train.x[:40], y[:40]),
                         Split(data.valid.x[:10], data.valid.y[:10]),
                         Split(data.test.x[:10], data.test.y[:10]), SHAPE, num_classes=10)
    empty_valid = DataSet("empty", Split(data.train.x[:40]), Split(data.valid.x[:0]),
                          Split(data.test.x[:10]), SHAPE)
    snapshot = _snapshot(run_dir)
    yield types.SimpleNamespace(
        run=run, run_dir=run_dir, data=data, vae=vae, m2=m2, x=x, wrong=wrong, levels=levels,
        with_nan=with_nan, doubles=doubles, bad_labels=bad_labels, empty_valid=empty_valid,
        trainer=pv.Trainer(vae, progress=False), snapshot=snapshot,
        objective=pv.Trainer(vae, progress=False).objective,
    )
    assert _snapshot(run_dir) == snapshot


def build(**options):
    return VAE.build(SHAPE, **{**SMALL, **options})


def fit(c, *args, **kwargs):
    return pv.Trainer(c.vae, progress=False).fit(*args, **kwargs)


class _Raising(Callback):
    def on_fit_start(self, fit):
        raise RuntimeError("no")


class _NotACallback:
    def on_epoch_end(self, fit):
        pass


CASES = [
    # -- the examples of issue 22 ------------------------------------------------------------
    ("build-z-dim-negative", lambda c: build(z_dim=-1), ConfigError,
     "VAE.build: z_dim must be a positive int, got -1"),
    ("build-z-dim-float", lambda c: build(z_dim=2.5), ConfigError,
     "z_dim must be a positive int, got 2.5"),
    ("build-z-dim-str", lambda c: build(z_dim="16"), ConfigError, "got '16' (str)"),
    ("build-z-dim-zero", lambda c: build(z_dim=0), ConfigError,
     "z_dim must be a positive int, got 0"),
    ("build-event-shape-int", lambda c: VAE.build(64), ConfigError, "write (64,)"),
    ("build-event-shape-zero", lambda c: VAE.build((1, 0, 8)), ConfigError,
     "event_shape must be a tuple of positive ints, got (1, 0, 8)"),
    ("build-prior-int", lambda c: build(prior=5), ConfigError,
     "prior must be the name of a registered prior"),
    ("build-decoder-wrong-shape",
     lambda c: build(z_dim=2, decoder=pv.nets.MLPDecoder(2, (1, 10), hidden=[8])), ConfigError,
     "the decoder returns (1, 1, 10)"),
    ("evaluate-numpy", lambda c: c.vae.evaluate(c.x.numpy()), DataError,
     "x must be a torch.Tensor, got numpy.ndarray; convert it with "
     "torch.as_tensor(x, dtype=torch.float32)"),
    ("evaluate-list", lambda c: c.vae.evaluate(c.x.tolist()), DataError, "got list; convert it"),
    ("evaluate-float64", lambda c: c.vae.evaluate(c.x.double()), DataError, "got float64"),
    ("evaluate-int64", lambda c: c.vae.evaluate(c.x.long()), DataError, "got int64"),
    ("evaluate-empty", lambda c: c.vae.evaluate(c.x[:0]), DataError, "x is empty"),
    ("evaluate-nan", lambda c: c.vae.evaluate(torch.full((4, *SHAPE), math.nan)), DataError,
     "256 NaN or infinite values"),
    ("evaluate-num-samples-zero", lambda c: c.vae.evaluate(c.x, num_samples=0), ConfigError,
     "num_samples must be a positive int, got 0"),
    ("evaluate-batch-size-zero", lambda c: c.vae.evaluate(c.x, batch_size=0), ConfigError,
     "batch_size must be a positive int, got 0"),
    ("evaluate-outside-support", lambda c: c.vae.evaluate(torch.full((4, *SHAPE), 2.0)), DataError,
     "outside the support of the 'bernoulli' likelihood"),
    ("sample-negative", lambda c: c.vae.sample(-1), ConfigError,
     "VAE.sample: n must be a positive int, got -1"),
    ("trainer-lr-str", lambda c: pv.Trainer(c.vae, lr="fast"), ConfigError,
     "Trainer: lr must be a number, got 'fast' (str)"),
    ("trainer-kl-weight-negative", lambda c: pv.Trainer(c.vae, kl_weight=-1), ConfigError,
     "kl_weight must be a number ≥ 0, got -1"),
    ("fit-other-shape", lambda c: fit(c, c.wrong, epochs=1), DataError,
     "dataset.train.x must have shape (N, *(1, 8, 8))"),
    ("trainer-eval-every-zero", lambda c: pv.Trainer(c.vae, eval_every=0), ConfigError,
     "eval_every must be a positive int, got 0"),
    ("fit-epochs-str", lambda c: fit(c, c.data, epochs="2"), ConfigError,
     "Trainer.fit: epochs must be an int ≥ 0, got '2' (str)"),
    ("train-dict", lambda c: pv.train({"train": {"epochs": 1}}), ConfigError,
     "pyrovae.train: config must be a pyrovae Config, got dict"),
    ("load-dataset-split-seed-negative", lambda c: pv.load_dataset("digits", split_seed=-1),
     ConfigError, "split_seed must be an int ≥ 0, got -1"),
    ("trainer-patience-negative", lambda c: pv.Trainer(c.vae, patience=-1), ConfigError,
     "patience must be an int ≥ 0, got -1"),
    ("fit-seed-negative", lambda c: fit(c, c.data, epochs=1, seed=-1), ConfigError,
     "seed must be an int ≥ 0, got -1"),
    ("fit-bernoulli-on-grey-levels-0-254", lambda c: fit(c, c.levels, epochs=1), DataError,
     "outside the support of the 'bernoulli' likelihood"),
    # -- build: what comes next ---------------------------------------------------------------
    ("build-z-dim-bool", lambda c: build(z_dim=True), ConfigError, "got True (bool)"),
    ("build-z-dim-none", lambda c: build(z_dim=None), ConfigError, "got None (NoneType)"),
    ("build-z-dim-huge", lambda c: build(z_dim=99999999999), ConfigError,
     "z_dim = 99999999999 would need"),
    ("build-z-dim-overflow", lambda c: build(z_dim=99999999999999999999999), ConfigError,
     "would need"),
    ("build-z-dim-numpy-float", lambda c: build(z_dim=np.float64(4)), ConfigError,
     "z_dim must be a positive int"),
    ("build-event-shape-empty", lambda c: VAE.build(()), ConfigError, "at least one dimension"),
    ("build-event-shape-str", lambda c: VAE.build("abc"), ConfigError,
     "event_shape must be a tuple of positive ints"),
    ("build-event-shape-float", lambda c: VAE.build((1, 8.0, 8)), ConfigError,
     "got (1, 8.0, 8)"),
    ("build-event-shape-negative", lambda c: VAE.build((1, -8, 8)), ConfigError,
     "positive ints"),
    ("build-event-shape-bool", lambda c: VAE.build((True, 8, 8)), ConfigError, "positive ints"),
    ("build-event-shape-huge", lambda c: VAE.build((10**7, 10**7)), ConfigError,
     "examples of shape (10000000, 10000000) would need"),
    ("build-event-shape-missing", lambda c: VAE.build(z_dim=2), ConfigError,
     "missing a required argument: 'event_shape'"),
    ("build-keyword-typo", lambda c: build(zdim=2), ConfigError, "did you mean 'z_dim'?"),
    ("build-prior-object", lambda c: build(prior=object()), ConfigError, "got <object"),
    ("build-prior-not-a-prior", lambda c: build(z_dim=2, prior=torch.nn.Linear(2, 2)),
     ProgramError, "fails on one example"),
    ("build-prior-wrong-z", lambda c: build(z_dim=2, prior=pv.priors.NormalPrior(3)),
     ConfigError, "the prior gives (3,)"),
    ("build-prior-unknown", lambda c: build(prior="nrmal"), ConfigError,
     "unknown prior 'nrmal' (did you mean 'normal'?)"),
    ("build-prior-table-without-name", lambda c: build(prior={"nmae": "normal"}), ConfigError,
     "the prior table needs a 'name' key"),
    ("build-prior-option-typo", lambda c: build(prior={"name": "mixture", "component": 3}),
     ConfigError, "has no option 'component'"),
    ("build-mixture-zero-components", lambda c: build(prior={"name": "mixture", "components": 0}),
     ConfigError, "components must be a positive integer"),
    ("build-likelihood-float", lambda c: build(likelihood=3.0), ConfigError,
     "likelihood must be the name of a registered likelihood"),
    ("build-guide-list", lambda c: build(guide=[]), ConfigError, "guide must be"),
    ("build-encoder-wrong-features",
     lambda c: build(z_dim=2, encoder=pv.nets.MLPEncoder(SHAPE, 3, hidden=[8])), ConfigError,
     "the encoder returns (1, 3)"),
    ("build-hidden-huge", lambda c: build(encoder={"name": "mlp", "hidden": [10**11]}),
     ConfigError, "would need"),
    ("build-hidden-wide-layers", lambda c: build(decoder={"name": "mlp", "hidden": [10**9]}),
     ConfigError, "the parameters of this model would need"),
    ("build-hidden-negative", lambda c: build(encoder={"name": "mlp", "hidden": [-1]}),
     ConfigError, "encoder['hidden'][0] must be a positive int, got -1"),
    ("net-hidden-a-string", lambda c: pv.nets.MLPEncoder(SHAPE, 4, hidden="wide"),
     ConfigError, "hidden sizes must be a list of positive integers such as [400], got 'wide'"),
    ("net-conv-no-channels", lambda c: pv.nets.ConvEncoder(SHAPE, 4, channels=[]),
     ConfigError, "channels must list at least one convolution's channel count"),
    ("build-activation-unknown", lambda c: build(encoder={"name": "mlp", "activation": "relux"}),
     ConfigError, "relux"),
    ("hvae-z1-zero", lambda c: HVAE.build(SHAPE, z1_dim=0), ConfigError, "z1_dim"),
    ("hvae-z2-float", lambda c: HVAE.build(SHAPE, z2_dim=1.5), ConfigError, "z2_dim"),
    ("m2-no-labels", lambda c: M2.build(SHAPE, None), DataError, "needs a labelled data set"),
    ("m2-num-classes-zero", lambda c: M2.build(SHAPE, 0), ConfigError,
     "num_classes must be a positive int, got 0"),
    ("m2-label-prior-not-summing", lambda c: M2.build(SHAPE, 2, label_prior=[0.5, 0.6]),
     ConfigError, "label_prior must be \"uniform\" or a list of positive class probabilities"),
    ("m2-label-prior-wrong-count", lambda c: M2.build(SHAPE, 3, label_prior=[0.5, 0.5]),
     DataError, "has 2 probabilities but the data have 3 classes"),
    ("m2-alpha-negative", lambda c: M2.build(SHAPE, 10, alpha=-1.0), ConfigError,
     "alpha must be a number ≥ 0"),
    ("m2-features-str", lambda c: M2.build(SHAPE, 10, features="128"), ConfigError,
     "features must be a positive int"),
    ("m2-activation-int", lambda c: M2.build(SHAPE, 10, activation=3), ConfigError,
     "activation must be a str"),
    ("cvae-class-prior-str", lambda c: CVAE.build(SHAPE, 10, class_prior="yes"), ConfigError,
     "class_prior must be True or False"),
    ("adgm-hidden-str", lambda c: ADGM.build(SHAPE, 10, hidden="128"), ConfigError,
     "hidden must be a list of positive ints"),
    ("adgm-classify-samples-zero", lambda c: ADGM.build(SHAPE, 10, classify_samples=0),
     ConfigError, "classify_samples"),
    ("cvae-quadrants-observed-five", lambda c: CVAEQuadrants.build(SHAPE, observed=5),
     ConfigError, "observed"),
    # -- evaluate, sample, reconstruct, classify, loss ---------------------------------------
    ("evaluate-inf", lambda c: c.vae.evaluate(torch.full((2, *SHAPE), math.inf)), DataError,
     "NaN or infinite"),
    ("evaluate-negative-values", lambda c: c.vae.evaluate(torch.full((2, *SHAPE), -0.5)),
     DataError, "outside the support"),
    ("evaluate-flat", lambda c: c.vae.evaluate(c.x.reshape(16, 64)), DataError,
     "x must have shape (N, *(1, 8, 8))"),
    ("evaluate-one-example", lambda c: c.vae.evaluate(c.x[0]), DataError,
     "has the shape of one example"),
    ("evaluate-bool", lambda c: c.vae.evaluate(c.x.bool()), DataError, "got bool"),
    ("evaluate-float16", lambda c: c.vae.evaluate(c.x.half()), DataError, "got float16"),
    ("evaluate-wrong-device", lambda c: c.vae.evaluate(c.x.to("meta")), DataError,
     "x is on meta but the model on cpu"),
    ("evaluate-num-samples-float", lambda c: c.vae.evaluate(c.x, num_samples=1.5), ConfigError,
     "num_samples must be a positive int, got 1.5"),
    ("evaluate-num-samples-bool", lambda c: c.vae.evaluate(c.x, num_samples=True), ConfigError,
     "got True (bool)"),
    ("evaluate-num-samples-huge", lambda c: c.vae.evaluate(c.x, num_samples=10**11),
     ConfigError, "num_samples = 100000000000 would need"),
    ("evaluate-batch-size-str", lambda c: c.vae.evaluate(c.x, batch_size="10"), ConfigError,
     "batch_size must be a positive int, got '10' (str)"),
    ("evaluate-labels-float", lambda c: c.m2.evaluate(c.x, c.data.test.y[:16].float()),
     DataError, "must hold integer labels"),
    ("evaluate-labels-length", lambda c: c.m2.evaluate(c.x, c.data.test.y[:3]), DataError,
     "has 3 labels but there are 16 examples"),
    ("evaluate-labels-list", lambda c: c.m2.evaluate(c.x, [0] * 16), DataError,
     "y must be a torch.Tensor of integer labels"),
    ("evaluate-labels-out-of-range", lambda c: c.m2.evaluate(c.x, torch.full((16,), 10)),
     DataError, "has the label 10, outside 0 … 9"),
    ("evaluate-labels-negative", lambda c: c.m2.evaluate(c.x, torch.full((16,), -1)),
     DataError, "has the label -1"),
    ("evaluate-labels-2d", lambda c: c.m2.evaluate(c.x, torch.zeros(16, 1, dtype=torch.long)),
     DataError, "must have shape (N,)"),
    ("evaluate-keyword-typo", lambda c: c.vae.evaluate(c.x, num_sample=2), ConfigError,
     "did you mean 'num_samples'?"),
    ("sample-zero", lambda c: c.vae.sample(0), ConfigError, "n must be a positive int, got 0"),
    ("sample-float", lambda c: c.vae.sample(2.5), ConfigError, "got 2.5"),
    ("sample-str", lambda c: c.vae.sample("3"), ConfigError, "got '3' (str)"),
    ("sample-bool", lambda c: c.vae.sample(True), ConfigError, "got True (bool)"),
    ("sample-huge", lambda c: c.vae.sample(10**10), ConfigError,
     "n = 10000000000 images would need"),
    ("sample-label-out-of-range", lambda c: c.m2.sample(4, y=10), DataError,
     "y must be at most 9, got 10"),
    ("sample-labels-wrong-length", lambda c: c.m2.sample(4, y=torch.tensor([0, 1])), DataError,
     "has 2 labels but there are 4 examples"),
    ("sample-label-str", lambda c: c.vae.sample(4, y="3"), DataError, "y must be an int label"),
    ("reconstruct-numpy", lambda c: c.vae.reconstruct(c.x.numpy()), DataError,
     "VAE.reconstruct: x must be a torch.Tensor"),
    ("reconstruct-nan", lambda c: c.vae.reconstruct(torch.full((2, *SHAPE), math.nan)),
     DataError, "NaN or infinite"),
    ("reconstruct-float64", lambda c: c.vae.reconstruct(c.x.double()), DataError, "got float64"),
    ("classify-list", lambda c: c.m2.classify(c.x.tolist()), DataError,
     "M2.classify: x must be a torch.Tensor"),
    ("classify-wrong-shape", lambda c: c.m2.classify(c.x[:, :, :4]), DataError,
     "x must have shape (N, *(1, 8, 8))"),
    ("classify-vae", lambda c: c.vae.classify(c.x), ProgramError, "infers no label"),
    ("loss-numpy", lambda c: c.vae.loss(c.objective, c.x.numpy()), DataError,
     "VAE.loss: x must be a torch.Tensor"),
    ("loss-wrong-shape", lambda c: c.vae.loss(c.objective, c.x.reshape(16, 64)), DataError,
     "VAE.loss: x must have shape"),
    ("loss-int64", lambda c: c.vae.loss(c.objective, c.x.long()), DataError, "got int64"),
    ("loss-labels-list", lambda c: c.m2.loss(c.objective, c.x, [0] * 16), DataError,
     "y must be None or a tensor of labels"),
    # -- Trainer ------------------------------------------------------------------------------
    ("trainer-not-a-model", lambda c: pv.Trainer(torch.nn.Linear(2, 2)), ConfigError,
     "module must be a pyrovae model"),
    ("trainer-none", lambda c: pv.Trainer(None), ConfigError, "got None (NoneType)"),
    ("trainer-lr-negative", lambda c: pv.Trainer(c.vae, lr=-1e-3), ConfigError,
     "lr must be a number ≥ 0, got -0.001"),
    ("trainer-lr-complex", lambda c: pv.Trainer(c.vae, lr=1j), ConfigError,
     "lr must be a number, got 1j (complex)"),
    ("trainer-lr-nan", lambda c: pv.Trainer(c.vae, lr=math.nan), ConfigError, "finite number"),
    ("trainer-lr-inf", lambda c: pv.Trainer(c.vae, lr=math.inf), ConfigError, "finite number"),
    ("trainer-lr-bool", lambda c: pv.Trainer(c.vae, lr=True), ConfigError, "got True (bool)"),
    ("trainer-kl-weight-str", lambda c: pv.Trainer(c.vae, kl_weight="1"), ConfigError,
     "kl_weight must be a number"),
    ("trainer-warmup-negative", lambda c: pv.Trainer(c.vae, kl_warmup_epochs=-1), ConfigError,
     "kl_warmup_epochs must be an int ≥ 0"),
    ("trainer-warmup-float", lambda c: pv.Trainer(c.vae, kl_warmup_epochs=1.5), ConfigError,
     "kl_warmup_epochs"),
    ("trainer-eval-every-bool", lambda c: pv.Trainer(c.vae, eval_every=True), ConfigError,
     "eval_every must be a positive int, got True (bool)"),
    ("trainer-patience-float", lambda c: pv.Trainer(c.vae, patience=2.0), ConfigError,
     "patience must be an int ≥ 0, got 2.0"),
    ("trainer-seed-negative", lambda c: pv.Trainer(c.vae, seed=-1), ConfigError, "seed"),
    ("trainer-seed-too-big", lambda c: pv.Trainer(c.vae, seed=2**32), ConfigError,
     "seed must be at most 4294967295"),
    ("trainer-divergence-negative", lambda c: pv.Trainer(c.vae, divergence_factor=-1),
     ConfigError, "divergence_factor"),
    ("trainer-progress-str", lambda c: pv.Trainer(c.vae, progress="yes"), ConfigError,
     "progress must be True or False or None"),
    ("trainer-compile-str", lambda c: pv.Trainer(c.vae, compile="true"), ConfigError,
     "compile must be True or False"),
    ("trainer-flush-int", lambda c: pv.Trainer(c.vae, flush_denormal=1), ConfigError,
     "flush_denormal must be True or False"),
    ("trainer-callbacks-not-callbacks", lambda c: pv.Trainer(c.vae, callbacks=[5]), ConfigError,
     "callbacks must be pyrovae.Callback objects"),
    ("trainer-callbacks-duck", lambda c: pv.Trainer(c.vae, callbacks=[_NotACallback()]),
     ConfigError, "_NotACallback"),
    ("trainer-callbacks-not-a-list", lambda c: pv.Trainer(c.vae, callbacks=Callback()),
     ConfigError, "put it in a list"),
    ("trainer-callbacks-str", lambda c: pv.Trainer(c.vae, callbacks="tensorboard"), ConfigError,
     "callbacks must be a list"),
    ("trainer-objective-unknown", lambda c: pv.Trainer(c.vae, objective="elbo"), ConfigError,
     "unknown objective 'elbo'"),
    ("trainer-objective-int", lambda c: pv.Trainer(c.vae, objective=5), ConfigError,
     "objective must be the name of a registered objective"),
    ("trainer-objective-particles-zero",
     lambda c: pv.Trainer(c.vae, objective={"name": "trace", "num_particles": 0}), ConfigError,
     "num_particles"),
    ("trainer-optimizer-unknown", lambda c: pv.Trainer(c.vae, optimizer="adamm"), ConfigError,
     "unknown optimizer 'adamm' (did you mean 'adam'?)"),
    ("trainer-optimizer-module", lambda c: pv.Trainer(c.vae, optimizer=torch.optim), ConfigError,
     "a torch.optim.Optimizer"),
    ("trainer-sgd-momentum-negative",
     lambda c: pv.Trainer(c.vae, optimizer={"name": "sgd", "momentum": -1}), ConfigError,
     "momentum"),
    ("trainer-scheduler-int", lambda c: pv.Trainer(c.vae, scheduler=3), ConfigError,
     "scheduler must be"),
    ("trainer-scheduler-unknown", lambda c: pv.Trainer(c.vae, scheduler="cosin"), ConfigError,
     "did you mean 'cosine'?"),
    ("trainer-clip-negative", lambda c: pv.Trainer(c.vae, clip_grad_norm=-1), ConfigError,
     "clip_grad_norm must be a finite number ≥ 0"),
    ("trainer-clip-nan", lambda c: pv.Trainer(c.vae, clip_grad_value=math.nan), ConfigError,
     "clip_grad_value must be a finite number"),
    ("trainer-clip-bool", lambda c: pv.Trainer(c.vae, clip_grad_norm=True), ConfigError,
     "got True"),
    ("trainer-callback-class", lambda c: pv.Trainer(c.vae, callbacks=[Callback]), ConfigError,
     "callbacks must be pyrovae.Callback objects"),
    ("trainer-objective-class", lambda c: pv.Trainer(c.vae, objective=torch.nn.Linear),
     ConfigError, "a Pyro ELBO object"),
    ("trainer-objective-table-typo",
     lambda c: pv.Trainer(c.vae, objective={"name": "trace", "num_particle": 2}), ConfigError,
     "did you mean 'num_particles'?"),
    ("trainer-world-int", lambda c: pv.Trainer(c.vae, world=5), ConfigError,
     "world must be a pyrovae.distributed.World"),
    ("trainer-kl-weight-inf", lambda c: pv.Trainer(c.vae, kl_weight=math.inf), ConfigError,
     "kl_weight must be a finite number"),
    ("trainer-divergence-nan", lambda c: pv.Trainer(c.vae, divergence_factor=math.nan),
     ConfigError, "divergence_factor must be a finite number"),
    # -- fit, train_epoch ---------------------------------------------------------------------
    ("fit-epochs-negative", lambda c: fit(c, c.data, epochs=-1), ConfigError,
     "epochs must be an int ≥ 0, got -1"),
    ("fit-epochs-float", lambda c: fit(c, c.data, epochs=1.0), ConfigError, "got 1.0"),
    ("fit-batch-size-zero", lambda c: fit(c, c.data, epochs=1, batch_size=0), ConfigError,
     "batch_size must be a positive int, got 0"),
    ("fit-batch-size-float", lambda c: fit(c, c.data, epochs=1, batch_size=2.5), ConfigError,
     "batch_size"),
    ("fit-seed-too-big", lambda c: fit(c, c.data, epochs=1, seed=2**40), ConfigError,
     "seed must be at most"),
    ("fit-eval-samples-zero", lambda c: fit(c, c.data, epochs=1, eval_samples=0), ConfigError,
     "eval_samples must be a positive int"),
    ("fit-eval-samples-huge", lambda c: fit(c, c.data, epochs=1, eval_samples=10**12),
     ConfigError, "would need"),
    ("fit-eval-batch-size-zero", lambda c: fit(c, c.data, epochs=1, eval_batch_size=0),
     ConfigError, "eval_batch_size"),
    ("fit-tensor", lambda c: fit(c, c.data.train.x, epochs=1), DataError,
     "dataset must be a pyrovae DataSet"),
    ("fit-dict", lambda c: fit(c, {"train": c.data.train.x}, epochs=1), DataError,
     "(dict)"),
    ("fit-on-epoch-not-callable", lambda c: fit(c, c.data, epochs=1, on_epoch=5), ConfigError,
     "on_epoch must be a function or None"),
    ("fit-callbacks-objects", lambda c: fit(c, c.data, epochs=1, callbacks=[object()]),
     ConfigError, "callbacks must be pyrovae.Callback objects"),
    ("fit-batches-int", lambda c: fit(c, c.data, epochs=1, batches=5), ConfigError,
     "batches must be a Batcher"),
    ("fit-state-int", lambda c: fit(c, c.data, epochs=1, state=5), ConfigError,
     "state must be a pyrovae.callbacks.Fit"),
    ("fit-check-data-str", lambda c: fit(c, c.data, epochs=1, check_data="yes"), ConfigError,
     "check_data must be True or False"),
    ("fit-nan-data", lambda c: fit(c, c.with_nan, epochs=1), DataError, "outside the support"),
    ("fit-float64-data", lambda c: fit(c, c.doubles, epochs=1), DataError, "got float64"),
    ("fit-labels-out-of-range", lambda c: pv.Trainer(c.m2, progress=False).fit(
        c.bad_labels, epochs=1), DataError, "has the label 10, outside 0 … 9"),
    ("fit-empty-valid", lambda c: fit(c, c.empty_valid, epochs=1), DataError,
     "the valid split of empty is empty"),
    ("train-epoch-int", lambda c: c.trainer.train_epoch(5), ConfigError,
     "Trainer.train_epoch: batches must be a Batcher"),
    ("train-epoch-on-step", lambda c: c.trainer.train_epoch(c.data.batches(64, 0), on_step=3),
     ConfigError, "on_step must be a function or None"),
    ("fit-on-epoch-wrong-arity", lambda c: fit(c, c.data, epochs=1, on_epoch=lambda: None),
     CallbackError, "failed in on_epoch_end after epoch 1"),
    ("fit-callback-raises", lambda c: fit(c, c.data, epochs=1, callbacks=[_Raising()]),
     CallbackError, "callback '_Raising' failed in on_fit_start before epoch 1"),
    ("fit-data-on-another-device", lambda c: fit(c, c.data.to("meta"), epochs=1), DataError,
     "dataset.train.x is on meta but the model on cpu"),
    # -- package-level functions --------------------------------------------------------------
    ("train-none", lambda c: pv.train(None), ConfigError, "config must be a pyrovae Config"),
    ("train-path", lambda c: pv.train("config.toml"), ConfigError, "pyrovae.load_config"),
    ("train-overwrite-str", lambda c: pv.train(pv.load_config(), overwrite="yes"), ConfigError,
     "overwrite must be True or False"),
    ("fit-package-dict", lambda c: pv.fit({}, c.run_dir), ConfigError,
     "pyrovae.fit: config must be a pyrovae Config, got dict"),
    ("fit-package-run-dir-int", lambda c: pv.fit(None, 5, resume=True), ConfigError,
     "run_dir must be a path"),
    ("fit-package-resume-str", lambda c: pv.fit(None, c.run_dir, resume="yes"), ConfigError,
     "resume must be True or False"),
    ("fit-package-epochs-negative", lambda c: pv.fit(None, c.run_dir, resume=True, epochs=-2),
     ConfigError, "epochs must be an int ≥ 0, got -2"),
    ("fit-package-callbacks", lambda c: pv.fit(None, c.run_dir, resume=True, epochs=2,
                                               callbacks=[print]), ConfigError,
     "callbacks must be a list of pyrovae.Callback objects"),
    ("load-run-int", lambda c: pv.load_run(5), ConfigError, "run_dir must be a path"),
    ("load-run-checkpoint-typo", lambda c: pv.load_run(c.run_dir, checkpoint="bset"),
     ConfigError, "checkpoint must be one of 'best', 'last', got 'bset' (did you mean 'best'?)"),
    ("load-run-checkpoint-int", lambda c: pv.load_run(c.run_dir, checkpoint=1), ConfigError,
     "checkpoint must be one of 'best', 'last', got 1 (int)"),
    ("load-run-data-str", lambda c: pv.load_run(c.run_dir, data="no"), ConfigError,
     "data must be True or False"),
    ("load-run-device-int", lambda c: pv.load_run(c.run_dir, device=0), ConfigError,
     "device must be a str"),
    ("load-config-overrides-str", lambda c: pv.load_config(overrides="train.epochs=1"),
     ConfigError, "put it in a list"),
    ("load-config-path-int", lambda c: pv.load_config(5), ConfigError, "path must be a path"),
    ("load-dataset-int", lambda c: pv.load_dataset(5), ConfigError, "name must be a path"),
    ("load-dataset-seed-too-big", lambda c: pv.load_dataset("digits", seed=2**40), ConfigError,
     "seed must be at most"),
    ("load-dataset-labels-negative", lambda c: pv.load_dataset("digits", labels=-1), ConfigError,
     "labels must be an int ≥ 0"),
    ("load-dataset-binarize-bool", lambda c: pv.load_dataset("digits", binarize=True),
     ConfigError, "binarize must be"),
    ("load-dataset-fraction-str", lambda c: pv.load_dataset("digits", valid_fraction="0.1"),
     ConfigError, "valid_fraction must be a number"),
    ("load-dataset-options-list", lambda c: pv.load_dataset("digits", options=[1]), ConfigError,
     "options must be a dict"),
    ("log-likelihood-numpy", lambda c: pv.evaluate_log_likelihood(c.vae, c.x.numpy(), 10),
     DataError, "pyrovae.evaluate_log_likelihood: x must be a torch.Tensor"),
    ("log-likelihood-k-zero", lambda c: pv.evaluate_log_likelihood(c.vae, c.x, 0), ConfigError,
     "num_samples must be a positive int, got 0"),
    ("log-likelihood-k-huge", lambda c: pv.evaluate_log_likelihood(c.vae, c.x, 10**15),
     ConfigError, "would need"),
    ("log-likelihood-k-float", lambda c: pv.evaluate_log_likelihood(c.vae, c.x, 2.5),
     ConfigError, "got 2.5"),
    ("log-likelihood-outside-support",
     lambda c: pv.evaluate_log_likelihood(c.vae, torch.full((2, *SHAPE), 2.0), 10), DataError,
     "outside the support of the 'bernoulli' likelihood"),
    ("evaluate-elbo-float64", lambda c: pv.evaluate_elbo(c.vae, c.x.double()), DataError,
     "got float64"),
    ("importance-bound-negative", lambda c: pv.importance_bound(c.vae, c.x, -3), ConfigError,
     "num_samples must be a positive int, got -3"),
    ("naive-estimate-list", lambda c: pv.naive_estimate(c.vae, [[0.0]], 4), DataError,
     "x must be a torch.Tensor"),
    ("as-model-no-programs", lambda c: pv.as_model(torch.nn.Linear(2, 2)), PluginError,
     "has no 'model' method"),
    ("build-gaussian-scale-str", lambda c: build(likelihood={"name": "gaussian", "scale": "1"}),
     ConfigError, "gaussian likelihood: scale must be a number, got '1' (str)"),
    ("build-laplace-scale-inf", lambda c: build(likelihood={"name": "laplace", "scale": math.inf}),
     ConfigError, "scale must be a finite number"),
    ("build-beta-floor-negative",
     lambda c: build(likelihood={"name": "beta", "min_concentration": -1}), ConfigError,
     "min_concentration must be a number ≥ 0"),
    ("build-categorical-levels-huge",
     lambda c: build(likelihood={"name": "categorical", "levels": 10**12}), ConfigError,
     "the parameters of this model would need"),
    ("build-mixture-components-huge",
     lambda c: build(prior={"name": "mixture", "components": 10**12}), ConfigError,
     "the parameters of this model would need"),
    ("build-iaf-hidden-huge", lambda c: build(guide={"name": "iaf", "hidden": 10**12}),
     ConfigError, "would need"),
    ("sample-labels-float", lambda c: c.m2.sample(2, y=torch.tensor([0.0, 1.0])), DataError,
     "must hold integer labels"),
    ("evaluate-labels-bool", lambda c: c.m2.evaluate(c.x, torch.ones(16, dtype=torch.bool)),
     DataError, "got bool"),
    # -- a run read back ----------------------------------------------------------------------
    ("run-evaluate-numpy", lambda c: c.run.model.evaluate(c.run.data.test.x.numpy()), DataError,
     "convert it with torch.as_tensor"),
    ("run-evaluate-outside-support", lambda c: c.run.model.evaluate(c.run.data.test.x * 255),
     DataError, "outside the support"),
    ("run-sample-negative", lambda c: c.run.model.sample(-1), ConfigError,
     "n must be a positive int"),
    ("run-fit-seed-str", lambda c: pv.Trainer(c.run.model, progress=False).fit(
        c.run.data, epochs=1, seed="0"), ConfigError, "seed must be an int ≥ 0, got '0' (str)"),
]


def _expect(call, error, fragment):
    """Run ``call`` and check what it raised: ``error`` (for pyrovae's errors, a
    :class:`~pyrovae.errors.PyroVAEError`), one line holding ``fragment``."""
    with pytest.raises(Exception) as info:
        call()
    raised = info.value
    assert isinstance(raised, error), f"{type(raised).__name__}: {raised}"
    assert isinstance(raised, PyroVAEError), f"{type(raised).__name__}: {raised}"
    message = str(raised)
    assert "\n" not in message, message
    assert fragment in message, message
    return raised


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_a_bad_call_is_one_typed_line(c, case):
    _, call, error, fragment = case
    with warnings.catch_warnings():  # a grey-level warning may come with a refusal
        warnings.simplefilter("ignore")
        _expect(lambda: call(c), error, fragment)
    assert _snapshot(c.run_dir) == c.snapshot


def test_the_catalogue_is_long_and_its_ids_unique():
    ids = [case[0] for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 90


def test_the_catalogue_can_fail(c, monkeypatch):
    """A torch error, a generic error, a second line or a missing fragment fail the check; and
    with a check taken out, its case no longer passes."""
    def raising(error):
        def call():
            raise error
        return call

    for call in (lambda: torch.zeros(2) @ torch.zeros(3), lambda: 1 / 0,
                 raising(TypeError("z_dim")), raising(ConfigError("z_dim\ntwo lines")),
                 raising(DataError("z_dim, but a DataError")), raising(ConfigError("other words")),
                 lambda: None):
        with pytest.raises((AssertionError, pytest.fail.Exception)):
            _expect(call, ConfigError, "z_dim")
    monkeypatch.setattr(checks, "integer", lambda value, *a, **k: value)
    with pytest.raises(AssertionError):
        _expect(lambda: build(z_dim=-1), ConfigError, "z_dim must be a positive int")


def test_valid_calls_still_work(c):
    """The checks refuse the bad calls only: the good ones of the README run."""
    vae = build(z_dim=2)
    assert set(vae.evaluate(c.x)) >= {"elbo", "kl"}
    assert vae.sample(3).shape == (3, *SHAPE)
    assert vae.reconstruct(c.x[:2]).shape == (2, *SHAPE)
    assert c.m2.classify(c.x).shape == (16,)
    assert c.m2.sample(4, y=3).shape == (4, *SHAPE)
    rows = pv.Trainer(vae, progress=False).fit(c.data, epochs=1, batch_size=256)
    assert len(rows) == 1 and math.isfinite(rows[0]["valid_elbo"])
    assert math.isfinite(pv.evaluate_log_likelihood(vae, c.x, 4)["log_likelihood"])
    assert VAE.build([1, 8, 8], z_dim=np.int64(2), **SMALL).z_dim == 2


def test_the_step_checks_read_no_values(c, SyncCounter):
    """``loss`` runs on every training step: its checks read shapes and dtypes only, so the
    checked call reads back exactly what the unchecked one does."""
    x = c.data.train.x[:32]
    with SyncCounter() as checked:
        c.vae.loss(c.objective, x)
    with SyncCounter() as raw:
        type(c.vae).loss.__wrapped__(c.vae, c.objective, x)
    assert checked.total == raw.total


def test_building_draws_nothing_from_the_global_streams(c):
    """The dry run of ``build`` leaves torch's random state as it found it, apart from the
    initialization of the weights."""
    torch.manual_seed(3)
    build(z_dim=2)
    after_build = torch.rand(3)
    torch.manual_seed(3)
    VAE.build.__wrapped__(VAE, SHAPE, z_dim=2, **SMALL)
    assert torch.equal(torch.rand(3), after_build)


# -- the checks live where the functions do -------------------------------------------------
#: each package-level function that checks its arguments: (the module it is exported from, the
#: module that defines it). ``pv.<name>`` is that very function, so a call through either
#: module is checked as one through ``pv.`` is.
HOMES = {
    "train": ("pyrovae.training", "pyrovae.training.session"),
    "fit": ("pyrovae.training", "pyrovae.training.session"),
    "resume": ("pyrovae.training", "pyrovae.training.session"),
    "load_run": ("pyrovae.runs", "pyrovae.runs"),
    "load_config": ("pyrovae.config", "pyrovae.config.loading"),
    "load_dataset": ("pyrovae.data", "pyrovae.data.load"),
    "evaluate_elbo": ("pyrovae.infer", "pyrovae.infer.elbo"),
    "elbo_terms": ("pyrovae.infer", "pyrovae.infer.elbo"),
    "evaluate_log_likelihood": ("pyrovae.infer", "pyrovae.infer.importance"),
    "importance_bound": ("pyrovae.infer", "pyrovae.infer.importance"),
    "naive_estimate": ("pyrovae.infer", "pyrovae.infer.naive"),
}

#: ``(id, name, call(function, c), error type, fragment)``: ``call`` makes a bad call of
#: ``function``, which is ``pv.<name>`` or the same name in its module or its defining module
DEPTH_CASES = [
    ("train-dict", "train", lambda f, c: f({"train": {"epochs": 1}}), ConfigError,
     "pyrovae.train: config must be a pyrovae Config, got dict"),
    ("train-overwrite-str", "train", lambda f, c: f(pv.load_config(), overwrite="yes"),
     ConfigError, "pyrovae.train: overwrite must be True or False, got 'yes'"),
    ("train-unknown-keyword", "train", lambda f, c: f(pv.load_config(), overwrites=True),
     ConfigError, "pyrovae.train: got an unexpected keyword argument 'overwrites'"),
    ("fit-dict", "fit", lambda f, c: f({}, c.run_dir), ConfigError,
     "pyrovae.fit: config must be a pyrovae Config, got dict"),
    ("fit-epochs-negative", "fit", lambda f, c: f(None, c.run_dir, resume=True, epochs=-2),
     ConfigError, "pyrovae.fit: epochs must be an int ≥ 0, got -2"),
    ("fit-device-int", "fit", lambda f, c: f(None, c.run_dir, resume=True, device=0),
     ConfigError, "pyrovae.fit: device must be a str such as \"cpu\""),
    ("fit-no-config", "fit", lambda f, c: f(), ConfigError,
     "pyrovae.fit: missing a required argument: 'config'"),
    ("resume-run-dir-int", "resume", lambda f, c: f(5), ConfigError,
     "pyrovae.resume: run_dir must be a path (a str or pathlib.Path), got 5 (int)"),
    ("resume-epochs-str", "resume", lambda f, c: f(c.run_dir, epochs="10"), ConfigError,
     "pyrovae.resume: epochs must be an int ≥ 0, got '10'"),
    ("resume-threads-zero", "resume", lambda f, c: f(c.run_dir, num_threads=0), ConfigError,
     "pyrovae.resume: num_threads must be a positive int, got 0"),
    ("resume-callbacks-one", "resume", lambda f, c: f(c.run_dir, callbacks=Callback()),
     ConfigError, "pyrovae.resume: callbacks must be a list of pyrovae.Callback objects, got "
                  "one Callback; put it in a list"),
    ("resume-keyword-typo", "resume", lambda f, c: f(c.run_dir, epoch=3), ConfigError,
     "pyrovae.resume: got an unexpected keyword argument 'epoch' (did you mean 'epochs'?)"),
    ("load-run-int", "load_run", lambda f, c: f(5), ConfigError,
     "pyrovae.load_run: run_dir must be a path (a str or pathlib.Path), got 5 (int)"),
    ("load-run-checkpoint-typo", "load_run", lambda f, c: f(c.run_dir, checkpoint="bset"),
     ConfigError, "pyrovae.load_run: checkpoint must be one of 'best', 'last', got 'bset' "
                  "(did you mean 'best'?)"),
    ("load-config-overrides-str", "load_config", lambda f, c: f(overrides="train.epochs=1"),
     ConfigError, "pyrovae.load_config: overrides must be a list of str, got "
                  "'train.epochs=1' (str); put it in a list"),
    ("load-config-path-int", "load_config", lambda f, c: f(5), ConfigError,
     "pyrovae.load_config: path must be a path"),
    ("load-dataset-binarize-bool", "load_dataset", lambda f, c: f("digits", binarize=True),
     ConfigError, "pyrovae.load_dataset: binarize must be one of 'none', 'static', 'dynamic', "
                  "got True (bool)"),
    ("load-dataset-seed-too-big", "load_dataset", lambda f, c: f("digits", seed=2**40),
     ConfigError, "pyrovae.load_dataset: seed must be at most 4294967295"),
    ("evaluate-elbo-float64", "evaluate_elbo", lambda f, c: f(c.vae, c.x.double()), DataError,
     "pyrovae.evaluate_elbo: x must be a floating tensor of dtype float32"),
    ("evaluate-elbo-batch-zero", "evaluate_elbo", lambda f, c: f(c.vae, c.x, batch_size=0),
     ConfigError, "pyrovae.evaluate_elbo: batch_size must be a positive int, got 0"),
    ("evaluate-elbo-kl-typo", "evaluate_elbo", lambda f, c: f(c.vae, c.x, kl="analytc"),
     ConfigError, "pyrovae.evaluate_elbo: kl must be one of 'auto', 'analytic', 'monte-carlo', "
                  "got 'analytc' (did you mean 'analytic'?)"),
    ("evaluate-elbo-keyword-typo", "evaluate_elbo", lambda f, c: f(c.vae, c.x, num_sample=3),
     ConfigError, "pyrovae.evaluate_elbo: got an unexpected keyword argument 'num_sample' "
                  "(did you mean 'num_samples'?)"),
    ("elbo-terms-shape", "elbo_terms", lambda f, c: f(c.vae, c.x[:, :, :4]), DataError,
     "pyrovae.elbo_terms: x must have shape (N, *(1, 8, 8))"),
    ("elbo-terms-kl-int", "elbo_terms", lambda f, c: f(c.vae, c.x, kl=1), ConfigError,
     "pyrovae.elbo_terms: kl must be one of 'auto', 'analytic', 'monte-carlo', got 1 (int)"),
    ("elbo-terms-nan", "elbo_terms", lambda f, c: f(c.vae, c.x * math.nan), DataError,
     "pyrovae.elbo_terms: x"),
    ("log-likelihood-k-zero", "evaluate_log_likelihood", lambda f, c: f(c.vae, c.x, 0),
     ConfigError, "pyrovae.evaluate_log_likelihood: num_samples must be a positive int, got 0"),
    ("log-likelihood-outside-support", "evaluate_log_likelihood",
     lambda f, c: f(c.vae, torch.full((2, *SHAPE), 2.0), 10), DataError,
     "outside the support of the 'bernoulli' likelihood"),
    ("importance-bound-negative", "importance_bound", lambda f, c: f(c.vae, c.x, -3),
     ConfigError, "pyrovae.importance_bound: num_samples must be a positive int, got -3"),
    ("naive-estimate-list", "naive_estimate", lambda f, c: f(c.vae, [[0.0]], 4), DataError,
     "pyrovae.naive_estimate: x must be a torch.Tensor, got list"),
]


def _homes(name):
    """``pv.<name>``, the name in the module it is exported from and in the defining one."""
    exported, defining = HOMES[name]
    return {"pyrovae": getattr(pv, name),
            exported: getattr(importlib.import_module(exported), name),
            defining: getattr(importlib.import_module(defining), name)}


@pytest.mark.parametrize("case", DEPTH_CASES, ids=[case[0] for case in DEPTH_CASES])
def test_a_function_checks_its_arguments_however_it_is_reached(c, case):
    """The same bad call, through ``pv.``, the exporting module or the defining one, is the
    same typed line in the package's name: the check is applied where the function is
    defined."""
    _, name, call, error, fragment = case
    messages = {}
    for route, function in _homes(name).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raised = _expect(lambda: call(function, c), error, fragment)
        messages[route] = (type(raised), str(raised))
    assert len(set(messages.values())) == 1, messages
    assert _snapshot(c.run_dir) == c.snapshot


def test_the_depth_cases_cover_every_checked_function():
    assert {case[1] for case in DEPTH_CASES} == set(HOMES)
    assert len({case[0] for case in DEPTH_CASES}) == len(DEPTH_CASES)


@pytest.mark.parametrize("name", sorted(HOMES))
def test_the_package_exports_the_checked_function_itself(name):
    """``pv.fit is pyrovae.training.fit``: the package adds no wrapper, and the function keeps
    its name, docstring and signature through its check (what ``help`` and Sphinx show)."""
    homes = _homes(name)
    assert len({id(f) for f in homes.values()}) == 1, homes
    function = homes["pyrovae"]
    raw = inspect.unwrap(function)
    assert raw is not function  # the check is there, at the definition
    assert function.__name__ == name and function.__module__ == HOMES[name][1]
    assert function.__doc__ == raw.__doc__ and function.__doc__
    assert inspect.signature(function) == inspect.signature(raw)


def test_the_package_holds_no_checks_of_its_own():
    import pyrovae

    leftovers = [n for n in vars(pyrovae) if n == "_CHECKS" or n.startswith(("_check", "_checked"))]
    assert leftovers == []


def test_an_estimator_reads_data_checked_already_once(c, monkeypatch):
    """The estimators' check reads the examples (finite, in the support): it runs on the
    outermost call only, so ``VAE.evaluate`` (which checked them) and the trainer's validation
    at every epoch (under ``checks.unchecked``) do not read them again."""
    runs = []
    real = checks.support
    monkeypatch.setattr(checks, "support", lambda *a: (runs.append(a[2]), real(*a))[1])
    c.vae.evaluate(c.x)
    with checks.unchecked():
        pv.evaluate_elbo(c.vae, c.x)
    pv.Trainer(build(z_dim=2), progress=False).fit(c.data, epochs=1, batch_size=256)
    assert runs == []
    pv.evaluate_elbo(c.vae, c.x)
    pyrovae_infer = importlib.import_module("pyrovae.infer.importance")
    pyrovae_infer.importance_bound(c.vae, c.x, 2)
    assert runs == ["pyrovae.evaluate_elbo", "pyrovae.importance_bound"]


def test_an_estimator_answers_no_examples_however_it_is_reached(c):
    """The estimators answer a batch of no examples (a data-parallel rank's empty shard), and
    their check, where they are defined, lets it through ``pv.`` as through their modules;
    ``VAE.evaluate`` refuses one (catalogue case ``evaluate-empty``)."""
    for route, function in _homes("evaluate_log_likelihood").items():
        assert function(c.vae, c.x[:0], 2)["num_examples"] == 0, route
    assert pv.importance_bound(c.vae, c.x[:0], 2).shape == (0,)
