"""Gradient estimators: the Monte Carlo (Trace_ELBO) and analytic-KL (TraceMeanField_ELBO)
gradients are unbiased for the gradient of the closed-form ELBO of a linear-Gaussian VAE.

Tolerance: for every parameter coordinate, z = (mean of D draws − exact) / (its standard error);
with D = 200 draws z is close to N(0, 1), and |z| < 5 for all of the 46 coordinates fails a
correct estimator with probability < 46 × 6e-7 (Bonferroni); the seed is fixed anyway.
"""

import math

import numpy as np
import pyro
import pytest
import torch
from pyro.infer import Trace_ELBO, TraceMeanField_ELBO

from pyrovae.infer.gradients import gradient_draws, noise_statistics
from pyrovae.infer.traces import parameter_groups


def closed_form_loss(lg, x):
    """−ELBO per example, as a function of the VAE's parameters (hand-written closed form)."""
    q = lg.vae.q(x)
    m, s = q.base_dist.loc, q.base_dist.scale
    layer = lg.vae.decoder.net[0]
    W, b = layer.weight, layer.bias
    resid = x - m @ W.T - b
    recon = (-0.5 * lg.D * math.log(2 * math.pi * lg.sigma**2)
             - ((resid**2).sum(-1) + (s**2 * (W**2).sum(0)).sum(-1)) / (2 * lg.sigma**2))
    kl = 0.5 * (s**2 + m**2 - 1 - torch.log(s**2)).sum(-1)
    return -(recon - kl).mean()


@pytest.mark.parametrize("objective", [Trace_ELBO(), TraceMeanField_ELBO()],
                         ids=["trace", "meanfield"])
def test_gradient_is_unbiased_for_the_closed_form(linear_gaussian, objective):
    lg = linear_gaussian
    lg.set_poor_guide()
    x = lg.x[:50]
    groups = parameter_groups(lg.vae)  # the top-level modules with trainable parameters
    assert set(groups) == {"encoder", "decoder"}
    draws = gradient_draws(lg.vae, objective, x, draws=200, groups=groups)
    loss = closed_form_loss(lg, x)
    for name, params in groups.items():
        exact = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params,
                                                                      retain_graph=True)])
        mean = draws[name].mean(0)
        se = draws[name].std(0) / math.sqrt(draws[name].shape[0])
        z = (mean - exact) / se
        assert (se > 0).all()
        assert z.abs().max() < 5, (name, z)


def test_noise_statistics_match_a_hand_computation():
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(30, 7)) * np.arange(1, 8) + np.linspace(-1, 1, 7)
    stats = noise_statistics(torch.tensor(samples))
    mean, var = samples.mean(0), samples.var(0, ddof=1)
    assert stats["variance"] == pytest.approx(var.mean(), rel=1e-12)
    assert stats["mean_norm"] == pytest.approx(np.linalg.norm(mean), rel=1e-12)
    assert stats["snr"] == pytest.approx(np.linalg.norm(mean) / np.sqrt(var.sum()), rel=1e-12)


def test_gradient_noise_is_that_of_the_elbo(linear_gaussian):
    """The noise is that of the ELBO's gradient (β = 1): the draws equal, under the same seed,
    gradients of the objective's own loss per example at β = 1."""
    lg = linear_gaussian
    lg.set_poor_guide()
    x = lg.x[:50]
    objective = Trace_ELBO()
    groups = parameter_groups(lg.vae)
    pyro.set_rng_seed(3)
    draws = gradient_draws(lg.vae, objective, x, draws=2, groups=groups)
    pyro.set_rng_seed(3)
    for d in range(2):
        loss = objective.differentiable_loss(lg.vae.model, lg.vae.guide, x) / x.shape[0]
        grads = torch.autograd.grad(loss, groups["encoder"])
        assert torch.allclose(draws["encoder"][d], torch.cat([g.reshape(-1) for g in grads]).double())
