"""Every test starts from the same state: seeded RNGs, an empty param store, validation on.
Also the linear-Gaussian VAE whose ELBO, posterior and log p(x) have closed forms (below),
shared by the estimator, objective and comparison tests."""

import collections
import math
import os

import pyro
import pytest
import torch

from pyrovae import VAE


@pytest.fixture(autouse=True)
def _fresh_pyro_state():
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    pyro.enable_validation(True)
    torch.set_default_dtype(torch.float32)
    yield
    pyro.clear_param_store()
    torch.set_default_dtype(torch.float32)


class _SyncCounter:

    """Counts calls of the Tensor methods that read a value back to the host."""

    NAMES = ("item", "__bool__", "__float__", "__int__", "__index__", "tolist")

    def __init__(self):
        self.calls = collections.Counter()

    def __enter__(self):
        self.saved = {name: getattr(torch.Tensor, name) for name in self.NAMES}
        for name, method in self.saved.items():
            setattr(torch.Tensor, name, self._counting(name, method))
        return self

    def _counting(self, name, method):
        def counted(tensor, *args, **kwargs):
            self.calls[name] += 1
            return method(tensor, *args, **kwargs)
        return counted

    def __exit__(self, *exc):
        for name, method in self.saved.items():
            setattr(torch.Tensor, name, method)

    @property
    def total(self):
        return sum(self.calls.values())


@pytest.fixture(name="SyncCounter")
def sync_counter():
    """The class that counts host reads (``with SyncCounter() as c: ...; c.total``)."""
    return _SyncCounter


@pytest.fixture
def float64():
    """Run an analytic check in double precision, so tolerances can be tight."""
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


# -- the linear-Gaussian VAE of the analytic checks ----------------------------------------
# A linear-Gaussian VAE built from the library's own components, with its closed forms.
# 
#     p(z) = N(0, I_d),  p(x|z) = N(W z + b, σ² I_D),  q(z|x) = N(A x + c, diag s²)
# 
# * log p(x) = log N(x; b, W Wᵀ + σ² I);
# * the exact posterior is N(M⁻¹ Wᵀ (x − b) / σ², M⁻¹) with M = I + WᵀW / σ²; W has orthogonal
#   columns, so M is diagonal and the diagonal-normal guide (linear encoder) can be exact;
# * ELBO(x) = E_q[log p(x|z)] − KL(q || p) with
#   E_q[log p(x|z)] = −½ D log 2πσ² − (‖x − W m − b‖² + Σ_j s_j² ‖w_j‖²) / 2σ²,
#   KL = ½ Σ_j (s_j² + m_j² − 1 − log s_j²).
# 
# Everything here is hand-written in float64 (use with the ``float64`` fixture); the VAE is
# ``VAE.build`` with MLP encoder/decoder of no hidden layer (a Linear layer), a fixed-scale
# ``gaussian`` likelihood and the ``normal`` prior, so the tests run the real code paths.

def inverse_softplus(y):
    return y + torch.log(-torch.expm1(-y))


class LinearGaussian:
    def __init__(self, data_dim=6, z_dim=2, sigma=0.5, scales=(1.5, 0.8), num_examples=200,
                 seed=0):
        g = torch.Generator().manual_seed(seed)
        self.D, self.d, self.sigma = data_dim, z_dim, sigma
        basis, _ = torch.linalg.qr(torch.randn(data_dim, data_dim, generator=g))
        self.W = basis[:, :z_dim] * torch.tensor(scales[:z_dim])  # orthogonal columns
        self.b = torch.randn(data_dim, generator=g)
        z = torch.randn(num_examples, z_dim, generator=g)
        self.x = z @ self.W.T + self.b + sigma * torch.randn(num_examples, data_dim, generator=g)
        self.vae = VAE.build(
            (data_dim,),
            z_dim=z_dim,
            prior="normal",
            likelihood={"name": "gaussian", "scale": sigma, "learn_scale": "fixed"},
            guide="diag-normal",
            encoder={"name": "mlp", "hidden": []},
            decoder={"name": "mlp", "hidden": []},
        )
        with torch.no_grad():
            self.vae.decoder.net[0].weight.copy_(self.W)
            self.vae.decoder.net[0].bias.copy_(self.b)
        self.set_exact_guide()

    # -- closed forms -------------------------------------------------------------------------

    def log_px(self, x=None):
        x = self.x if x is None else x
        cov = self.W @ self.W.T + self.sigma**2 * torch.eye(self.D)
        r = x - self.b
        maha = (r * torch.linalg.solve(cov, r.T).T).sum(-1)
        return -0.5 * (maha + torch.logdet(cov) + self.D * math.log(2 * math.pi))

    def exact_posterior(self):
        """(A, c, s): posterior mean A x + c and standard deviations s."""
        M = torch.eye(self.d) + self.W.T @ self.W / self.sigma**2
        A = torch.linalg.solve(M, self.W.T) / self.sigma**2
        return A, -A @ self.b, torch.diagonal(torch.linalg.inv(M)).sqrt()

    def guide_params(self, x=None):
        """(m, s) of the VAE's current guide at x, read off q(z|x)."""
        q = self.vae.q(self.x if x is None else x)
        return q.base_dist.loc.detach(), q.base_dist.scale.detach()

    def elbo(self, x=None, m=None, s=None):
        """Closed-form ELBO per example for the guide N(m, diag s²) (default: the VAE's)."""
        x = self.x if x is None else x
        if m is None:
            m, s = self.guide_params(x)
        resid = x - m @ self.W.T - self.b
        spread = (s**2 * (self.W**2).sum(0)).sum(-1)
        recon = (-0.5 * self.D * math.log(2 * math.pi * self.sigma**2)
                 - ((resid**2).sum(-1) + spread) / (2 * self.sigma**2))
        kl = 0.5 * (s**2 + m**2 - 1 - torch.log(s**2)).sum(-1)
        return recon - kl

    def log_joint(self, x, z):
        """log p(x|z) + log p(z), hand-written, for z of shape (..., N, d)."""
        mean = z @ self.W.T + self.b
        log_lik = (-0.5 * ((x - mean) / self.sigma) ** 2
                   - math.log(self.sigma) - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prior = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)
        return log_lik + log_prior

    # -- setting the guide --------------------------------------------------------------------

    def set_guide(self, A, c, s):
        """Make the linear encoder output q(z|x) = N(A x + c, diag s²)."""
        layer = self.vae.encoder.net[0]
        min_scale = self.vae.posterior.min_scale
        with torch.no_grad():
            layer.weight.zero_()
            layer.weight[: self.d].copy_(A)
            layer.bias[: self.d].copy_(c)
            layer.bias[self.d :].copy_(inverse_softplus(s - min_scale))

    def set_exact_guide(self):
        self.set_guide(*self.exact_posterior())

    def set_poor_guide(self, shift=0.7, widen=1.6):
        """A guide off the posterior: shifted mean, wider scales (so the IS bound has a gap)."""
        A, c, s = self.exact_posterior()
        self.set_guide(0.8 * A, c + shift, widen * s)


@pytest.fixture
def make_linear_gaussian(float64):
    """The :class:`LinearGaussian` class, for tests that need other sizes (float64)."""
    return LinearGaussian


@pytest.fixture
def linear_gaussian(float64):
    """The linear-Gaussian VAE with the exact posterior as guide (float64)."""
    return LinearGaussian()


def _mean_and_stderr(values):
    """Mean and standard error of the mean of a 1-D tensor (for tolerances)."""
    values = values.reshape(-1)
    return values.mean().item(), (values.std() / math.sqrt(values.numel())).item()


@pytest.fixture
def mean_and_stderr():
    """``f(values) -> (mean, standard error of the mean)``, hand-written for the tolerances."""
    return _mean_and_stderr


@pytest.fixture
def full_disk(monkeypatch):
    """Files opened by atomic_write write to /dev/full from now on: every flushed write says
    ENOSPC. Call the fixture's value to start."""
    def start():
        if not os.path.exists("/dev/full"):
            pytest.skip("needs /dev/full")
        real_fdopen = os.fdopen

        def fdopen(fd, mode="r", *args, **kwargs):
            os.close(fd)
            return real_fdopen(os.open("/dev/full", os.O_WRONLY), mode, *args, **kwargs)

        monkeypatch.setattr(os, "fdopen", fdopen)

    return start


def _one_line(capsys, code, *fragments):
    """``code`` is 2 and stderr one ``pyrovae: error:`` line holding every fragment; returns
    that line."""
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("pyrovae: error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.fixture
def one_line(capsys):
    """``one_line(code, *fragments)``: the exit status ``code`` of ``pyrovae.cli.main`` is 2
    and what it wrote on stderr is one ``pyrovae: error:`` line holding every fragment (the
    line is returned)."""
    return lambda code, *fragments: _one_line(capsys, code, *fragments)
