"""The prior battery: every registered prior, tested the moment it is registered.

Each prior is built inside a small VAE (the VampPrior needs the model's q(z|x)) and checked for
sample shape, finite log-density, log-density against an independent reference
(:data:`REFERENCES`), gradients reaching its parameters, and parameters registered once.
A registered prior without an entry in :data:`CASES` and :data:`REFERENCES` fails
:func:`test_every_prior_has_a_reference`.
"""


import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch

from pyrovae import VAE
from pyrovae.errors import ConfigError
from pyrovae.priors import PRIORS

Z = 3
EVENT = (1, 4, 4)

#: name -> option sets to test
CASES = {
    "normal": [{}],
    "learned-normal": [{}],
    "mixture": [{"components": 4}],
    "vamp": [{"components": 5}],
    "flow": [
        {"kind": "affine-coupling", "layers": 1},
        {"kind": "affine-autoregressive", "layers": 1},
        {"kind": "spline", "layers": 1},
        {"kind": "affine-coupling", "layers": 2},
    ],
}


def _softplus(v):
    return np.logaddexp(0.0, v)


def _np(t):
    return t.detach().numpy()


def _normal(vae, z):
    return scipy.stats.norm.logpdf(z).sum(-1)


def _learned_normal(vae, z):
    p = vae.prior
    scale = _softplus(_np(p.raw_scale)) + p.min_scale
    return scipy.stats.norm.logpdf(z, _np(p.loc), scale).sum(-1)


def _mixture(vae, z):
    """logsumexp_k [log π_k + Σ_i log N(z_i; m_ki, s_ki)], by hand."""
    p = vae.prior
    log_pi = _np(p.logits) - scipy.special.logsumexp(_np(p.logits))
    scales = _softplus(_np(p.raw_scales)) + p.min_scale
    comp = scipy.stats.norm.logpdf(z[:, None, :], _np(p.locs), scales).sum(-1)  # (n, K)
    return scipy.special.logsumexp(log_pi + comp, axis=1)


def _vamp(vae, z):
    """log (1/K) Σ_k q(z | u_k), each q(z|u_k) = N(μ_k, σ_k²) from the encoder, one at a time."""
    total = 0.0
    u = vae.prior.pseudo_inputs
    for k in range(u.shape[0]):
        loc, scale = vae.posterior.loc_scale(vae.encoder(u[k : k + 1]))
        total = total + np.exp(scipy.stats.norm.logpdf(z, _np(loc[0]), _np(scale[0])).sum(-1))
    return np.log(total / u.shape[0])


def _flow(vae, z):
    """Change of variables by hand: ε = f⁻¹(z), log p(z) = log N(ε) − log |det ∂f/∂ε|, with the
    Jacobian of the forward map f computed by autograd (not by the transforms' own log-det)."""
    transforms = vae.prior.transforms()

    def forward(eps):
        for t in transforms:
            eps = t(eps)
        return eps

    zt = torch.as_tensor(z)
    eps = zt
    for t in reversed(transforms):
        eps = t.inv(eps)
    assert torch.allclose(forward(eps), zt, atol=1e-8)  # the inverse really inverts f
    out = []
    for e in eps:
        jac = torch.autograd.functional.jacobian(forward, e)
        out.append(torch.linalg.slogdet(jac)[1].item())
    return scipy.stats.norm.logpdf(_np(eps)).sum(-1) - np.array(out)


#: name -> reference log p(z): f(vae, z as a float64 array (n, Z)) -> (n,)
REFERENCES = {
    "normal": _normal,
    "learned-normal": _learned_normal,
    "mixture": _mixture,
    "vamp": _vamp,
    "flow": _flow,
}


def cases():
    return [
        pytest.param(name, options, id=f"{name}-{'-'.join(map(str, options.values())) or 'default'}")
        for name in PRIORS.names()
        for options in CASES.get(name, [{}])
    ]


def build(name, options):
    vae = VAE.build(
        EVENT,
        z_dim=Z,
        prior={"name": name, **options},
        encoder={"name": "mlp", "hidden": [8]},
        decoder={"name": "mlp", "hidden": [8]},
    )
    with torch.no_grad():  # move learned parameters off their (often symmetric) initial values
        for p in vae.prior.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return vae


def test_every_prior_has_a_reference():
    for name in PRIORS.names():
        assert name in CASES, f"add test cases for prior '{name}' to CASES"
        assert name in REFERENCES, f"add a reference log-density for prior '{name}' to REFERENCES"


@pytest.mark.parametrize("name,options", cases())
def test_sample_shape_and_finite_log_prob(name, options):
    p = build(name, options).prior()
    assert p.event_shape == (Z,) and p.batch_shape == ()
    z = p.sample((7,))
    assert z.shape == (7, Z)
    lp = p.log_prob(z)
    assert lp.shape == (7,) and torch.isfinite(lp).all()
    # and broadcast over a particle and a batch dimension, as in a vectorized ELBO
    assert p.log_prob(z.reshape(7, 1, Z).expand(7, 2, Z)).shape == (7, 2)


@pytest.mark.parametrize("name,options", cases())
def test_log_prob_matches_reference(name, options, float64):
    vae = build(name, options).double()
    z = 1.5 * torch.randn(6, Z, dtype=torch.float64)
    got = vae.prior().log_prob(z).detach().numpy()
    np.testing.assert_allclose(got, REFERENCES[name](vae, z.numpy()), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name,options", cases())
def test_gradients_reach_every_prior_parameter(name, options):
    vae = build(name, options)
    lp = vae.prior().log_prob(torch.randn(5, Z)).sum()
    if not list(vae.prior.parameters()):  # a fixed prior: nothing to train
        assert not lp.requires_grad
        return
    lp.backward()
    for pname, param in vae.prior.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), pname
        assert param.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name,options", cases())
def test_parameters_registered_once(name, options):
    vae = build(name, options)
    params = list(vae.parameters())
    assert len({id(p) for p in params}) == len(params)
    parts = [vae.encoder, vae.decoder, vae.posterior, vae.likelihood, vae.prior]
    assert len(params) == sum(len(list(m.parameters())) for m in parts)


def test_vamp_shares_the_encoder_and_trains_pseudo_inputs():
    """The VampPrior adds only its pseudo-inputs; in an SVI loss both they and the encoder get
    gradients through the prior term."""
    from pyro.infer import Trace_ELBO

    vae = build("vamp", {"components": 5})
    own = list(vae.prior.parameters())
    assert len(own) == 1 and own[0] is vae.prior.pseudo_inputs
    assert vae.prior.pseudo_inputs.shape == (5, *EVENT)
    x = torch.randint(0, 2, (4, *EVENT)).float()
    Trace_ELBO().differentiable_loss(vae.model, vae.guide, x).backward()
    assert vae.prior.pseudo_inputs.grad.abs().sum() > 0
    # the prior term alone reaches the (shared) encoder
    vae.zero_grad()
    vae.prior().log_prob(torch.randn(3, Z)).sum().backward()
    assert all(p.grad.abs().sum() > 0 for p in vae.encoder.parameters())


def test_mixture_components_start_apart():
    p = PRIORS.build("mixture", {"z_dim": 4}, components=10)
    d = torch.cdist(p.locs, p.locs)
    assert (d + torch.eye(10) * 1e9).min() > 0.1


@pytest.mark.parametrize(
    "name,options",
    [("mixture", {"components": 0}), ("flow", {"kind": "planar"}), ("flow", {"layers": 0}),
     ("vamp", {"components": -1})],
)
def test_bad_options_raise_config_error(name, options):
    with pytest.raises(ConfigError):
        build(name, options)


def test_affine_coupling_needs_two_dimensions():
    with pytest.raises(ConfigError, match="spline"):
        PRIORS.build("flow", {"z_dim": 1})


@pytest.mark.parametrize("min_scale", [1e-3, 0.0, 0.5])
def test_learned_normal_starts_at_the_standard_normal(min_scale):
    """Before training, the learned prior is exactly N(0, I) (its docstring's promise)."""
    from pyrovae import PRIORS

    prior = PRIORS.build("learned-normal", {"z_dim": 3}, min_scale=min_scale)()
    z = torch.randn(5, 3)
    reference = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    assert torch.allclose(prior.log_prob(z), reference, atol=1e-6)
