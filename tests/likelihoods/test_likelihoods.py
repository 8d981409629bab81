"""The likelihood battery: every registered likelihood, tested the moment it is registered.

For each name in ``LIKELIHOODS.names()``:

* its density integrates (continuous) or sums (discrete) to one over its support, for a
  one-pixel image, by ``scipy.integrate.quad`` or an exact sum;
* ``log_prob`` matches scipy.stats or a hand-written formula (:data:`REFERENCES`);
* data outside the support is refused with a :class:`DataError` naming a likelihood that fits.

A registered likelihood without an entry in :data:`CASES`, :data:`REFERENCES` or
:data:`OUTSIDE` fails :func:`test_every_likelihood_has_a_reference`.
"""

import math
import warnings

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
import torch

from pyrovae.errors import DataError
from pyrovae.likelihoods import LIKELIHOODS
from pyrovae.likelihoods.scale import SCALE_MODES

#: name -> option sets to test (every learn_scale mode of the location-scale likelihoods)
CASES = {
    "bernoulli": [{}],
    "continuous-bernoulli": [{}],
    "gaussian": [{"learn_scale": m, "scale": 0.7} for m in SCALE_MODES],
    "laplace": [{"learn_scale": m, "scale": 0.7} for m in SCALE_MODES],
    "beta": [{}],
    "categorical": [{}, {"levels": 5}],
}


def _softplus(v):
    return np.logaddexp(0.0, v)


def _loc_scale(lik, params):
    """(μ, σ) of a location-scale likelihood, by hand from its raw parameters."""
    loc = params[:, 0]
    mode = lik.learn_scale
    if mode == "fixed":
        scale = np.full_like(loc, lik.fixed_scale.item())
    elif mode in ("global", "pixel"):
        scale = np.broadcast_to(_softplus(lik.raw_scale.detach().numpy()) + lik.min_scale, loc.shape)
    else:
        scale = _softplus(params[:, 1] + lik.raw_offset.item()) + lik.min_scale
    return loc, scale


def _bernoulli(lik, params, x):
    p = scipy.special.expit(params[:, 0])
    return scipy.stats.bernoulli.logpmf(x, p)


def _continuous_bernoulli(lik, params, x):
    lam = scipy.special.expit(params[:, 0])
    return x * np.log(lam) + (1 - x) * np.log1p(-lam) + cb_log_norm(lam)


def _gaussian(lik, params, x):
    loc, scale = _loc_scale(lik, params)
    return scipy.stats.norm.logpdf(x, loc, scale)


def _laplace(lik, params, x):
    loc, scale = _loc_scale(lik, params)
    return scipy.stats.laplace.logpdf(x, loc, scale)


def _beta(lik, params, x):
    a = _softplus(params[:, 0]) + lik.min_concentration
    b = _softplus(params[:, 1]) + lik.min_concentration
    return scipy.stats.beta.logpdf(x, a, b)


def _categorical(lik, params, x):
    logp = params - scipy.special.logsumexp(params, axis=1, keepdims=True)  # (B, L, *event)
    k = np.rint(x * (lik.levels - 1)).astype(int)
    return np.take_along_axis(logp, k[:, None], axis=1)[:, 0]


def cb_log_norm(lam):
    """log C(λ) = log(2 atanh(1 − 2λ) / (1 − 2λ)), log 2 at λ = ½ (Loaiza-Ganem & Cunningham)."""
    lam = np.asarray(lam, dtype=np.float64)
    u = 1 - 2 * lam
    safe = np.where(u == 0, 0.5, u)
    return np.where(u == 0, math.log(2), np.log(2 * np.arctanh(safe) / safe))


#: name -> (per-pixel log-density by hand: f(lik, params, x) -> array like x, support kind)
REFERENCES = {
    "bernoulli": (_bernoulli, "binary"),
    "continuous-bernoulli": (_continuous_bernoulli, "unit"),
    "gaussian": (_gaussian, "real"),
    "laplace": (_laplace, "real"),
    "beta": (_beta, "open-unit"),
    "categorical": (_categorical, "grid"),
}

#: name -> a value outside the support
OUTSIDE = {
    "bernoulli": 1.5,
    "continuous-bernoulli": -0.25,
    "gaussian": float("nan"),
    "laplace": float("inf"),
    "beta": 0.0,
    "categorical": 1.25,
}


def cases():
    return [
        pytest.param(name, options, id=f"{name}-{'-'.join(map(str, options.values())) or 'default'}")
        for name in LIKELIHOODS.names()
        for options in CASES.get(name, [{}])
    ]


def build(name, options, event_shape):
    lik = LIKELIHOODS.build(name, {"event_shape": event_shape}, **LIKELIHOODS.check_options(name, options))
    with torch.no_grad():  # move learned scales off their initial value
        for p in lik.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return lik


def test_every_likelihood_has_a_reference():
    for name in LIKELIHOODS.names():
        assert name in CASES, f"add test cases for likelihood '{name}' to CASES"
        assert name in REFERENCES, f"add a reference log-density for '{name}' to REFERENCES"
        assert name in OUTSIDE, f"add a value outside the support of '{name}' to OUTSIDE"


def data_for(kind, lik, shape, rng):
    if kind == "binary":
        return rng.integers(0, 2, shape).astype(np.float64)
    if kind == "grid":
        return rng.integers(0, lik.levels, shape) / (lik.levels - 1)
    if kind == "real":
        return rng.normal(0.3, 1.5, shape)
    if kind == "unit":
        x = rng.uniform(0, 1, shape)
        x.flat[:2] = [0.0, 1.0]  # the closed interval's end points are in the support
        return x
    return rng.uniform(0.01, 0.99, shape)


@pytest.mark.parametrize("name,options", cases())
def test_log_prob_matches_reference(name, options, float64):
    event_shape = (1, 3, 2)
    lik = build(name, options, event_shape)
    rng = np.random.default_rng(1)
    params = torch.randn(4, lik.params_per_pixel, *event_shape)
    reference, kind = REFERENCES[name]
    x = data_for(kind, lik, (4, *event_shape), rng)
    got = lik(params).log_prob(torch.as_tensor(x))
    assert got.shape == (4,)
    expected = reference(lik, params.detach().numpy(), x).reshape(4, -1).sum(1)
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name,options", cases())
def test_density_normalizes(name, options, float64):
    """∫ p(x) dx = 1 (or Σ_x p(x) = 1) for a one-pixel image, for several parameter values."""
    lik = build(name, options, (1,))
    # centred at +2 so Beta concentrations exceed 1: no integrable end-point singularity for quad
    params = torch.randn(3, lik.params_per_pixel, 1) + 2
    d = lik(params)
    kind = REFERENCES[name][1]
    for b in range(3):
        def pdf(v, b=b):
            x = torch.full((3, 1), float(v))
            return math.exp(d.log_prob(x)[b].item())

        if kind == "binary":
            total = pdf(0.0) + pdf(1.0)
        elif kind == "grid":
            total = sum(pdf(k / (lik.levels - 1)) for k in range(lik.levels))
        elif kind == "real":
            total = scipy.integrate.quad(pdf, -np.inf, np.inf, epsabs=1e-12, epsrel=1e-10)[0]
        else:
            total = scipy.integrate.quad(pdf, 0, 1, epsabs=1e-12, epsrel=1e-10, limit=200)[0]
        # quad reaches ~1e-10 on these smooth densities (a wrong normalizer is off by > 1e-3)
        assert total == pytest.approx(1.0, abs=1e-7), (name, b)


@pytest.mark.parametrize("name", LIKELIHOODS.names())
def test_outside_support_is_refused_with_a_suggestion(name):
    lik = build(name, CASES[name][0], (1, 2, 2))
    x = torch.full((3, 1, 2, 2), 0.5)
    x[1, 0, 1, 1] = OUTSIDE[name]
    assert not lik.in_support(x).all()
    with pytest.raises(DataError, match=f'model.likelihood = "{lik.suggestion}"') as info:
        lik.check_data(x, "the test data")
    assert lik.suggestion in LIKELIHOODS
    assert name in str(info.value)
    if math.isfinite(OUTSIDE[name]):  # the suggested likelihood accepts the refused value
        fit = build(lik.suggestion, CASES[lik.suggestion][0], (1, 2, 2))
        assert fit.in_support(x).all()


def test_beta_refuses_exact_zero_and_one_naming_continuous_bernoulli():
    lik = build("beta", {}, (1, 2))
    for edge in (0.0, 1.0):
        with pytest.raises(DataError, match="continuous-bernoulli"):
            lik.check_data(torch.tensor([[[0.5, edge]]]))


@pytest.mark.parametrize("lam", [0.01, 0.2, 0.4, 0.4995, 0.5, 0.5004, 0.7, 0.99])
def test_continuous_bernoulli_normalizer_matches_hand_formula(lam, float64):
    """log C(λ) = log p(x=0 | λ) − log(1 − λ), against the closed form (λ near ½ included, where
    torch switches to a Taylor expansion)."""
    lik = build("continuous-bernoulli", {}, (1,))
    logit = torch.logit(torch.tensor([[[lam]]]))
    log_c = lik(logit).log_prob(torch.zeros(1, 1)) - math.log1p(-lam)
    assert log_c.item() == pytest.approx(float(cb_log_norm(lam)), abs=1e-6)


def test_categorical_mean_is_expected_grey_level(float64):
    lik = build("categorical", {"levels": 5}, (1,))
    params = torch.randn(2, 5, 1)
    p = torch.softmax(params, 1)[:, :, 0]
    expected = (p * torch.tensor([0, 0.25, 0.5, 0.75, 1.0])).sum(1)
    assert torch.allclose(lik.mean(params)[:, 0], expected)


def test_categorical_reads_digits_levels_exactly():
    """The digits' k/16 grey levels are binned as round(x·255): the grid 1/16 is coarser than
    1/255, so distinct levels land in distinct bins and the categorical is a density over them."""
    lik = build("categorical", {}, (1,))
    x = torch.arange(17) / 16.0
    bins = lik(torch.zeros(1, 256, 1)).bins(x)
    assert torch.equal(bins, torch.round(x * 255).long())
    assert bins.unique().numel() == 17


@pytest.mark.parametrize("name", ["continuous-bernoulli", "gaussian", "laplace", "categorical"])
def test_grey_level_likelihoods_warn_on_binarized_data(name):
    lik = build(name, CASES[name][0], (1, 2, 2))
    with pytest.warns(UserWarning, match='data.binarize = "none"'):
        lik.check_data(torch.randint(0, 2, (3, 1, 2, 2)).float())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lik.check_data(torch.full((3, 1, 2, 2), 0.5))
