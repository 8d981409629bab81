"""Cross-checks of Pyro's ELBOs on the VAE against hand-written formulas.

The model and guide under test::

    model(x):  z ~ N(0, I)                       guide(x):  (μ, σ) = head(encoder(x))
               x ~ p(x | decoder(z))                        z ~ N(μ, diag σ²)

Every reference below is computed from the same network outputs (μ, σ, decoder output) with
the densities written out by hand: no ``torch.distributions`` log_prob and no ``kl_divergence``.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from pyro import poutine
from pyro.infer import Trace_ELBO, TraceMeanField_ELBO

from pyrovae import VAE

LOG_2PI = math.log(2 * math.pi)


def normal_logpdf(v, loc, scale):
    """log N(v; loc, scale²) summed over the last dimension, by hand."""
    return (-0.5 * ((v - loc) / scale) ** 2 - torch.log(scale) - 0.5 * LOG_2PI).sum(-1)


def bernoulli_loglik(x, logits):
    """Σ_i x_i log σ(l_i) + (1 − x_i) log(1 − σ(l_i)), with log(1 − σ(l)) = log σ(−l)."""
    return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).flatten(1).sum(-1)


def gaussian_loglik(x, loc, scale):
    return (-0.5 * ((x - loc) / scale) ** 2 - torch.log(scale) - 0.5 * LOG_2PI).flatten(1).sum(
        -1
    )


def kl_std_normal(mu, sigma):
    """KL(N(μ, σ²) || N(0, I)) = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²)."""
    return 0.5 * (mu**2 + sigma**2 - 1 - torch.log(sigma**2)).sum(-1)


LIKELIHOODS = {
    "bernoulli": "bernoulli",
    "gaussian-fixed": {"name": "gaussian", "scale": 0.3, "learn_scale": "fixed"},
    "gaussian-global": {"name": "gaussian", "scale": 0.5, "learn_scale": "global"},
}


def make(likelihood, z_dim=3):
    vae = VAE.build(
        (1, 4, 4),
        z_dim=z_dim,
        likelihood=LIKELIHOODS[likelihood],
        encoder={"name": "mlp", "hidden": [7], "activation": "tanh"},
        decoder={"name": "mlp", "hidden": [5], "activation": "tanh"},
    ).double()
    x = torch.rand(6, 1, 4, 4, dtype=torch.float64)
    if likelihood == "bernoulli":
        x = torch.bernoulli(x)
    return vae, x


def log_lik(vae, x, z, likelihood):
    out = vae.decoder(z)[:, 0]  # the single parameter channel
    if likelihood == "bernoulli":
        return bernoulli_loglik(x, out)
    scale = vae.likelihood.scale(vae.decoder(z))
    return gaussian_loglik(x, out, scale.expand_as(out))


def pinned_guide(vae, x, z):
    """The guide with its draw of z replaced by ``z`` (a replayed, not observed, site)."""
    trace = poutine.trace(vae.guide).get_trace(x)
    trace.nodes["z"]["value"] = z
    return poutine.replay(vae.guide, trace=trace)


def grads(loss, params):
    return torch.autograd.grad(loss, params, allow_unused=True)


@pytest.mark.parametrize("likelihood", list(LIKELIHOODS))
def test_trace_elbo_equals_hand_written_with_pinned_z(float64, likelihood):
    vae, x = make(likelihood)
    z = torch.randn(x.shape[0], vae.z_dim)
    loss = Trace_ELBO().differentiable_loss(vae.model, pinned_guide(vae, x, z), x)

    mu, sigma = vae.posterior.loc_scale(vae.encoder(x))
    zeros, ones = torch.zeros_like(z), torch.ones_like(z)
    expected = -(
        log_lik(vae, x, z, likelihood) + normal_logpdf(z, zeros, ones) - normal_logpdf(z, mu, sigma)
    ).sum()
    assert torch.allclose(loss, expected, rtol=1e-10, atol=1e-10)

    params = [p for p in vae.parameters()]
    for g_pyro, g_hand in zip(grads(loss, params), grads(expected, params)):
        if g_hand is None:
            assert g_pyro is None or torch.all(g_pyro == 0)
        else:
            assert torch.allclose(g_pyro, g_hand, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("likelihood", list(LIKELIHOODS))
def test_meanfield_elbo_equals_closed_form_kl(float64, likelihood):
    vae, x = make(likelihood)
    z = torch.randn(x.shape[0], vae.z_dim)
    loss = TraceMeanField_ELBO().differentiable_loss(vae.model, pinned_guide(vae, x, z), x)

    mu, sigma = vae.posterior.loc_scale(vae.encoder(x))
    expected = -(log_lik(vae, x, z, likelihood) - kl_std_normal(mu, sigma)).sum()
    assert torch.allclose(loss, expected, rtol=1e-10, atol=1e-10)

    named = dict(vae.named_parameters())
    g_pyro = dict(zip(named, grads(loss, list(named.values()))))
    g_hand = dict(zip(named, grads(expected, list(named.values()))))
    for name in named:
        assert g_hand[name] is not None, name
        assert torch.allclose(g_pyro[name], g_hand[name], rtol=1e-8, atol=1e-10), name


def test_kl_weight_scales_only_the_kl(float64):
    vae, x = make("bernoulli")
    z = torch.randn(x.shape[0], vae.z_dim)
    loss = TraceMeanField_ELBO().differentiable_loss(
        vae.model, pinned_guide(vae, x, z), x, kl_weight=0.25)
    mu, sigma = vae.posterior.loc_scale(vae.encoder(x))
    expected = -(log_lik(vae, x, z, "bernoulli") - 0.25 * kl_std_normal(mu, sigma)).sum()
    assert torch.allclose(loss, expected, rtol=1e-10, atol=1e-10)


def linear_gaussian_vae(z_dim=2, scale=0.4):
    """A VAE whose ELBO has a closed form: linear decoder, Gaussian likelihood, N(0, I) prior."""
    return VAE.build(
        (5,),
        z_dim=z_dim,
        likelihood={"name": "gaussian", "scale": scale, "learn_scale": "fixed"},
        encoder={"name": "mlp", "hidden": [4], "activation": "tanh"},
        decoder={"name": "mlp", "hidden": []},
    ).double()


def closed_form_elbo(vae, x, scale):
    """E_q[log p(x|z)] − KL for x ~ N(Wz + b, s² I), q = N(μ, diag σ²):
    E_q‖x − Wz − b‖² = ‖x − Wμ − b‖² + Σ_ij W_ij² σ_j²."""
    linear = vae.decoder.net[0]
    W, b = linear.weight, linear.bias
    mu, sigma = vae.posterior.loc_scale(vae.encoder(x))
    resid = x - mu @ W.T - b
    sq = (resid**2).sum(-1) + (sigma**2) @ (W**2).sum(0)
    D = x.shape[-1]
    expected_loglik = -0.5 * sq / scale**2 - D * math.log(scale) - 0.5 * D * LOG_2PI
    return expected_loglik - kl_std_normal(mu, sigma)


def test_trace_elbo_converges_to_analytic_value(float64):
    """Trace_ELBO with many vectorized particles matches the closed-form ELBO.

    Tolerance: the mean of R independent estimates (each over P vectorized particles) has
    standard error s/√R, with s their sample standard deviation; 4 standard errors leave a
    false-failure probability below 1e-4 for the fixed seed (and the seed is fixed).
    """
    vae = linear_gaussian_vae()
    x = torch.randn(8, 5)
    exact = -closed_form_elbo(vae, x, 0.4).sum().item()
    elbo = Trace_ELBO(num_particles=2000, vectorize_particles=True, max_plate_nesting=1)
    with torch.no_grad():
        estimates = torch.tensor([elbo.loss(vae.model, vae.guide, x) for _ in range(20)])
    stderr = estimates.std().item() / math.sqrt(len(estimates))
    assert stderr > 0
    assert abs(estimates.mean().item() - exact) < 4 * stderr
    # and the check has power: an offset of half a nat per example would be detected
    assert 4 * stderr < 0.5 * x.shape[0]


def test_meanfield_elbo_converges_to_analytic_value(float64):
    """The analytic-KL objective differs from the closed form only by the MC reconstruction."""
    vae = linear_gaussian_vae()
    x = torch.randn(8, 5)
    exact = -closed_form_elbo(vae, x, 0.4).sum().item()
    elbo = TraceMeanField_ELBO(num_particles=2000, vectorize_particles=True, max_plate_nesting=1)
    with torch.no_grad():
        estimates = torch.tensor([elbo.loss(vae.model, vae.guide, x) for _ in range(20)])
    stderr = estimates.std().item() / math.sqrt(len(estimates))
    assert abs(estimates.mean().item() - exact) < 4 * stderr
