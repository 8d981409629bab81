"""The posterior-family battery: every registered guide family, tested the moment it exists.

For each name in ``GUIDES.names()``: sample shapes over particle and batch dimensions, a finite
log-density consistent between a drawn z (Pyro's cached path for flows) and the same values given
afresh (the inverse path), reparameterized gradients reaching the encoder features, and
log q(z|x) against a hand computation (:data:`REFERENCES`). A registered family without an entry
fails :func:`test_every_guide_has_a_reference`.
"""

import numpy as np
import pytest
import scipy.stats
import torch

from pyrovae.errors import ConfigError
from pyrovae.guides import GUIDES

Z = 3
B = 4

#: name -> option sets to test
CASES = {
    "diag-normal": [{}, {"scale": "exp"}],
    "full-rank": [{}],
    "iaf": [{"layers": 1}, {"layers": 2}, {"layers": 2, "context_dim": 4}],
}


def _softplus(v):
    return np.logaddexp(0.0, v)


def _diag_normal(guide, h, z):
    h, z = h.numpy(), z.numpy()
    loc, raw = h[..., :Z], h[..., Z:]
    sigma = np.exp(0.5 * raw) if guide.scale == "exp" else _softplus(raw)  # raw = log σ² for exp
    return scipy.stats.norm.logpdf(z, loc, sigma + guide.min_scale).sum(-1)


def _full_rank(guide, h, z):
    """L filled row by row from the features, diagonal softplus'ed; scipy's MVN with Σ = L Lᵀ."""
    h, z = h.numpy(), z.numpy()
    out = np.empty(z.shape[:-1])
    for idx in np.ndindex(*z.shape[:-1]):
        f = h[idx[-1]]
        L = np.zeros((Z, Z))
        L[np.tril_indices(Z)] = f[Z:]
        L[np.diag_indices(Z)] = _softplus(np.diag(L)) + guide.min_scale
        out[idx] = scipy.stats.multivariate_normal.logpdf(z[idx], f[:Z], L @ L.T)
    return out


def _iaf(guide, h, z):
    """Walk the flow by hand from z₀ = f⁻¹(z): log q = log N(z₀; μ, σ) − Σ_t Σ_i log σ_t(z_{t−1}),
    with (m_t, log σ_t) from each layer's MADE (clamped as Pyro does), y = σ_t x + m_t."""
    h = h.double()
    base, c = h[..., : 2 * Z], h[..., 2 * Z :]
    zt = z
    for f in reversed(list(guide.flows)):  # invert by iterating the autoregressive map
        t = f.condition(c) if guide.context_dim else f
        zt = t.inv(zt)
    x = zt
    loc, scale = base[..., :Z], torch.nn.functional.softplus(base[..., Z:]) + guide.base.min_scale
    logq = torch.distributions.Normal(loc, scale).log_prob(x).sum(-1)
    for f in guide.flows:
        if guide.context_dim:
            m, log_s = f.nn(x, context=c.expand(*x.shape[:-1], c.shape[-1]))
            t = f.condition(c)
        else:
            (m, log_s), t = f.arn(x), f
        log_s = log_s.clamp(t.log_scale_min_clip, t.log_scale_max_clip)
        x = torch.exp(log_s) * x + m
        logq = logq - log_s.sum(-1)
    assert torch.allclose(x, z, atol=1e-8)  # the hand forward pass reproduces z
    return logq.detach().numpy()


#: name -> reference log q(z|h): f(guide, h (B, F), z (S, B, Z)) -> (S, B)
REFERENCES = {"diag-normal": _diag_normal, "full-rank": _full_rank, "iaf": _iaf}


def cases():
    return [
        pytest.param(name, options, id=f"{name}-{'-'.join(map(str, options.values())) or 'default'}")
        for name in GUIDES.names()
        for options in CASES.get(name, [{}])
    ]


def build(name, options):
    guide = GUIDES.build(name, {"z_dim": Z}, **GUIDES.check_options(name, options))
    with torch.no_grad():  # flows start near the identity; move them off it
        for p in guide.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return guide


def test_every_guide_has_a_reference():
    for name in GUIDES.names():
        assert name in CASES, f"add test cases for guide '{name}' to CASES"
        assert name in REFERENCES, f"add a reference log-density for guide '{name}' to REFERENCES"


@pytest.mark.parametrize("name,options", cases())
def test_shapes_and_log_prob_consistency(name, options):
    guide = build(name, options)
    h = torch.randn(B, guide.num_features, requires_grad=True)
    q = guide(h)
    assert q.batch_shape == (B,) and q.event_shape == (Z,)
    z = q.rsample((5,))
    assert z.shape == (5, B, Z)
    lp = q.log_prob(z)
    assert lp.shape == (5, B) and torch.isfinite(lp).all()
    fresh = q.log_prob(z.detach().clone())  # no cached inverse: flows invert explicitly
    assert torch.allclose(lp, fresh, atol=1e-4)
    z.sum().backward()
    assert h.grad.abs().sum() > 0


@pytest.mark.parametrize("name,options", cases())
def test_log_prob_matches_reference(name, options, float64):
    guide = build(name, options).double()
    h = torch.randn(B, guide.num_features)
    z = guide(h).sample((3,))
    got = guide(h).log_prob(z.clone()).detach().numpy()
    np.testing.assert_allclose(got, REFERENCES[name](guide, h, z), rtol=1e-9, atol=1e-9)


def test_full_rank_feature_count():
    assert GUIDES.build("full-rank", {"z_dim": 5}).num_features == 5 + 15


@pytest.mark.parametrize("options", [{"layers": 0}, {"context_dim": -1}])
def test_iaf_bad_options(options):
    with pytest.raises(ConfigError):
        GUIDES.build("iaf", {"z_dim": 3}, **options)


def test_an_unknown_diag_normal_scale_is_refused():
    with pytest.raises(ConfigError, match="guide scale must be one of softplus, exp"):
        GUIDES.get("diag-normal")(Z, scale="relu")
