"""The auxiliary deep generative models (ADGM, SDGM; Maaløe et al. 2016): plain Pyro trains
them, and pyrovae's loss and the trace-derived estimators equal the ELBO, the classification
term and the importance weights written out by hand with torch.distributions.

::

    ADGM  model: p(y) p(z) p(x|y,z) p(a|x,y,z)       guide: q(a|x) q(y|a,x) q(z|a,y,x)
    SDGM  model: p(y) p(z) p(a|y,z) p(x|a,y,z)       guide: the same

With the draws of a and of z (one z_y per class) held fixed, for one example x::

    ELBO_U = Σ_y q(y|a,x) [log p(x,y,z_y,a) − log q(z_y|a,y,x) − log q(y|a,x)] − log q(a|x)
    ELBO_L = log p(x,y,z,a) − log q(z|a,y,x) − log q(a|x)        (y given)
    log w  = log Σ_y p(x,y,z_y,a) / (q(a|x) q(z_y|a,y,x))         (y summed in each weight)

The hand-written side uses the networks' raw outputs (the diagonal-normal families are
N(loc, softplus(raw) + 1e-4)), never the models' programs or their distribution helpers.
"""

import inspect
import json
import math
import warnings

import pyro
import pytest
import torch
import torch.nn.functional as F
from pyro.poutine.messenger import Messenger
from torch.distributions import Bernoulli, Normal

import pyrovae as pv
from pyrovae.cli import main
from pyrovae.compiled import CompiledLoss
from pyrovae.data.labels import SemiSupervisedBatcher
from pyrovae.errors import ConfigError
from pyrovae.infer import evaluate_elbo, importance_bound
from pyrovae.infer.objectives.trace import TraceELBO
from pyrovae.models import ADGM, SDGM
from pyrovae.models.adgm import Joined
from pyrovae.noise import KeyedNoise

KINDS = {"adgm": ADGM, "sdgm": SDGM}
D, A, Z, K = 6, 3, 2, 4  # pixels, auxiliary, latent, classes


def small(kind, event_shape=(D,), num_classes=K, a_dim=A, z_dim=Z, **options):
    """A small model of the kind: every network one hidden layer of 8 (joins of 8)."""
    two = {"name": "mlp", "hidden": [8], "activation": "tanh"}
    nets = {"aux_encoder": two, "decoder": two, "features": 8, "hidden": [8],
            "activation": "tanh"}
    if kind == "sdgm":
        nets["aux_decoder"] = two
    return KINDS[kind].build(event_shape, num_classes, z_dim=z_dim, a_dim=a_dim,
                             **{**nets, **options})


# -- the hand-written densities --------------------------------------------------------------

def log_normal(value, h):
    """log N(value; loc, softplus(raw) + 1e-4) summed over the event, h = [loc, raw]."""
    loc, raw = h.chunk(2, dim=-1)
    return Normal(loc, F.softplus(raw) + 1e-4).log_prob(value).sum(-1)


def log_joint_minus_qz(kind, m, x, a, z, y):
    """log p(x, y, z, a) − log q(z|a,y,x) per example: labels ``y`` (B,) (or an int), ``a``
    and ``z`` with any leading dimensions ending in B."""
    b = x.shape[0]
    batch = torch.broadcast_shapes(a.shape[:-1], z.shape[:-1])
    y = torch.full((b,), y) if isinstance(y, int) else y
    onehot = F.one_hot(y, m.num_classes).to(x.dtype).expand(*batch, m.num_classes)
    a, z = a.expand(*batch, a.shape[-1]), z.expand(*batch, z.shape[-1])
    log_pz = Normal(0.0, 1.0).log_prob(z).sum(-1)
    log_py = math.log(1.0 / m.num_classes)
    log_qz = log_normal(z, m.encoder(x, a=a, y=onehot))
    if kind == "adgm":  # p(x|y,z) p(a|x,y,z)
        logits = m.decoder(torch.cat([z, onehot], -1))
        log_pa = log_normal(a, m.aux_decoder(x, z=z, y=onehot))
    else:  # p(a|y,z) p(x|a,y,z)
        log_pa = log_normal(a, m.aux_decoder(torch.cat([z, onehot], -1)))
        logits = m.decoder(torch.cat([a, z, onehot], -1))
    logits = logits.reshape(*batch, -1)
    log_px = Bernoulli(logits=logits).log_prob(x.reshape(b, -1)).sum(-1)
    return log_px + log_pa + log_py + log_pz - log_qz


def log_qa(m, x, a):
    return log_normal(a, m.aux_encoder(x))


def log_qy(m, x, a):
    """log q(y|a,x) for every class: (..., B, K)."""
    return torch.log_softmax(m.classifier(x, a=a), -1)


def hand_unlabelled_elbo(kind, m, x, a, z):
    """ELBO_U per example with a (..., B, A) and z (K, ..., B, Z), one z per class."""
    lq = log_qy(m, x, a)
    inner = torch.stack([log_joint_minus_qz(kind, m, x, a, z[c], c)
                         for c in range(m.num_classes)], -1)
    return (lq.exp() * (inner - lq)).sum(-1) - log_qa(m, x, a)


class Fixed(Messenger):
    """Hold the named latent sites at the given values wherever their shape matches (the
    estimators also trace the programs on one or two examples first: those draws stay
    random)."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def _pyro_sample(self, msg):
        value = self.values.get(msg["name"])
        if value is not None and not msg["is_observed"] \
                and tuple(msg["fn"].shape()) == tuple(value.shape):
            msg["value"] = value


@pytest.fixture
def binary(float64):
    g = torch.Generator().manual_seed(1)
    return torch.bernoulli(torch.full((5, D), 0.5), generator=g), torch.tensor([0, 3, 1, 1, 2])


# -- 1. plain Pyro -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_plain_pyro_svi_trains_both_kinds(kind):
    """``pyro.infer.SVI`` with ``TraceEnum_ELBO`` on unlabelled digits (the guide marks y for
    enumeration itself) and on labelled ones: the networks are in the param store and the
    loss falls."""
    data = pv.load_dataset("digits", binarize="static")
    x, y = data.train.x[:64], data.train.y[:64]
    torch.manual_seed(0)
    m = small(kind, data.event_shape, 10)
    svi = pyro.infer.SVI(m.model, m.guide, pyro.optim.Adam({"lr": 1e-2}),
                         pyro.infer.TraceEnum_ELBO(max_plate_nesting=1))
    losses = [svi.step(x) for _ in range(40)]
    assert len(pyro.get_param_store()) == len(list(m.parameters()))
    assert sum(losses[-5:]) < 0.8 * sum(losses[:5])
    with warnings.catch_warnings():  # a labelled batch: y observed, nothing to enumerate
        warnings.filterwarnings("ignore", message="TraceEnum_ELBO found no sample sites")
        assert math.isfinite(svi.step(x, y))


# -- 2, 3. pyrovae's loss ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_the_unlabelled_loss_is_the_enumerated_elbo(kind, binary):
    x, _ = binary
    m = small(kind).double()
    g = torch.Generator().manual_seed(2)
    a = torch.randn(5, A, generator=g, dtype=torch.float64)
    z = torch.randn(K, 5, Z, generator=g, dtype=torch.float64)  # enumeration dim -2: (K, B, Z)
    with Fixed({"a": a, "z": z}):
        loss = m.loss(TraceELBO(max_plate_nesting=1), x)
    expected = -hand_unlabelled_elbo(kind, m, x, a, z).sum()
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_the_labelled_loss_is_the_labelled_elbo_plus_alpha_cross_entropy(kind, binary):
    x, y = binary
    m = small(kind, alpha=2.5).double()
    g = torch.Generator().manual_seed(3)
    a = torch.randn(5, A, generator=g, dtype=torch.float64)
    z = torch.randn(5, Z, generator=g, dtype=torch.float64)
    with Fixed({"a": a, "z": z}):
        loss = m.loss(TraceELBO(max_plate_nesting=1), x, y)
    elbo = log_joint_minus_qz(kind, m, x, a, z, y) - log_qa(m, x, a)
    cross_entropy = -log_qy(m, x, a).gather(-1, y.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(loss, (-elbo + 2.5 * cross_entropy).sum(), rtol=1e-10,
                               atol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_a_paired_batch_is_split_into_its_labelled_and_unlabelled_rows(kind, binary):
    """``loss(x, y)`` with 2 labels for 5 rows: the labelled −ELBO + α·CE of the first two,
    whose sites are ``labelled/a`` and ``labelled/z`` (their keyed noise is their own), plus
    the unlabelled −ELBO of the other three."""
    x, y = binary
    m = small(kind, alpha=0.7).double()
    g = torch.Generator().manual_seed(4)
    a_l, z_l = (torch.randn(2, n, generator=g, dtype=torch.float64) for n in (A, Z))
    a_u = torch.randn(3, A, generator=g, dtype=torch.float64)
    z_u = torch.randn(K, 3, Z, generator=g, dtype=torch.float64)
    with Fixed({"labelled/a": a_l, "labelled/z": z_l, "a": a_u, "z": z_u}):
        loss = m.loss(TraceELBO(max_plate_nesting=1), x, y[:2])
    xl, yl = x[:2], y[:2]
    labelled = -(log_joint_minus_qz(kind, m, xl, a_l, z_l, yl) - log_qa(m, xl, a_l)) \
        - 0.7 * log_qy(m, xl, a_l).gather(-1, yl.unsqueeze(-1)).squeeze(-1)
    unlabelled = -hand_unlabelled_elbo(kind, m, x[2:], a_u, z_u)
    torch.testing.assert_close(loss, labelled.sum() + unlabelled.sum(), rtol=1e-10,
                               atol=1e-10)


def test_a_joined_network_is_one_layer_on_the_concatenation(float64):
    """head(act(W_x x + b + W_a a + W_y y)) with a linear image part is the published
    first layer W [x; a; y] + b: checked against one Linear on the concatenation."""
    image = pv.nets.MLPEncoder((D,), 8, hidden=[])
    joined = Joined(image, {"a": A, "y": K}, 8, 3, hidden=[5], activation="tanh")
    x, a = torch.randn(7, D), torch.randn(7, A)
    y = F.one_hot(torch.arange(7) % K, K).double()
    first = torch.nn.Linear(D + A + K, 8)
    with torch.no_grad():
        first.weight.copy_(torch.cat([image.net[0].weight, joined.inputs["a"].weight,
                                      joined.inputs["y"].weight], 1))
        first.bias.copy_(image.net[0].bias)
    expected = joined.head(torch.tanh(first(torch.cat([x, a, y], -1))))
    torch.testing.assert_close(joined(x, a=a, y=y), expected)
    # an enumerated label (K, 1, K) broadcasts against the batch: (K, 7, 3)
    every = torch.eye(K, dtype=torch.float64).unsqueeze(1)
    assert joined(x, a=a, y=every).shape == (K, 7, 3)


# -- 4. the estimators, derived from the traces ----------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_the_estimators_sum_y_exactly_inside_each_weight(kind, binary):
    """With the S draws of a (S, B, A) and z (K, S, B, Z) held: ``importance_bound`` is the
    log-mean-exp over S of log Σ_y p(x,y,z_y,a) / (q(a|x) q(z_y|a,y,x)), and
    ``evaluate_elbo`` (Monte Carlo KL) the mean over S of ELBO_U."""
    x, _ = binary
    m = small(kind).double()
    s = 6
    g = torch.Generator().manual_seed(5)
    a = torch.randn(s, 5, A, generator=g, dtype=torch.float64)
    z = torch.randn(K, s, 5, Z, generator=g, dtype=torch.float64)
    with Fixed({"a": a, "z": z}):
        bound = importance_bound(m, x, s)
        elbo = evaluate_elbo(m, x, num_samples=s, kl="monte-carlo")
    log_w = torch.stack([log_joint_minus_qz(kind, m, x, a, z[c], c) for c in range(K)],
                        0).logsumexp(0) - log_qa(m, x, a)  # (S, B)
    torch.testing.assert_close(bound, log_w.logsumexp(0) - math.log(s), rtol=1e-10, atol=1e-10)
    expected = hand_unlabelled_elbo(kind, m, x, a, z).mean(0)  # per example
    assert elbo["elbo"] == pytest.approx(expected.mean().item(), abs=1e-9)
    assert set(elbo["kl_sites"]) == {"a", "y", "z"}


@pytest.mark.parametrize("kind", KINDS)
def test_the_importance_bound_rises_with_k(kind):
    data = pv.load_dataset("digits", binarize="static")
    x = data.test.x[:100]
    m = small(kind, data.event_shape, 10)
    low = importance_bound(m, x, 1).mean()
    high = importance_bound(m, x, 200).mean()
    elbo = evaluate_elbo(m, x, num_samples=20)["elbo"]
    assert low < high and elbo < high


# -- the trainer: paired batches, keyed noise, the compiled step ------------------------------

@pytest.fixture(scope="module")
def digits():
    return pv.load_dataset("digits", binarize="dynamic", labels=50)


def paired(data, labelled_batch, batch_size=100, seed=0):
    keep = torch.zeros(len(data.train), dtype=torch.bool)
    keep[data.labelled] = True
    return SemiSupervisedBatcher(data.train.x, data.train.y, data.labelled,
                                 (~keep).nonzero().flatten(), batch_size=batch_size,
                                 dynamic_binarize=True, seed=seed, labelled_batch=labelled_batch)


@pytest.mark.parametrize("kind", KINDS)
def test_the_trainer_takes_paired_batches(kind, digits):
    """An epoch of paired batches (20 labels with every 100 unlabelled images): finite loss,
    the validation accuracy reported. Under keyed noise the labelled rows of a paired batch
    draw apart from its unlabelled rows (their sites are renamed): six images, labelled and
    unlabelled in one batch, do not give the losses of the two batches drawn under one key,
    where the labelled and the unlabelled rows share their draws of a."""
    torch.manual_seed(0)
    m = small(kind, digits.event_shape, 10)
    trainer = pv.Trainer(m, lr=1e-3, seed=3)
    rows = trainer.fit(digits, 1, batches=paired(digits, 20))
    assert math.isfinite(rows[0]["train_loss"]) and 0 <= rows[0]["valid_accuracy"] <= 1
    x, y = digits.train.x[:6], digits.train.y[:6]
    objective = trainer.objective
    with KeyedNoise(3, 0), pyro.validation_enabled(False):
        both = m.loss(objective, torch.cat([x, x]), y)  # the same 6 images, labelled and not
        alone = m.loss(objective, x, y) + m.loss(objective, x)
    assert not torch.allclose(both, alone)  # under one key, one name: the same draws


@pytest.mark.parametrize("kind", KINDS)
def test_the_compiled_step_equals_the_eager_one_on_paired_batches(kind, digits):
    torch.manual_seed(0)
    m = small(kind, digits.event_shape, 10)
    trainer = pv.Trainer(m)
    compiled = CompiledLoss(m, trainer.objective, backend=None)
    x, y = digits.train.x[:30], digits.train.y[:8]
    for step in (0, 1):
        with KeyedNoise(7, step), pyro.validation_enabled(False):
            loss = m.loss(trainer.objective, x, y)
        params = dict(m.named_parameters())
        grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
        got, got_grads, _ = compiled(x, y, 1.0, 7, step)
        torch.testing.assert_close(got, loss.detach(), rtol=1e-6, atol=0)
        for name, grad in zip(params, grads):
            if grad is not None:
                torch.testing.assert_close(got_grads[name], grad, rtol=1e-4, atol=1e-4)
    assert len(compiled.graphs) == 1


def test_paired_batches_are_refused_for_a_kind_that_cannot_take_them():
    with pytest.raises(ConfigError, match="the 'm2' model cannot take"):
        pv.load_config(None, ["model.kind=\"m2\"", "data.labels=50", "data.labelled_batch=10"])
    with pytest.raises(ConfigError, match="keeps every label"):
        pv.load_config(None, ["model.kind=\"adgm\"", "data.labelled_batch=10"])
    with pytest.raises(ConfigError, match="labelled_every = 3 has no use"):
        pv.load_config(None, ["model.kind=\"sdgm\"", "data.labels=50", "data.labelled_batch=10",
                              "data.labelled_every=3"])
    config = pv.load_config(None, ["model.kind=\"sdgm\"", "data.labels=50",
                                   "data.labelled_batch=10"])
    assert config.data.labelled_batch == 10


@pytest.mark.parametrize("kind", KINDS)
def test_the_classifier_averages_over_draws_of_a(kind, digits, monkeypatch):
    """q(y|x) = E_{q(a|x)} q(y|a,x): ``classify`` asks the trace-derived classifier for
    ``classify_samples`` draws of a."""
    m = small(kind, digits.event_shape, 10, classify_samples=7)
    seen = []
    real = pv.infer.traces.classify
    monkeypatch.setattr(pv.infer.traces, "classify",
                        lambda module, x, n=1: seen.append(n) or real(module, x, n))
    labels = m.classify(digits.test.x[:9])
    assert seen == [7] and labels.shape == (9,)


PLUMBED = "labelled_batch" in inspect.signature(pv.data.DataSet.batches).parameters


@pytest.mark.skipif(not PLUMBED, reason="DataSet.batches does not pass data.labelled_batch on")
def test_a_run_with_paired_batches_resumes_bit_for_bit(tmp_path, monkeypatch):
    """``data.labelled_batch`` reaches the batcher through a run, and a run stopped after an
    epoch and resumed ends where the uninterrupted one ends."""
    from pyrovae.training import resume

    made = []
    init = SemiSupervisedBatcher.__init__
    monkeypatch.setattr(SemiSupervisedBatcher, "__init__",
                        lambda self, *a, **k: made.append(self) or init(self, *a, **k))
    tiny = ["model.kind=\"adgm\"", "data.labels=50", "data.labelled_batch=20",
            "model.features=16", "model.hidden=[16]", "model.aux_encoder.hidden=[16]",
            "model.decoder.hidden=[16]", "train.num_threads=1"]
    quiet = {"progress": False, "log": lambda message: None}
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    pv.train(pv.load_config(None, [*tiny, "train.epochs=2", f"output.dir=\"{straight}\""]),
             **quiet)
    assert made and made[0].paired and made[0].labelled.batch_size == 20
    pv.train(pv.load_config(None, [*tiny, "train.epochs=1", f"output.dir=\"{stopped}\""]),
             **quiet)
    resume(stopped, epochs=2, **quiet)
    a = torch.load(straight / "checkpoint.pt", weights_only=True)["state_dict"]
    b = torch.load(stopped / "checkpoint.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- 6. the command line -------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_the_command_line_trains_and_evaluates_with_accuracy(kind, tmp_path, capsys):
    out = tmp_path / kind
    assert main(["train", "--model", kind, "--labels", "50", "--epochs", "1", "--out",
                 str(out), "--quiet"]) == 0
    assert (out / "conditional_samples.png").stat().st_size > 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 0 <= result["accuracy"] <= 1 and result["accuracy_stderr"] > 0
    assert set(result["kl_sites"]) == {"a", "y", "z"}
