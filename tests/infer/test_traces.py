"""The estimators derived from traces, on Pyro programs that no pyrovae kind defines.

Two hand-written models with closed forms (float64):

    linear-Gaussian:   z ~ N(0, I_d)            x | z ~ N(W z + b, σ² I_D)
    mixture:           y ~ Cat(π),  z | y ~ N(μ_y, I_d),  x | z ~ N(W z + b, σ² I_D)

    guide (both):      [y ~ Cat(r(x)), enumerated]   z ~ N(m(x[, y]), S)

* log p(x|y) = log N(x; W μ_y + b, W Wᵀ + σ² I) (μ = 0 without y), log p(x) = log Σ_y π_y p(x|y);
* the exact posterior: p(y|x) ∝ π_y p(x|y), p(z|x,y) = N(M⁻¹(Wᵀ(x − b)/σ² + μ_y), M⁻¹),
  M = I + WᵀW/σ²; with it every importance weight equals p(x), and so does the ELBO;
* for any Gaussian q = N(m, S): E_q[log p(x|z)] = −½ D log 2πσ² − (‖x − W m − b‖² +
  tr(Wᵀ W S)) / 2σ², and KL(N(m, S) ‖ N(μ, I)) = ½(tr S + ‖m − μ‖² − d − log det S).

The programs are plain ``nn.Module`` methods with ``pyro.sample`` calls: nothing of pyrovae's
model interface, so these tests are the generic path's twins of the kinds' estimator tests.
"""

import math

import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro import poutine
from torch import nn

from pyrovae.infer.elbo import NoClosedForm, evaluate_elbo
from pyrovae.infer.importance import importance_bound
from pyrovae.infer.naive import naive_estimate
from pyrovae.infer.sites import mean_field_sites
from pyrovae.infer.traces import elbo_terms, log_weights, trace_pair


class Gaussians(nn.Module):
    """The linear-Gaussian model (``classes=0``) or the mixture (``classes=C``), with a guide
    that is the exact posterior unless spoiled."""

    def __init__(self, classes=0, D=5, d=2, sigma=0.7, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.C, self.D, self.d, self.sigma = classes, D, d, sigma
        self.W = torch.randn(D, d, generator=g, dtype=torch.float64)
        self.b = torch.randn(D, generator=g, dtype=torch.float64)
        self.mu = 2 * torch.randn(max(classes, 1), d, generator=g, dtype=torch.float64)
        if not classes:
            self.mu.zero_()
        self.pi = torch.softmax(torch.randn(max(classes, 1), generator=g, dtype=torch.float64), 0)
        M = torch.eye(d, dtype=torch.float64) + self.W.T @ self.W / sigma**2
        self.S = torch.linalg.inv(M)
        self.shift, self.scale, self.logit_shift = 0.0, 1.0, None
        z = self.mu[torch.randint(max(classes, 1), (40,), generator=g)] + torch.randn(
            40, d, generator=g, dtype=torch.float64)
        self.x = z @ self.W.T + self.b + sigma * torch.randn(40, D, generator=g,
                                                             dtype=torch.float64)

    # -- the closed forms ---------------------------------------------------------------
    def marginal(self, y):  # p(x|y) as a distribution
        cov = self.W @ self.W.T + self.sigma**2 * torch.eye(self.D, dtype=torch.float64)
        return dist.MultivariateNormal(self.mu[y] @ self.W.T + self.b, cov)

    def log_px(self, x):
        per_class = torch.stack([self.marginal(c).log_prob(x) for c in range(len(self.pi))], -1)
        return torch.logsumexp(per_class + self.pi.log(), -1)

    def posterior_y(self, x):
        per_class = torch.stack([self.marginal(c).log_prob(x) for c in range(len(self.pi))], -1)
        logits = per_class + self.pi.log()
        if self.logit_shift is not None:
            logits = logits + self.logit_shift
        return torch.softmax(logits, -1)

    def q_mean(self, x, y):
        m = ((x - self.b) @ self.W / self.sigma**2 + self.mu[y]) @ self.S.T
        return m + self.shift

    def q_cov(self):
        return self.S * self.scale

    # -- the Pyro programs ----------------------------------------------------------------
    def model(self, x):
        with pyro.plate("data", x.shape[0]):
            y = pyro.sample("y", dist.Categorical(self.pi)) if self.C else 0
            z = pyro.sample("z", dist.MultivariateNormal(self.mu[y], torch.eye(self.d).double()))
            pyro.sample("x", dist.Normal(z @ self.W.T + self.b, self.sigma).to_event(1), obs=x)

    def guide(self, x):
        with pyro.plate("data", x.shape[0]):
            y = 0
            if self.C:
                y = pyro.sample("y", dist.Categorical(self.posterior_y(x)),
                                infer={"enumerate": "parallel"})
            pyro.sample("z", dist.MultivariateNormal(self.q_mean(x, y), self.q_cov()))


def expected_reconstruction(m, S, x, model):
    """E_{N(m, S)}[log p(x|z)] in closed form."""
    r = x - m @ model.W.T - model.b
    trace = torch.einsum("ij,...jk,ik->...", model.W, S, model.W) if S.dim() > 2 else \
        torch.trace(model.W.T @ model.W @ S)
    return (-0.5 * model.D * math.log(2 * math.pi * model.sigma**2)
            - ((r**2).sum(-1) + trace) / (2 * model.sigma**2))


def gaussian_kl(m, S, mu):
    d = m.shape[-1]
    return 0.5 * (torch.trace(S) + ((m - mu) ** 2).sum(-1) - d - torch.logdet(S))


@pytest.fixture(autouse=True)
def _double(float64):
    yield


@pytest.mark.parametrize("classes", [0, 3], ids=["linear-gaussian", "mixture"])
@pytest.mark.parametrize("k", [1, 7])
def test_exact_posterior_gives_log_px_for_every_draw(classes, k):
    """Each weight equals p(x) when q is the posterior (and y is summed exactly): a missing
    log p(y), a q(y|x) inside the weight or a sampled y breaks the equality."""
    model = Gaussians(classes)
    log_w = log_weights(model, model.x, num_samples=k)
    torch.testing.assert_close(log_w, model.log_px(model.x).expand(k, -1))
    torch.testing.assert_close(importance_bound(model, model.x, k), model.log_px(model.x))
    # the Monte Carlo ELBO is log p(x) at every draw (the analytic KL only on average)
    terms, methods = elbo_terms(model, model.x, num_samples=k, kl="monte-carlo")
    torch.testing.assert_close(terms["elbo"], model.log_px(model.x))
    assert methods == ({"y": "exact", "z": "monte-carlo"} if classes else {"z": "monte-carlo"})
    assert elbo_terms(model, model.x)[1]["z"] == "analytic"


@pytest.mark.parametrize("classes", [0, 3], ids=["linear-gaussian", "mixture"])
def test_kl_terms_are_the_closed_forms_with_a_poor_guide(classes):
    """Per site: KL_z = Σ_y q(y) KL(q(z|x,y) ‖ p(z|y)) exactly, KL_y = Σ_y q(y) log(q(y)/π_y)
    exactly; the reconstruction averages S = 4000 draws: 5 standard errors (from the closed
    form of its variance being unknown, the standard error is estimated from the draws' spread
    through the Monte Carlo version of the same term below)."""
    model = Gaussians(classes)
    model.shift, model.scale = 0.3, 1.7
    model.logit_shift = torch.tensor([0.5, -0.2, 0.1][: max(classes, 1)]).double()
    x = model.x
    q_y = model.posterior_y(x) if classes else torch.ones(x.shape[0], 1).double()
    kl_z = torch.stack([gaussian_kl(model.q_mean(x, c), model.q_cov(), model.mu[c])
                        for c in range(q_y.shape[1])], -1)
    rec = torch.stack([expected_reconstruction(model.q_mean(x, c), model.q_cov(), x, model)
                       for c in range(q_y.shape[1])], -1)
    pyro.set_rng_seed(0)
    terms, methods = elbo_terms(model, x, num_samples=4000, kl="analytic")
    torch.testing.assert_close(terms["kl_z"], (q_y * kl_z).sum(-1))
    if classes:
        torch.testing.assert_close(terms["kl_y"], (q_y * (q_y.log() - model.pi.log())).sum(-1))
    exact_rec = (q_y * rec).sum(-1)
    mc = elbo_terms(model, x, num_samples=4000, kl="monte-carlo")[0]
    spread = (terms["reconstruction"] - exact_rec).abs()
    assert (spread < 0.1).all(), spread  # 4000 draws of a 5-pixel Gaussian: σ ≈ 0.02
    # the Monte Carlo KL agrees with the closed form within its own noise
    assert ((mc["kl_z"] - terms["kl_z"]).abs() < 0.15).all()
    torch.testing.assert_close(terms["elbo"], terms["reconstruction"] - terms["kl"])
    summary = evaluate_elbo(model, x, num_samples=200, kl="analytic")
    assert summary["kl_sites"]["z"]["method"] == "analytic"
    exact_elbo = (exact_rec - terms["kl"]).mean().item()
    assert summary["elbo"] == pytest.approx(exact_elbo, abs=0.05)  # 200 draws × 40 examples


@pytest.mark.parametrize("classes", [0, 3], ids=["linear-gaussian", "mixture"])
@pytest.mark.parametrize("proposal", ["guide", "prior"])
def test_weights_are_unbiased_for_p_x_with_a_poor_guide(classes, proposal):
    """E[w] = p(x): the mean of 20 000 weights over p(x) is 1 within 5 standard errors (fixed
    seed; the tolerance is the Monte Carlo error computed from the draws)."""
    model = Gaussians(classes, D=3)
    model.shift, model.scale = 0.4, 2.0
    x = model.x[:6]
    pyro.set_rng_seed(1)
    ratio = (log_weights(model, x, num_samples=20000, proposal=proposal)
             - model.log_px(x)).exp()
    se = ratio.std(0) / math.sqrt(ratio.shape[0])
    assert ((ratio.mean(0) - 1).abs() < 5 * se).all(), (ratio.mean(0), se)


def test_naive_estimate_is_below_the_bound_and_approaches_log_px():
    model = Gaussians(0, D=3)
    x = model.x[:10]
    pyro.set_rng_seed(2)
    naive = naive_estimate(model, x, 50000)
    assert (naive - model.log_px(x)).abs().max() < 0.1


class TwoLayers(nn.Module):
    """p(z2) p(z1|z2) p(x|z1), q(z1|x) q(z2|z1): the model draws z2 first, the guide z1."""

    def model(self, x):
        with pyro.plate("data", x.shape[0]):
            z2 = pyro.sample("z2", dist.Normal(torch.zeros(x.shape[0], 2).double(), 1).to_event(1))
            z1 = pyro.sample("z1", dist.Normal(z2, 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z1, 1.0).to_event(1), obs=x)

    def guide(self, x):
        with pyro.plate("data", x.shape[0]):
            z1 = pyro.sample("z1", dist.Normal(x / 2, 0.8).to_event(1))
            pyro.sample("z2", dist.Normal(z1 / 2, 0.9).to_event(1))


def test_the_closed_form_kl_is_used_only_where_it_is_unbiased():
    """z2 has no model parents: closed form. z1's parent z2 is drawn after it, from it: Monte
    Carlo, and ``kl="analytic"`` says why. The auto ELBO's mean equals the all-Monte-Carlo
    ELBO's within noise (a closed form for z1 would shift it)."""
    model, x = TwoLayers(), torch.randn(30, 2).double()
    pair = trace_pair(model, x)
    assert mean_field_sites(pair.model, pair.guide) == {"z2"}
    terms, methods = elbo_terms(model, x, num_samples=20000)
    assert methods == {"z1": "monte-carlo", "z2": "analytic"}
    with pytest.raises(NoClosedForm, match="site 'z1': its model parents are drawn after it"):
        elbo_terms(model, x, kl="analytic")
    mc = elbo_terms(model, x, num_samples=20000, kl="monte-carlo")[0]
    assert ((terms["elbo"] - mc["elbo"]).abs() < 0.1).all()


def test_plates_inside_the_data_plate_are_summed_per_example():
    """A pixel plate inside the data plate: each example's log-density is the sum over its
    pixels, as with ``to_event``."""

    class PixelPlate(nn.Module):
        max_plate_nesting = 2

        def model(self, x):
            with pyro.plate("data", x.shape[0], dim=-2):
                z = pyro.sample("z", dist.Normal(torch.zeros(x.shape[0], 1).double(), 1.0))
                with pyro.plate("pixels", x.shape[1], dim=-1):
                    pyro.sample("x", dist.Normal(z, 1.0), obs=x)

        def guide(self, x):
            with pyro.plate("data", x.shape[0], dim=-2):
                pyro.sample("z", dist.Normal(x.mean(-1, keepdim=True), 0.5))

    x = torch.randn(4, 3).double()
    model = PixelPlate()
    pyro.set_rng_seed(0)
    log_w = log_weights(model, x, num_samples=5)
    pyro.set_rng_seed(0)
    with pyro.plate("draws", 5, dim=-3):
        guide = poutine.trace(model.guide).get_trace(x)
    z = guide.nodes["z"]["value"]  # (5, 4, 1)
    q = dist.Normal(x.mean(-1, keepdim=True), 0.5)
    hand = (dist.Normal(z, 1.0).log_prob(x).sum(-1) + dist.Normal(0.0, 1.0).log_prob(z).sum(-1)
            - q.log_prob(z).sum(-1))
    torch.testing.assert_close(log_w, hand)


class TrainableLinearGaussian(nn.Module):
    """The linear-Gaussian model with W, b and the guide's linear map as parameters."""

    def __init__(self, D=4, d=2, sigma=0.8):
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.sigma = sigma
        self.decoder = nn.Linear(d, D).double()
        self.encoder = nn.Linear(D, d).double()
        self.log_scale = nn.Parameter(torch.full((d,), -0.3, dtype=torch.float64))
        with torch.no_grad():
            for p in (*self.decoder.parameters(), *self.encoder.parameters()):
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
        self.x = torch.randn(30, D, generator=g, dtype=torch.float64)

    def model(self, x):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(x.shape[0], 2).double(), 1).to_event(1))
            pyro.sample("x", dist.Normal(self.decoder(z), self.sigma).to_event(1), obs=x)

    def guide(self, x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(self.encoder(x), self.log_scale.exp()).to_event(1))

    def closed_form_loss(self):
        """−ELBO per example from the closed forms in the module docstring."""
        x, W, b = self.x, self.decoder.weight, self.decoder.bias
        m, s2 = self.encoder(x), (2 * self.log_scale).exp()
        r = x - m @ W.T - b
        rec = (-0.5 * x.shape[1] * math.log(2 * math.pi * self.sigma**2)
               - ((r**2).sum(-1) + (W**2 @ s2).sum()) / (2 * self.sigma**2))
        kl = 0.5 * (s2.sum() + (m**2).sum(-1) - m.shape[-1] - s2.log().sum())
        return -(rec - kl).mean()


@pytest.mark.parametrize("objective", ["trace", "meanfield"])
def test_gradient_draws_are_unbiased_for_the_closed_form_on_a_plain_module(objective):
    """The gradient-noise report on a module that is no pyrovae kind (no ``loss``): the mean of
    300 gradient draws per group (``encoder``, ``decoder``, ``model`` for the module's own
    parameter) is the closed-form gradient within 5 standard errors of the draws."""
    from pyrovae.infer.gradients import gradient_draws
    from pyrovae.infer.objectives import OBJECTIVES
    from pyrovae.infer.traces import parameter_groups

    model = TrainableLinearGaussian()
    groups = parameter_groups(model)
    assert set(groups) == {"model", "encoder", "decoder"}
    pyro.set_rng_seed(0)
    draws = gradient_draws(model, OBJECTIVES.build(objective, {}), model.x, 300)
    loss = model.closed_form_loss()
    for name, params in groups.items():
        exact = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params,
                                                                      retain_graph=True)])
        mean, se = draws[name].mean(0), draws[name].std(0) / math.sqrt(300)
        assert ((mean - exact).abs() < 5 * se + 1e-9).all(), (name, mean, exact, se)


def test_compare_runs_on_a_plain_module():
    from pyrovae.compare import Estimator, compare

    model = Gaussians(0, D=3)
    model.shift = 0.3
    result = compare(model, model.x[:10], [Estimator("elbo-analytic", 10),
                                           Estimator("importance", 100),
                                           Estimator("naive", 100)], repeats=2, particles=(1,),
                     draws=2)
    analytic, importance, naive = (row["mean"] for row in result["estimators"])
    exact = model.log_px(model.x[:10]).mean().item()
    assert analytic < importance <= exact + 0.05
    assert all(row["available"] for row in result["estimators"])
    assert result["gradient_noise"] == []  # no trainable parameters: no groups


@pytest.mark.parametrize("classes", [0, 3], ids=["linear-gaussian", "mixture"])
def test_the_derived_estimators_never_read_the_device(classes, SyncCounter):
    """Log weights and ELBO terms stay on the device: no ``item``/``bool``/... per call (the
    one-off checks before an estimate are outside this)."""
    model = Gaussians(classes)
    x = model.x[:8]
    with SyncCounter() as counter:
        log_weights(model, x, num_samples=5)
        log_weights(model, x, num_samples=5, proposal="prior")
        elbo_terms(model, x, num_samples=3)
    assert counter.total == 0, dict(counter.calls)
