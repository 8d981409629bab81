"""pyrovae's objectives compute Pyro's losses and gradients without host synchronization.

Each is compared with the Pyro ELBO it reimplements (same seed, so the same draws): the value
and every parameter's gradient to float rounding. Then a training step is run with the
methods that read a tensor back to the host (``Tensor.item``, ``__bool__``, ``__float__``,
``__int__``, ``__index__``, ``tolist``) patched to count their calls: zero per step.
"""


import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import Trace_ELBO, TraceEnum_ELBO, TraceMeanField_ELBO

import pyrovae as pv
from pyrovae.infer.objectives.enum import EnumELBO
from pyrovae.infer.objectives.meanfield import MeanFieldELBO
from pyrovae.infer.objectives.trace import TraceELBO


@pytest.fixture(scope="module")
def digits():
    return pv.load_dataset("digits", binarize="dynamic", labels=50)


def loss_and_grads(objective, model, guide, params, *args, **kwargs):
    pyro.set_rng_seed(11)
    loss = objective.differentiable_loss(model, guide, *args, **kwargs)
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return loss.detach(), [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def assert_same(ours, theirs, model, guide, params, *args, **kwargs):
    value, grads = loss_and_grads(ours, model, guide, params, *args, **kwargs)
    expected, expected_grads = loss_and_grads(theirs, model, guide, params, *args, **kwargs)
    torch.testing.assert_close(value, expected, rtol=1e-6, atol=1e-5)
    for got, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("prior", ["normal", "mixture"])  # mixture: no closed-form KL
@pytest.mark.parametrize("particles", [1, 3])
@pytest.mark.parametrize("kl_weight", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("ours,theirs", [(TraceELBO, Trace_ELBO),
                                         (MeanFieldELBO, TraceMeanField_ELBO)],
                         ids=["trace", "meanfield"])
def test_vae_losses_equal_pyros(digits, ours, theirs, particles, kl_weight, prior):
    vae = pv.VAE.build(digits.event_shape, z_dim=3, prior=prior)
    options = dict(num_particles=particles, vectorize_particles=particles > 1,
                   max_plate_nesting=1)
    x = digits.train.x[:20]
    assert_same(ours(**options), theirs(**options), vae.model, vae.guide,
                list(vae.parameters()), x, kl_weight=kl_weight)


def test_score_function_terms_equal_pyros():
    """A guide site that is not reparameterized (a Bernoulli) adds Pyro's log r · score term
    to the surrogate: same value (the ELBO) and same gradient."""
    w = torch.tensor([0.3, -0.2], requires_grad=True)
    v = torch.tensor([0.5, 1.5], requires_grad=True)

    def model(x):
        with pyro.plate("data", x.shape[0]):
            b = pyro.sample("b", dist.Bernoulli(torch.sigmoid(w[0]).expand(x.shape[0])))
            z = pyro.sample("z", dist.Normal(w[1] * b, 1.0))
            pyro.sample("x", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("b", dist.Bernoulli(torch.sigmoid(v[0] * x)))
            pyro.sample("z", dist.Normal(v[1] * x, 1.0))

    x = torch.linspace(-1, 2, 7)
    assert_same(TraceELBO(), Trace_ELBO(), model, guide, [w, v], x)
    # and the surrogate matters: with the score term dropped the gradient of v[0] is zero
    pyro.set_rng_seed(11)
    value = TraceELBO().differentiable_loss(model, guide, x)
    (grad_v,) = torch.autograd.grad(value, [v])
    assert grad_v[0] != 0


@pytest.mark.parametrize("particles", [1, 3])
@pytest.mark.parametrize("labelled", [False, True])
def test_m2_enumerated_loss_equals_pyros_traceenum(digits, labelled, particles):
    m2 = pv.models.M2.build(digits.event_shape, 10, z_dim=3)
    options = dict(num_particles=particles, vectorize_particles=particles > 1,
                   max_plate_nesting=1, strict_enumeration_warning=False)
    x, y = digits.train.x[:20], digits.train.y[:20]
    assert_same(EnumELBO(**options), TraceEnum_ELBO(**options), m2.model, m2.guide,
                list(m2.parameters()), x, y if labelled else None)


@pytest.mark.parametrize("kind,objective,labelled", [
    ("vae", "trace", False), ("vae", {"name": "trace", "num_particles": 3}, False),
    ("vae", "meanfield", False), ("vae", "iwae", False),
    ("m2", "trace", False), ("m2", "trace", True),
])
def test_a_training_step_never_reads_the_device(digits, kind, objective, labelled,
                                                 SyncCounter):
    """Zero host reads per step: loss, backward, the all-reduce hook, the divergence monitor's
    bookkeeping and the (fused) Adam step. The monitor is read every ``check_every`` steps
    (100 on an accelerator; here set beyond the test)."""
    if kind == "vae":
        module = pv.VAE.build(digits.event_shape, z_dim=4)
    else:
        module = pv.models.M2.build(digits.event_shape, 10, z_dim=4)
    trainer = pv.Trainer(module, objective=objective, progress=False)
    trainer.check_every = 10**9
    x, y = digits.train.x[:32], digits.train.y[:32] if labelled else None
    trainer.step(x, y)  # the first step creates the optimizer's state
    with SyncCounter() as counter:
        for index in range(1, 3):
            trainer.step(x, y, index=index)
    assert counter.total == 0, dict(counter.calls)


def test_the_counter_sees_pyros_own_reads(digits, SyncCounter):
    """Guard for the test above: Pyro's Trace_ELBO reads every site's log-prob back."""
    vae = pv.VAE.build(digits.event_shape, z_dim=4)
    with SyncCounter() as counter:
        Trace_ELBO().differentiable_loss(vae.model, vae.guide, digits.train.x[:8])
    assert counter.calls["item"] >= 2
