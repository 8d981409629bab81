"""The quadrant-completing CVAE: its mask, its losses against hand-written formulas, and its
importance weights against the exact p(x_h | c) of a linear-Gaussian model.

Model and guide (4×4 images; c = the observed quadrants, x_h the hidden pixels)::

    model(x)                                        guide(x)
    --------                                        --------
    c = where(visible, x, −1)                       z ~ N(μ_q, σ_q),  (μ_q, σ_q) = loc_scale(e(x))
    z ~ N(μ_p, σ_p),  (μ_p, σ_p) = loc_scale(r(c))
    x_h ~ Π_{hidden pixels} Bernoulli(logits = d(z))

    e = recognition network, r = prior network, d = decoder.

loss = −[Σ_hidden log p(x_i|z) + log p(z|c) − log q(z|x)] (Trace_ELBO), or with the KL of the
two diagonal Gaussians in closed form (TraceMeanField_ELBO).
"""

import math

import pyro
import pytest
import torch
import torch.nn.functional as F
from pyro import poutine
from pyro.infer import Trace_ELBO, TraceMeanField_ELBO

from pyrovae.cli import main
from pyrovae.errors import ConfigError
from pyrovae.models.cvae_quadrants import CVAEQuadrants, quadrant_mask
from pyrovae.infer.traces import log_weights


def test_the_observed_quadrants_follow_pyros_layout():
    o, h = True, False
    assert quadrant_mask((4, 4), 1).tolist() == [[h, h, h, h], [h, h, h, h],
                                                 [o, o, h, h], [o, o, h, h]]
    assert quadrant_mask((1, 4, 4), 2)[0].tolist() == [[o, o, h, h]] * 4
    assert quadrant_mask((16,), 3).reshape(4, 4).tolist() == [[o, o, o, o], [o, o, o, o],
                                                              [o, o, h, h], [o, o, h, h]]
    with pytest.raises(ConfigError, match="1, 2 or 3"):
        quadrant_mask((4, 4), 4)
    with pytest.raises(ConfigError, match="image data set"):
        quadrant_mask((15,), 1)
    with pytest.raises(ConfigError, match="per-pixel densities"):
        CVAEQuadrants.build((1, 4, 4), likelihood="categorical")


def tiny(observed=1):
    net = {"name": "mlp", "hidden": [5], "activation": "tanh"}
    return CVAEQuadrants.build((1, 4, 4), observed=observed, z_dim=2, encoder=net,
                               prior_net=net, decoder=net)


def data():
    g = torch.Generator().manual_seed(0)
    return (torch.rand(3, 1, 4, 4, generator=g) > 0.5).double()


def log_normal(z, loc, scale):
    return (-0.5 * ((z - loc) / scale) ** 2 - scale.log() - 0.5 * math.log(2 * math.pi)).sum(-1)


def hand_parts(model, x, visible):
    """(μ_q, σ_q), (μ_p, σ_p) and the hidden pixels' Bernoulli log-likelihood as a function."""
    q = model.posterior.loc_scale(model.encoder(x))
    c = torch.where(visible, x, torch.full_like(x, -1.0))
    p = model.posterior.loc_scale(model.prior_net(c))

    def log_lik(z):
        logits = model.decoder(z)[..., 0, :, :, :]
        per_pixel = x * logits - F.softplus(logits)
        return (per_pixel * (~visible)).flatten(-3).sum(-1)

    return q, p, log_lik


def guide_draw(model, x, seed, q):
    pyro.set_rng_seed(seed)
    z = poutine.trace(model.guide).get_trace(x).nodes["z"]["value"]
    eps = ((z - q[0]) / q[1]).detach()
    return q[0] + q[1] * eps


def check(model, loss, expected):
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12, abs=1e-12)
    params = list(model.parameters())
    got = torch.autograd.grad(loss, params, retain_graph=True)
    want = torch.autograd.grad(expected, params, retain_graph=True)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("observed", [1, 3])
def test_trace_loss_and_gradients_equal_the_hand_written_elbo(float64, observed):
    model, x = tiny(observed), data()
    visible = quadrant_mask((1, 4, 4), observed)
    pyro.set_rng_seed(4)
    loss = Trace_ELBO().differentiable_loss(model.model, model.guide, x)
    q, p, log_lik = hand_parts(model, x, visible)
    z = guide_draw(model, x, 4, q)
    expected = -(log_lik(z) + log_normal(z, *p) - log_normal(z, *q)).sum()
    check(model, loss, expected)


def test_meanfield_loss_has_the_kl_between_the_two_networks_gaussians(float64):
    model, x = tiny(2), data()
    visible = quadrant_mask((1, 4, 4), 2)
    pyro.set_rng_seed(2)
    loss = TraceMeanField_ELBO().differentiable_loss(model.model, model.guide, x)
    (mq, sq), (mp, sp), log_lik = hand_parts(model, x, visible)
    z = guide_draw(model, x, 2, (mq, sq))
    kl = (torch.log(sp / sq) + (sq**2 + (mq - mp) ** 2) / (2 * sp**2) - 0.5).sum(-1)
    check(model, loss, -(log_lik(z) - kl).sum())


def test_observed_pixels_are_not_predicted(float64):
    """log p(x_h|z) does not change when the observed pixels of x do."""
    model, x = tiny(1), data()
    z = torch.randn(3, 2)
    flipped = torch.where(model.visible, 1 - x, x)
    torch.testing.assert_close(model.p_x(z).log_prob(x), model.p_x(z).log_prob(flipped))
    changed = torch.where(model.visible, x, 1 - x)
    assert (model.p_x(z).log_prob(x) != model.p_x(z).log_prob(changed)).all()


class LinearGaussian:
    """Linear networks and a fixed-scale Gaussian: p(z|c) = N(m(c), diag s(c)²) and
    x = W z + b + σ ε, so p(x_h|c) = N(x_h; W_h m + b_h, W_h diag(s²) W_hᵀ + σ² I)."""

    def __init__(self, sigma=0.5):
        linear = {"name": "mlp", "hidden": []}
        self.sigma = sigma
        self.model = CVAEQuadrants.build(
            (1, 4, 4), observed=1, z_dim=2, encoder=linear, prior_net=linear, decoder=linear,
            likelihood={"name": "gaussian", "scale": sigma, "learn_scale": "fixed"})
        g = torch.Generator().manual_seed(3)
        with torch.no_grad():
            for layer in (self.model.prior_net.net[0], self.model.encoder.net[0]):
                layer.weight.copy_(0.3 * torch.randn(layer.weight.shape, generator=g))
            self.model.decoder.net[0].weight.copy_(torch.randn(16, 2, generator=g))
            self.model.decoder.net[0].bias.copy_(torch.randn(16, generator=g))
        self.x = torch.randn(4, 1, 4, 4, generator=g)

    def log_p_hidden(self, x):
        m = self.model
        hidden = ~m.visible.reshape(-1)
        loc, scale = m.posterior.loc_scale(m.prior_net(m.condition(x)))
        W, b = m.decoder.net[0].weight[hidden], m.decoder.net[0].bias[hidden]
        mean = loc @ W.T + b
        out = []
        for n in range(x.shape[0]):
            cov = W @ torch.diag(scale[n] ** 2) @ W.T + self.sigma**2 * torch.eye(W.shape[0])
            r = x[n].reshape(-1)[hidden] - mean[n]
            out.append(-0.5 * (r @ torch.linalg.solve(cov, r) + torch.logdet(cov)
                               + r.numel() * math.log(2 * math.pi)))
        return torch.stack(out).detach()


@pytest.mark.parametrize("proposal", ["guide", "prior"])
def test_importance_weights_are_unbiased_for_p_hidden_given_observed(float64, proposal):
    """The mean of w / p(x_h|c) over k = 20000 draws is 1 within 5 standard errors (from the
    draws), for either proposal."""
    lg = LinearGaussian()
    k = 20000
    with torch.no_grad():
        log_w = log_weights(lg.model, lg.x, None, k, proposal)
    ratio = torch.exp(log_w - lg.log_p_hidden(lg.x))
    error, stderr = (ratio.mean(0) - 1).abs(), ratio.std(0) / math.sqrt(k)
    assert (error < 5 * stderr).all(), (error, stderr)


def test_the_command_trains_completes_and_refuses_to_sample(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--model", "cvae-quadrants", "--out", str(run), "--epochs", "1",
                 "--quiet", "--set", "model.encoder.hidden=[16]",
                 "--set", "model.prior_net.hidden=[16]", "--set", "model.decoder.hidden=[16]"]) == 0
    assert (run / "completions.png").stat().st_size > 0
    assert not (run / "samples.png").exists()
    capsys.readouterr()
    assert main(["sample", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "completions.png" in err
