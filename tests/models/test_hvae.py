"""The two-stochastic-layer VAE (``hvae``) against hand-written densities.

The model and guide under test::

    model(x):  z2 ~ N(0, I)                          guide(x):  z1 ~ N(μ1(x), diag σ1(x)²)
               z1 ~ N(m(z2), diag s(z2)²)                       z2 ~ N(μ2(z1), diag σ2(z1)²)
               x  ~ Bernoulli(logits(z1))

Every reference below is computed from the networks' outputs (μ1, σ1, μ2, σ2, m, s, logits)
with the densities written out by hand (no ``log_prob``, no ``kl_divergence``), on the very
draws the code under test made: pinned with ``poutine.replay`` for Pyro's ELBO, recorded by a
spy handler (:class:`RecordDraws`) for pyrovae's estimators, which derive everything from the
traces of the two programs.
"""

import json
import math

import pyro
import pytest
import torch
import torch.nn.functional as F
from pyro import poutine
from pyro.infer import SVI, Trace_ELBO
from pyro.poutine.messenger import Messenger

import pyrovae as pv
from pyrovae.cli import main
from pyrovae.data import binarize
from pyrovae.infer.elbo import elbo_terms, evaluate_elbo
from pyrovae.infer.importance import importance_bound
from pyrovae.models import HVAE
from pyrovae.models.base import build_model

LOG_2PI = math.log(2 * math.pi)


# -- hand-written densities ----------------------------------------------------------------

def normal_logpdf(v, loc, scale):
    """log N(v; loc, diag scale²) summed over the last dimension, by hand."""
    return (-0.5 * ((v - loc) / scale) ** 2 - torch.log(scale) - 0.5 * LOG_2PI).sum(-1)


def bernoulli_loglik(x, logits):
    """Σ_i x_i log σ(l_i) + (1 − x_i) log(1 − σ(l_i)) over the image (last three dims)."""
    return (x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).flatten(-3).sum(-1)


def kl_std_normal(mu, sigma):
    """KL(N(μ, σ²) || N(0, I)) = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²)."""
    return 0.5 * (mu**2 + sigma**2 - 1 - torch.log(sigma**2)).sum(-1)


def q_z1_params(hvae, x):
    return hvae.posterior.loc_scale(hvae.encoder(x))


def q_z2_params(hvae, z1):
    return hvae.posterior2.loc_scale(hvae.encoder2(z1))


def hand_terms(hvae, x, z1, z2):
    """Per (draw, example): log p(x|z1), log p(z1|z2), log p(z2), log q(z1|x), log q(z2|z1)
    and the closed form KL(q(z2|z1) || N(0, I)), for z1 ``(..., B, d1)``, z2 ``(..., B, d2)``."""
    mu1, sigma1 = q_z1_params(hvae, x)
    mu2, sigma2 = q_z2_params(hvae, z1)
    m, s = hvae.conditional_prior.loc_scale(hvae.decoder2(z2))
    logits = hvae.decoder(z1).select(-4, 0)  # the single parameter channel: (..., B, 1, 8, 8)
    return {
        "log_px": bernoulli_loglik(x, logits),
        "log_pz1": normal_logpdf(z1, m, s),
        "log_pz2": normal_logpdf(z2, torch.zeros_like(z2), torch.ones_like(z2)),
        "log_qz1": normal_logpdf(z1, mu1, sigma1),
        "log_qz2": normal_logpdf(z2, mu2, sigma2),
        "kl_z2": kl_std_normal(mu2, sigma2),
    }


def hand_log_weight(t):
    """log w = log p(x|z1) + log p(z1|z2) + log p(z2) − log q(z1|x) − log q(z2|z1)."""
    return t["log_px"] + t["log_pz1"] + t["log_pz2"] - t["log_qz1"] - t["log_qz2"]


def hand_draws(hvae, x, num_samples, generator):
    """(z1, z2) ~ q(z1|x) q(z2|z1), drawn by hand: ``(S, B, d1)``, ``(S, B, d2)``."""
    mu1, sigma1 = q_z1_params(hvae, x)
    z1 = mu1 + sigma1 * torch.randn((num_samples, *mu1.shape), generator=generator,
                                    dtype=mu1.dtype)
    mu2, sigma2 = q_z2_params(hvae, z1)
    z2 = mu2 + sigma2 * torch.randn(mu2.shape, generator=generator, dtype=mu2.dtype)
    return z1, z2


class RecordDraws(Messenger):
    """A spy: records the value of every latent sample site named ``z1`` or ``z2`` that runs
    inside it (each tensor once; a model replayed on the guide sees the guide's tensors)."""

    def __init__(self):
        super().__init__()
        self.values = {"z1": [], "z2": []}

    def _pyro_post_sample(self, msg):
        if msg["name"] in self.values and not msg["is_observed"]:
            seen = self.values[msg["name"]]
            if not any(msg["value"] is v for v in seen):
                seen.append(msg["value"])

    def draws(self, batch):
        """The one recorded (z1, z2) whose leading shape is ``batch``, e.g. ``(S, B)``."""
        found = {}
        for name, seen in self.values.items():
            match = [v for v in seen if tuple(v.shape[:-1]) == tuple(batch)]
            assert len(match) == 1, f"{name}: {len(match)} draws of shape {batch}"
            found[name] = match[0]
        return found["z1"], found["z2"]


# -- fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    return pv.load_dataset("digits", binarize="dynamic")


SMALL = dict(z1_dim=6, z2_dim=3,
             encoder={"name": "mlp", "hidden": [16], "activation": "tanh"},
             encoder2={"name": "mlp", "hidden": [8], "activation": "tanh"},
             decoder2={"name": "mlp", "hidden": [8], "activation": "tanh"},
             decoder={"name": "mlp", "hidden": [16], "activation": "tanh"})


@pytest.fixture
def small(float64, digits):
    """A small hvae in float64 and 40 binary test digits."""
    torch.manual_seed(1)
    hvae = HVAE.build(digits.event_shape, **SMALL).double()
    return hvae, digits.test.x[:40].double()


# -- build ---------------------------------------------------------------------------------

def linear_sizes(net):
    return [(m.in_features, m.out_features) for m in net.modules()
            if isinstance(m, torch.nn.Linear)]


def test_defaults_are_burda_et_al_architecture(digits):
    hvae = HVAE.build(digits.event_shape)
    assert (hvae.z1_dim, hvae.z2_dim) == (100, 50)
    assert linear_sizes(hvae.encoder) == [(64, 100), (100, 100), (100, 200)]  # μ1, σ1
    assert linear_sizes(hvae.encoder2) == [(100, 50), (50, 50), (50, 100)]  # μ2, σ2
    assert linear_sizes(hvae.decoder2) == [(50, 50), (50, 50), (50, 200)]  # m, s
    assert linear_sizes(hvae.decoder) == [(100, 100), (100, 100), (100, 64)]  # logits
    for net in (hvae.encoder, hvae.encoder2, hvae.decoder2, hvae.decoder):
        assert {type(m) for m in net.net if not isinstance(m, torch.nn.Linear)} == {
            torch.nn.Tanh}


def test_config_selects_components_by_name():
    config = pv.load_config(None, ['model.kind="hvae"', 'model.z2_dim=7',
                                   'model.encoder2.hidden=[9]', 'model.prior="learned-normal"'])
    hvae = build_model(config, (1, 8, 8))
    assert isinstance(hvae, HVAE) and hvae.z2_dim == 7
    assert linear_sizes(hvae.encoder2) == [(100, 9), (9, 14)]
    assert type(hvae.prior).__name__ == "LearnedNormalPrior"


def test_meanfield_takes_only_the_kl_of_z2_in_closed_form(small):
    """pyrovae's ``meanfield`` loss on the draws it made: −[log p(x|z1) + log p(z1|z2) −
    log q(z1|x) − KL(q(z2|z1) || p(z2))], summed over the batch. (Pyro's TraceMeanField_ELBO
    would use KL(q(z1|x) || p(z1|z2)) too, which is not this model's ELBO.)"""
    from pyrovae.infer.objectives import OBJECTIVES

    hvae, x = small
    spy = RecordDraws()
    with spy:
        loss = hvae.loss(OBJECTIVES.build("meanfield", {}), x)
    t = hand_terms(hvae, x, *[z.unsqueeze(0) for z in spy.draws((len(x),))])
    expected = -(t["log_px"] + t["log_pz1"] - t["log_qz1"] - t["kl_z2"]).sum()
    assert torch.allclose(loss, expected, rtol=1e-10, atol=1e-9)


# -- 1. plain Pyro trains it ---------------------------------------------------------------

def test_plain_pyro_svi_trains_it(digits):
    hvae = HVAE.build(digits.event_shape)
    x = binarize(digits.train.x[:100], torch.Generator().manual_seed(0))
    svi = SVI(hvae.model, hvae.guide, pyro.optim.Adam({"lr": 1e-3}), Trace_ELBO())
    before = {n: p.detach().clone() for n, p in hvae.named_parameters()}
    losses = [svi.step(x) for _ in range(30)]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 5 * len(x)  # > 5 nats per example
    store = pyro.get_param_store()
    for name, param in hvae.named_parameters():
        assert store[f"hvae$$${name}"] is param  # the store holds the model's own tensors
        assert not torch.equal(param, before[name]), name  # and the optimizer moved them


def test_programs_broadcast_over_vectorized_draws(small):
    """Pyro's vectorized particles add a leading dim: every network sees (K, B, ·), and the
    loss is the hand-written −(1/K) Σ_k Σ_n log w on the very draws."""
    hvae, x = small
    spy = RecordDraws()
    with spy:
        loss = Trace_ELBO(num_particles=5, vectorize_particles=True,
                          max_plate_nesting=1).differentiable_loss(hvae.model, hvae.guide, x)
    z1, z2 = spy.draws((5, len(x)))
    expected = -hand_log_weight(hand_terms(hvae, x, z1, z2)).sum(-1).mean(0)
    assert torch.allclose(loss, expected, rtol=1e-10, atol=1e-9)


# -- 2. the ELBO ---------------------------------------------------------------------------

def pinned_guide(hvae, x, z1, z2):
    """The guide with its draws replaced by ``z1`` and ``z2`` (replayed, not observed)."""
    trace = poutine.trace(hvae.guide).get_trace(x)
    trace.nodes["z1"]["value"] = z1
    trace.nodes["z2"]["value"] = z2
    return poutine.replay(hvae.guide, trace=trace)


@pytest.mark.parametrize("kl_weight", [1.0, 0.3])
def test_trace_elbo_equals_hand_written_with_pinned_draws(small, kl_weight):
    hvae, x = small
    z1, z2 = torch.randn(len(x), hvae.z1_dim), torch.randn(len(x), hvae.z2_dim)
    loss = Trace_ELBO().differentiable_loss(hvae.model, pinned_guide(hvae, x, z1, z2), x,
                                            kl_weight=kl_weight)
    t = hand_terms(hvae, x, z1, z2)
    latent = t["log_pz1"] + t["log_pz2"] - t["log_qz1"] - t["log_qz2"]
    expected = -(t["log_px"] + kl_weight * latent).sum()
    assert torch.allclose(loss, expected, rtol=1e-10, atol=1e-9)
    params = list(hvae.parameters())
    for g_pyro, g_hand in zip(torch.autograd.grad(loss, params, allow_unused=True),
                              torch.autograd.grad(expected, params, allow_unused=True)):
        assert (g_pyro is None) == (g_hand is None)
        if g_hand is not None:
            assert torch.allclose(g_pyro, g_hand, rtol=1e-8, atol=1e-10)


def test_elbo_terms_on_the_same_draws_with_the_kl_of_z2_only_in_closed_form(small):
    """pyrovae's per-example ELBO equals the hand-written one on the draws it made: with
    ``kl="monte-carlo"`` every term from the draws; with ``kl="auto"`` the KL of z2 in closed
    form (z2 is drawn after z1 and p(z2) has no parents) and that of z1 from the draws (its
    model parent z2 is drawn after it by the guide)."""
    hvae, x = small
    S, B = 7, len(x)
    for kl in ("monte-carlo", "auto"):
        spy = RecordDraws()
        with spy:
            terms, method = elbo_terms(hvae, x, num_samples=S, kl=kl)
        t = hand_terms(hvae, x, *spy.draws((S, B)))
        kl_z1 = (t["log_qz1"] - t["log_pz1"]).mean(0)
        kl_z2 = (t["log_qz2"] - t["log_pz2"] if kl == "monte-carlo" else t["kl_z2"]).mean(0)
        reconstruction = t["log_px"].mean(0)
        assert torch.allclose(terms["reconstruction"], reconstruction, rtol=1e-10, atol=1e-9)
        assert torch.allclose(terms["kl"], kl_z1 + kl_z2, rtol=1e-10, atol=1e-9), kl
        assert torch.allclose(terms["elbo"], reconstruction - kl_z1 - kl_z2, rtol=1e-10,
                              atol=1e-9), kl
        assert method == ("monte-carlo" if kl == "monte-carlo" else "mixed")


def test_evaluate_elbo_on_the_same_draws_and_its_site_methods(small):
    hvae, x = small
    spy = RecordDraws()
    with spy:
        result = evaluate_elbo(hvae, x, num_samples=3)
    t = hand_terms(hvae, x, *spy.draws((3, len(x))))
    per_example = (t["log_px"] + t["log_pz1"] - t["log_qz1"] - t["kl_z2"]).mean(0)
    assert result["elbo"] == pytest.approx(per_example.mean().item(), rel=1e-10)
    assert result["elbo_stderr"] == pytest.approx(
        (per_example.std() / math.sqrt(len(x))).item(), rel=1e-8)
    assert {k: v["method"] for k, v in result["kl_sites"].items()} == {
        "z1": "monte-carlo", "z2": "analytic"}


def test_evaluate_elbo_matches_an_independent_monte_carlo_average(small):
    """Independent draws: pyrovae's ELBO with many samples and a hand-drawn Monte Carlo
    average agree within 4 standard errors of their difference."""
    hvae, x = small
    S = 400
    pyro.set_rng_seed(3)
    result = evaluate_elbo(hvae, x, num_samples=S, kl="monte-carlo")
    with torch.no_grad():
        t = hand_terms(hvae, x, *hand_draws(hvae, x, S, torch.Generator().manual_seed(4)))
        log_w = hand_log_weight(t)  # (S, B)
    hand = log_w.mean().item()
    # each estimate averages S·B draws; the variance of one draw about its example's mean
    within = log_w.var(0).mean().item() / (S * len(x))
    assert abs(result["elbo"] - hand) < 4 * math.sqrt(2 * within), (result["elbo"], hand)


# -- 3. the importance-sampled bound -------------------------------------------------------

@pytest.mark.parametrize("K", [1, 8])
def test_importance_bound_is_log_mean_exp_of_hand_written_weights(small, K):
    hvae, x = small
    spy = RecordDraws()
    with spy:
        bound = importance_bound(hvae, x, K)
    log_w = hand_log_weight(hand_terms(hvae, x, *spy.draws((K, len(x)))))  # (K, B)
    expected = torch.logsumexp(log_w, 0) - math.log(K)
    assert torch.allclose(bound.to(expected.dtype), expected, rtol=1e-10, atol=1e-9)


def test_importance_bound_is_the_elbo_at_k1_and_above_it_for_k_above_1(float64, digits):
    torch.manual_seed(2)
    hvae = HVAE.build(digits.event_shape, **SMALL).double()
    x = digits.test.x[:200].double()
    with torch.no_grad():  # E_q[log w] per example, by hand, from 1 000 independent draws
        t = hand_terms(hvae, x, *hand_draws(hvae, x, 1000, torch.Generator().manual_seed(5)))
        elbo = hand_log_weight(t).mean(0)
    pyro.set_rng_seed(6)
    gaps = {K: importance_bound(hvae, x, K) - elbo for K in (1, 5, 50)}
    mean = {K: g.mean().item() for K, g in gaps.items()}
    stderr = {K: g.std().item() / math.sqrt(len(x)) for K, g in gaps.items()}
    assert abs(mean[1]) < 4 * stderr[1], (mean[1], stderr[1])  # E[L_1] = ELBO
    assert mean[5] > 4 * stderr[5] and mean[50] > mean[5] + 4 * stderr[50]  # L_K rises with K


# -- samples, reconstructions --------------------------------------------------------------

def test_sample_and_reconstruct_give_images(small):
    hvae, x = small
    for images in (hvae.sample(5), hvae.reconstruct(x[:5])):
        assert images.shape == (5, 1, 8, 8)
        assert ((images >= 0) & (images <= 1)).all()


# -- 4. the command line -------------------------------------------------------------------

def test_cli_trains_and_evaluates_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", "hvae", "--epochs", "1", "--out", str(out), "--quiet"]) == 0
    for name in ("config.toml", "checkpoint.pt", "results.json", "samples.png",
                 "reconstructions.png"):
        assert (out / name).stat().st_size > 0, name
    capsys.readouterr()
    assert main(["evaluate", str(out), "--iwae-k", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["num_examples"] == 359 and result["iwae_k"] == 5
    assert result["elbo"] == pytest.approx(result["reconstruction"] - result["kl"], rel=1e-6)
    assert result["kl_method"] == "mixed"  # z2 analytic, z1 by Monte Carlo
    slack = 4 * (result["elbo_stderr"] + result["log_likelihood_stderr"])
    assert result["elbo"] - slack < result["log_likelihood"] < 0
