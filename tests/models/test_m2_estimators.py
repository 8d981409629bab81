"""M2 answers every estimator, with its label summed out exactly: checked against the closed
form of a linear-Gaussian M2.

::

    p(y) = Cat(π),  p(z) = N(0, I),  p(x | y, z) = N(W z + B_y + b, σ² I)
    ⇒ p(x) = Σ_y π_y N(x; B_y + b, W Wᵀ + σ² I)                        (closed form)
       p(z | x, y) = N(S Wᵀ (x − B_y − b) / σ², S),  S = (I + WᵀW / σ²)⁻¹  (diagonal: W has
                                                                         orthogonal columns)

The model is the library's own ``M2.build`` with no hidden layers: the encoder emits [x, −x, 0]
and the label embedding adds onehot(y) to the last K features, so after the ReLU the head sees
[relu(x), relu(−x), onehot(y)] and its linear map can represent the exact posterior.
"""

import math

import pyro
import pytest
import torch

from pyrovae.compare import Estimator, compare, format_comparison
from pyrovae.infer import evaluate_elbo, importance_bound, naive_estimate
from pyrovae.models import M2
from pyrovae.infer.traces import log_weights

D, Z, K, SIGMA = 5, 2, 3, 0.5
PI = torch.tensor([0.2, 0.3, 0.5])


def inverse_softplus(y):
    return y + torch.log(-torch.expm1(-y))


class LinearGaussianM2:
    def __init__(self, seed=0):
        g = torch.Generator().manual_seed(seed)
        basis, _ = torch.linalg.qr(torch.randn(D, D, generator=g, dtype=torch.float64))
        self.W = basis[:, :Z] * torch.tensor([1.5, 0.8], dtype=torch.float64)
        self.B = 0.3 * torch.randn(D, K, generator=g, dtype=torch.float64)  # classes overlap
        self.b = torch.randn(D, generator=g, dtype=torch.float64)
        y = torch.multinomial(PI.double(), 40, replacement=True, generator=g)
        z = torch.randn(40, Z, generator=g, dtype=torch.float64)
        self.x = z @ self.W.T + self.B.T[y] + self.b + SIGMA * torch.randn(
            40, D, generator=g, dtype=torch.float64)
        flat = {"name": "mlp", "hidden": []}
        likelihood = {"name": "gaussian", "scale": SIGMA, "learn_scale": "fixed"}
        self.m2 = M2.build((D,), K, z_dim=Z, likelihood=likelihood,
                           encoder=flat, decoder=flat, classifier=flat, features=2 * D + K,
                           label_prior=PI.tolist()).double()
        eye = torch.eye(D, dtype=torch.float64)
        S = torch.linalg.inv(torch.eye(Z, dtype=torch.float64) + self.W.T @ self.W / SIGMA**2)
        self.S = torch.diagonal(S)
        A = S @ self.W.T / SIGMA**2  # loc = A (x − B_y − b)
        with torch.no_grad():
            zeros = torch.zeros(K, D, dtype=torch.float64)
            self.m2.encoder.net[0].weight.copy_(torch.cat([eye, -eye, zeros]))
            self.m2.encoder.net[0].bias.zero_()
            self.m2.label_embedding.weight.zero_()
            self.m2.label_embedding.weight[2 * D:] = torch.eye(K, dtype=torch.float64)
            self.m2.decoder.net[0].weight.copy_(torch.cat([self.W, self.B], dim=1))
            self.m2.decoder.net[0].bias.copy_(self.b)
            head = self.m2.head
            head.weight.zero_()
            head.weight[:Z, :D] = A
            head.weight[:Z, D:2 * D] = -A
            head.weight[:Z, 2 * D:] = -A @ self.B
            head.bias[:Z] = -A @ self.b
            head.bias[Z:] = inverse_softplus(self.S.sqrt() - self.m2.posterior.min_scale)

    def log_px(self):
        cov = self.W @ self.W.T + SIGMA**2 * torch.eye(D, dtype=torch.float64)
        terms = []
        for y in range(K):
            normal = torch.distributions.MultivariateNormal(self.B[:, y] + self.b, cov)
            terms.append(math.log(PI[y]) + normal.log_prob(self.x))
        return torch.logsumexp(torch.stack(terms), 0)

    def spoil_guide(self):
        with torch.no_grad():
            self.m2.head.weight.mul_(0.7)
            self.m2.head.bias[Z:] += 0.5


@pytest.fixture
def lg(float64):
    return LinearGaussianM2()


def test_the_guide_is_the_exact_posterior(lg):
    """The fixture's premise, checked by hand for one example and class."""
    x, y = lg.x[:1], torch.tensor([2])
    q = lg.m2.q(x, y)
    loc = lg.S * (lg.W.T @ (x[0] - lg.B[:, 2] - lg.b)) / SIGMA**2
    assert torch.allclose(q.mean[0], loc, atol=1e-10)
    assert torch.allclose(q.variance[0], lg.S, atol=1e-8)


@pytest.mark.parametrize("k", [1, 7])
def test_with_the_exact_posterior_every_weight_is_p_of_x(lg, k):
    """w = Σ_y p(x, y, z_y) / q(z_y|x, y) = Σ_y p(x, y) = p(x) for every draw: the bound is
    log p(x) exactly, for any K. A sum over y done wrongly (a missing p(y), q(y|x) in the
    weight, one sampled y) breaks this equality."""
    bound = importance_bound(lg.m2, lg.x, k)
    assert torch.allclose(bound, lg.log_px(), atol=1e-7)


def test_weights_are_unbiased_for_p_of_x_with_a_poor_guide(lg):
    """E[w] = p(x) for any proposal: the mean of 20 000 weights per example matches the closed
    form within 4 standard errors (a fixed seed; the tolerance is the Monte Carlo error)."""
    lg.spoil_guide()
    pyro.set_rng_seed(0)
    for proposal in ("guide", "prior"):
        log_w = torch.cat([log_weights(lg.m2, lg.x[:5], None, 4000, proposal)
                           for _ in range(5)])  # (20000, 5)
        ratio = (log_w - lg.log_px()[:5]).exp()
        se = ratio.std(0) / math.sqrt(ratio.shape[0])
        assert ((ratio.mean(0) - 1).abs() < 4 * se + 1e-3).all(), (proposal, ratio.mean(0), se)


def test_the_bound_rises_with_k_towards_log_p_x_and_stays_above_the_elbo(lg):
    lg.spoil_guide()
    pyro.set_rng_seed(1)
    exact = lg.log_px().mean().item()
    elbo = evaluate_elbo(lg.m2, lg.x, num_samples=200)["elbo"]
    # E[L_K] rises with K, one realization need not: each bound is averaged over 30 keyed
    # draws (seeds 0..29). Over seeds L_10 sits 0.047 below log p(x) with a spread of 0.074, so
    # its 30-draw mean has a standard error of 0.014 against a gap of about 0.04 to L_1000.
    bounds = [sum(importance_bound(lg.m2, lg.x, k, seed=s).mean().item() for s in range(30)) / 30
              for k in (1, 10, 1000)]
    assert elbo < bounds[0] + 0.05  # L_1 ≥ ELBO with y summed (Jensen over y), up to noise
    assert bounds[0] < bounds[1] < bounds[2] <= exact + 0.01
    assert exact - bounds[2] < 0.3 * (exact - elbo)
    naive = naive_estimate(lg.m2, lg.x, 20000).mean().item()
    assert naive == pytest.approx(exact, abs=0.1)  # a 2-D latent: the prior proposal works


def test_compare_runs_on_m2_and_marks_what_m2_cannot_train(lg):
    lg.spoil_guide()
    result = compare(lg.m2, lg.x, [Estimator("elbo-analytic", 1), Estimator("importance", 50),
                                   Estimator("naive", 100)], repeats=2, particles=(1,), draws=3)
    analytic, importance, naive = result["estimators"]
    assert all(row["available"] for row in result["estimators"])
    assert importance["mean"] > analytic["mean"]
    trace = [r for r in result["gradient_noise"] if r["objective"] == "trace"]
    meanfield = [r for r in result["gradient_noise"] if r["objective"] == "meanfield"]
    # one group per top-level module with trainable parameters
    assert {r["group"] for r in trace} == {"encoder", "label_embedding", "head", "classifier",
                                           "decoder"}
    assert all(r["available"] and r["variance"] > 0 for r in trace)
    assert meanfield and not any(r["available"] for r in meanfield)
    assert "TraceEnum_ELBO" in format_comparison(result)
