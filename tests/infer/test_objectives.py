"""The ``iwae`` and ``renyi`` objectives: their differentiable loss against a hand-written bound
with pinned samples, and against Pyro's own RenyiELBO.loss."""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import Trace_ELBO

from pyrovae import OBJECTIVES, ConfigError, Trainer
from pyrovae.infer.objectives import RenyiELBO


def hand_bound(lg, x, z, alpha):
    """Σ_n 1/(1−α) log (1/K) Σ_k w_kn^(1−α), log w = log p(x,z) − log q(z|x), all by hand,
    differentiable in the VAE's parameters through z (reparameterized) and q's mean/scale."""
    q = lg.vae.q(x)
    m, s = q.base_dist.loc, q.base_dist.scale
    layer = lg.vae.decoder.net[0]
    mean = z @ layer.weight.T + layer.bias
    log_lik = (-0.5 * ((x - mean) / lg.sigma) ** 2 - math.log(lg.sigma)
               - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_prior = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_q = (-0.5 * ((z - m) / s) ** 2 - torch.log(s) - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_w = (1 - alpha) * (log_lik + log_prior - log_q)
    K = z.shape[0]
    return ((torch.logsumexp(log_w, 0) - math.log(K)) / (1 - alpha)).sum()


def build(name, **options):
    return OBJECTIVES.build(name, {"max_plate_nesting": 1}, **options)


@pytest.mark.parametrize("name,options,alpha", [
    ("iwae", {"num_particles": 7}, 0.0),
    ("iwae", {"num_particles": 1}, 0.0),
    ("renyi", {"alpha": 0.5, "num_particles": 7}, 0.5),
    ("renyi", {"alpha": -1.0, "num_particles": 4}, -1.0),
])
def test_loss_and_gradient_match_a_hand_written_bound(linear_gaussian, name, options, alpha):
    lg = linear_gaussian
    lg.set_poor_guide()
    x = lg.x[:20]
    objective = build(name, **options)
    K = options["num_particles"]
    params = list(lg.vae.parameters())

    pyro.set_rng_seed(123)
    loss = objective.differentiable_loss(lg.vae.model, lg.vae.guide, x)
    got = torch.autograd.grad(loss, params)
    # the same seed gives the same draws: Pyro's vectorized guide samples z of shape (K, B, d)
    pyro.set_rng_seed(123)
    z = lg.vae.q(x).rsample((K,))
    expected = -hand_bound(lg, x, z, alpha)
    want = torch.autograd.grad(expected, params)
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-10)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-10)

    pyro.set_rng_seed(123)  # and it is what Pyro's own RenyiELBO.loss computes
    assert objective.loss(lg.vae.model, lg.vae.guide, x) == pytest.approx(loss.item(), rel=1e-12)


def test_iwae_with_the_exact_posterior_is_log_px_for_any_k(linear_gaussian):
    lg = linear_gaussian
    for k in (1, 3, 50):
        loss = build("iwae", num_particles=k).differentiable_loss(lg.vae.model, lg.vae.guide,
                                                                  lg.x)
        assert loss.item() == pytest.approx(-lg.log_px().sum().item(), rel=1e-12)


def test_one_particle_iwae_is_trace_elbo(linear_gaussian):
    lg = linear_gaussian
    lg.set_poor_guide()
    pyro.set_rng_seed(5)
    iwae = build("iwae", num_particles=1).differentiable_loss(lg.vae.model, lg.vae.guide, lg.x)
    pyro.set_rng_seed(5)
    elbo = Trace_ELBO().differentiable_loss(lg.vae.model, lg.vae.guide, lg.x)
    torch.testing.assert_close(iwae, elbo)


def test_trainer_takes_steps_with_iwae(linear_gaussian):
    lg = linear_gaussian
    lg.set_poor_guide()
    before = [p.detach().clone() for p in lg.vae.parameters()]
    trainer = Trainer(lg.vae, objective={"name": "iwae", "num_particles": 3}, lr=1e-2)
    losses = [trainer.step(lg.x).item() for _ in range(3)]
    assert all(math.isfinite(v) for v in losses)
    assert any(not torch.equal(a, b) for a, b in zip(before, lg.vae.parameters()))


@pytest.mark.parametrize("options,match", [
    ({"alpha": 1}, "alpha = 1 is the ELBO"),
    ({"alpha": True}, "alpha must be a finite number"),
    ({"alpha": float("nan")}, "alpha must be a finite number"),
    ({"num_particles": 0}, "num_particles must be a positive integer"),
])
def test_bad_options_are_config_errors(options, match):
    with pytest.raises(ConfigError, match=match):
        build("renyi", **options)


def test_a_guide_without_reparameterization_is_refused():
    class Unreparameterized(dist.Normal):
        has_rsample = False

    def model(x):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(0.0, 1.0))
            pyro.sample("x", dist.Normal(z, 1.0), obs=x)

    def guide(x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", Unreparameterized(torch.zeros(x.shape[0]), 1.0))

    with pytest.raises(ConfigError, match="reparameterized guide"):
        RenyiELBO(num_particles=2, vectorize_particles=True, max_plate_nesting=1)\
            .differentiable_loss(model, guide, torch.zeros(3))
