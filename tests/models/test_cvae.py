"""The conditional VAE: its losses against hand-written formulas, its bounds on log p(x|y)
against a closed form, and its refusals.

The model and guide under test (K = 3 classes, x in {0,1}^4, z in R^2)::

    model(x, y)                                     guide(x, y)
    -----------                                     -----------
    z ~ p(z|y)   N(0, I), or N(m_y, diag s_y²)      z ~ N(μ, σ),  (μ, σ) = loc_scale(
    x ~ Bernoulli(logits = d([z, onehot(y)]))           W relu(e(x) + E onehot(y)) + b)

    e = encoder, d = decoder (tiny MLPs), E = the label vectors, W, b = the head.

y is observed, not a site: the loss is −[log p(x|z,y) + log p(z|y) − log q(z|x,y)] with z the
guide's reparameterized draw (Trace_ELBO), or with the KL in closed form (TraceMeanField_ELBO)::

    KL(N(μ, σ²) || N(m, s²)) = Σ_j [log(s_j/σ_j) + (σ_j² + (μ_j − m_j)²) / (2 s_j²) − ½].

The densities are written out by hand; only the networks are shared with the code under test.
"""

import math

import pyro
import pytest
import torch
import torch.nn.functional as F
from pyro import poutine
from pyro.infer import Trace_ELBO, TraceMeanField_ELBO

import pyrovae as pv
from pyrovae.errors import ConfigError, DataError
from pyrovae.infer.elbo import evaluate_elbo
from pyrovae.infer.importance import importance_bound
from pyrovae.models.cvae import CVAE
from pyrovae.infer.elbo import elbo_terms
from pyrovae.infer.traces import log_weights

K = 3


def tiny_cvae(class_prior=False):
    net = {"name": "mlp", "hidden": [5], "activation": "tanh"}
    cvae = CVAE.build((4,), K, z_dim=2, encoder=net, decoder=net, features=3,
                      class_prior=class_prior)
    if class_prior:  # move the class Gaussians off N(0, I), so a wrong class would show
        with torch.no_grad():
            cvae.class_prior.loc.copy_(torch.randn(K, 2))
            cvae.class_prior.raw_scale.copy_(torch.randn(K, 2))
    return cvae


def data():
    return torch.tensor([[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0]]), torch.tensor([2, 0])


def log_normal(z, loc, scale):
    return (-0.5 * ((z - loc) / scale) ** 2 - scale.log() - 0.5 * math.log(2 * math.pi)).sum(-1)


def log_bernoulli(x, logits):
    return (x * logits - F.softplus(logits)).sum(-1)


def hand_q(cvae, x, y):
    """(μ, σ) of q(z|x,y): W relu(e(x) + E onehot(y)) + b, then the family's loc_scale."""
    onehot = torch.eye(K, dtype=x.dtype)[y]
    h = torch.relu(cvae.encoder(x) + onehot @ cvae.label_embedding.weight.T)
    return cvae.posterior.loc_scale(h @ cvae.head.weight.T + cvae.head.bias)


def hand_prior(cvae, y, like):
    """(m, s) of p(z|y): the class's Gaussian (scale softplus(raw)) or N(0, I)."""
    if cvae.class_prior is None:
        return torch.zeros_like(like), torch.ones_like(like)
    return cvae.class_prior.loc[y], F.softplus(cvae.class_prior.raw_scale[y])


def hand_log_likelihood(cvae, x, y, z):
    onehot = torch.eye(K, dtype=x.dtype)[y].expand(*z.shape[:-1], K)
    return log_bernoulli(x, cvae.decoder(torch.cat([z, onehot], -1))[..., 0, :])


def guide_draw(cvae, x, y, seed):
    """The z the guide draws under ``seed``, rebuilt as loc + scale · ε with ε read off it, so
    it carries the same reparameterized gradient as Pyro's draw."""
    pyro.set_rng_seed(seed)
    z = poutine.trace(cvae.guide).get_trace(x, y).nodes["z"]["value"]
    loc, scale = hand_q(cvae, x, y)
    eps = ((z - loc) / scale).detach()
    return loc + scale * eps


def grads(loss, params):
    return torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)


def assert_same_loss_and_gradients(cvae, loss, expected):
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12, abs=1e-12)
    params = list(cvae.parameters())
    for got, want in zip(grads(loss, params), grads(expected, params)):
        if want is None:
            assert got is None or got.abs().sum() == 0
        else:
            torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("class_prior", [False, True], ids=["shared-prior", "class-prior"])
@pytest.mark.parametrize("kl_weight", [1.0, 0.5])
def test_trace_loss_and_gradients_equal_the_hand_written_elbo(float64, class_prior, kl_weight):
    cvae = tiny_cvae(class_prior)
    x, y = data()
    pyro.set_rng_seed(7)
    loss = Trace_ELBO().differentiable_loss(cvae.model, cvae.guide, x, y, kl_weight=kl_weight)
    z = guide_draw(cvae, x, y, seed=7)
    loc, scale = hand_q(cvae, x, y)
    m, s = hand_prior(cvae, y, loc)
    expected = -(hand_log_likelihood(cvae, x, y, z)
                 + kl_weight * (log_normal(z, m, s) - log_normal(z, loc, scale))).sum()
    assert_same_loss_and_gradients(cvae, loss, expected)


@pytest.mark.parametrize("class_prior", [False, True], ids=["shared-prior", "class-prior"])
def test_meanfield_loss_uses_the_closed_form_kl_to_p_z_given_y(float64, class_prior):
    cvae = tiny_cvae(class_prior)
    x, y = data()
    pyro.set_rng_seed(3)
    loss = TraceMeanField_ELBO().differentiable_loss(cvae.model, cvae.guide, x, y)
    z = guide_draw(cvae, x, y, seed=3)
    loc, scale = hand_q(cvae, x, y)
    m, s = hand_prior(cvae, y, loc)
    kl = (torch.log(s / scale) + (scale**2 + (loc - m) ** 2) / (2 * s**2) - 0.5).sum(-1)
    expected = -(hand_log_likelihood(cvae, x, y, z) - kl).sum()
    assert_same_loss_and_gradients(cvae, loss, expected)


def test_the_library_objectives_train_the_cvae_on_its_labels(float64):
    """pyrovae's own sync-free objective (what the trainer uses) gives Pyro's loss."""
    cvae = tiny_cvae(class_prior=True)
    x, y = data()
    objective = pv.infer.objectives.OBJECTIVES.build("meanfield", {"max_plate_nesting": 1})
    pyro.set_rng_seed(5)
    ours = cvae.loss(objective, x, y)
    pyro.set_rng_seed(5)
    pyros = TraceMeanField_ELBO().differentiable_loss(cvae.model, cvae.guide, x, y)
    assert ours.item() == pytest.approx(pyros.item(), rel=1e-12)


def test_elbo_terms_are_the_hand_written_conditional_elbo(float64):
    """Analytic KL to p(z|y) exactly; the reconstruction term averages S = 4000 draws: the
    tolerance is 5 of its standard errors (computed from an independent hand-written average)."""
    cvae = tiny_cvae(class_prior=True)
    x, y = data()
    s_draws = 4000
    terms, method = elbo_terms(cvae, x, num_samples=s_draws, y=y)
    assert method == "analytic"
    loc, scale = hand_q(cvae, x, y)
    m, s = hand_prior(cvae, y, loc)
    kl = (torch.log(s / scale) + (scale**2 + (loc - m) ** 2) / (2 * s**2) - 0.5).sum(-1)
    torch.testing.assert_close(terms["kl"], kl.detach(), rtol=1e-12, atol=1e-12)
    with torch.no_grad():
        z = loc + scale * torch.randn(s_draws, *loc.shape)
        rec = hand_log_likelihood(cvae, x, y, z)
    tolerance = 5 * rec.std(0) * math.sqrt(2 / s_draws)
    assert ((terms["reconstruction"] - rec.mean(0)).abs() < tolerance).all()
    torch.testing.assert_close(terms["elbo"], terms["reconstruction"] - terms["kl"])


def test_elbo_terms_depend_on_the_label(float64):
    cvae = tiny_cvae(class_prior=True)
    x, y = data()
    kl_right = elbo_terms(cvae, x, y=y)[0]["kl"]
    kl_wrong = elbo_terms(cvae, x, y=(y + 1) % K)[0]["kl"]
    assert (kl_right - kl_wrong).abs().min() > 1e-3


class LinearGaussianCVAE:
    """p(z) = N(0, I), p(x|z,y) = N(W z + V onehot(y) + b, σ² I): a one-layer decoder on
    [z, onehot(y)] with a fixed-scale Gaussian, so log p(x|y) = log N(x; b + V_y, WWᵀ + σ²I)."""

    def __init__(self, data_dim=5, sigma=0.6):
        g = torch.Generator().manual_seed(1)
        self.sigma = sigma
        self.cvae = CVAE.build(
            (data_dim,), K, z_dim=2, features=4,
            likelihood={"name": "gaussian", "scale": sigma, "learn_scale": "fixed"},
            encoder={"name": "mlp", "hidden": []}, decoder={"name": "mlp", "hidden": []},
        )
        self.W = torch.randn(data_dim, 2, generator=g)
        self.V = 2 * torch.randn(data_dim, K, generator=g)
        self.b = torch.randn(data_dim, generator=g)
        with torch.no_grad():
            self.cvae.decoder.net[0].weight.copy_(torch.cat([self.W, self.V], 1))
            self.cvae.decoder.net[0].bias.copy_(self.b)
        self.y = torch.tensor([0, 1, 2, 1])
        z = torch.randn(4, 2, generator=g)
        self.x = z @ self.W.T + self.V.T[self.y] + self.b + sigma * torch.randn(4, data_dim,
                                                                                generator=g)

    def log_px_given_y(self, y):
        cov = self.W @ self.W.T + self.sigma**2 * torch.eye(self.W.shape[0])
        r = self.x - self.b - self.V.T[y]
        maha = (r * torch.linalg.solve(cov, r.T).T).sum(-1)
        return -0.5 * (maha + torch.logdet(cov) + r.shape[-1] * math.log(2 * math.pi))


@pytest.mark.parametrize("proposal", ["guide", "prior"])
def test_importance_weights_are_unbiased_for_p_x_given_y(float64, proposal):
    """E[w] = p(x|y) for either proposal: the mean of w / p(x|y) over k = 20000 draws is 1
    within 5 standard errors (computed from the draws); with another label it is not."""
    lg = LinearGaussianCVAE()
    k = 20000
    for y, should_match in ((lg.y, True), ((lg.y + 1) % K, False)):
        with torch.no_grad():
            log_w = log_weights(lg.cvae, lg.x, y, k, proposal)
        ratio = torch.exp(log_w - lg.log_px_given_y(lg.y))
        error = (ratio.mean(0) - 1).abs()
        stderr = ratio.std(0) / math.sqrt(k)
        if should_match:
            assert (error < 5 * stderr).all(), (error, stderr)
        else:
            assert (error > 5 * stderr).any()


def test_the_bounds_sandwich_log_p_x_given_y(float64):
    """ELBO ≤ L_1000 ≤ log p(x|y) + 3 standard errors of L_1000 (here below 0.05 nats)."""
    lg = LinearGaussianCVAE()
    exact = lg.log_px_given_y(lg.y)
    elbo = evaluate_elbo(lg.cvae, lg.x, num_samples=2000, y=lg.y)["elbo"]
    bounds = torch.stack([importance_bound(lg.cvae, lg.x, 1000, y=lg.y, seed=seed)
                          for seed in range(5)])  # independent keyed draws
    assert elbo < bounds.mean().item() - 0.01
    assert (bounds.mean(0) <= exact + 3 * bounds.std(0) / math.sqrt(5) + 1e-9).all()
    assert (exact - bounds.mean(0) < 0.5).all()  # a 2-d latent: K = 1000 gets close


def test_samples_of_one_class_come_from_that_class(float64):
    """With the decoder's label weights made huge, a class's samples are its own pattern."""
    lg = LinearGaussianCVAE()
    with torch.no_grad():
        lg.cvae.decoder.net[0].weight[:, 2:].mul_(100)
        lg.cvae.decoder.net[0].weight[:, :2].zero_()
    for c in range(K):
        samples = lg.cvae.sample(6, c)
        torch.testing.assert_close(samples, (100 * lg.V[:, c] + lg.b).expand(6, -1))
    cycled = lg.cvae.sample(6)
    torch.testing.assert_close(cycled[:3], (100 * lg.V.T + lg.b))


def test_refusals_name_the_fix():
    with pytest.raises(DataError, match="labelled data set"):
        CVAE.build((4,), None)
    with pytest.raises(ConfigError, match="class_prior"):
        CVAE.build((4,), K, prior="mixture", class_prior=True)
    with pytest.raises(ConfigError, match="posterior"):
        CVAE.build((4,), K, prior="vamp")
    cvae = tiny_cvae()
    with pytest.raises(DataError, match="labels"):
        cvae.guide(data()[0])
    data_set = pv.load_dataset("digits", binarize="dynamic")
    with pytest.raises(DataError, match="classes"):
        tiny = CVAE.build(data_set.event_shape, 4)
        tiny.check_data(data_set)
