"""Monte Carlo and analytic-KL ELBO estimates against the closed-form ELBO of a linear-Gaussian
VAE (tolerance: 4 standard errors of the mean over examples × repeats, fixed seed)."""

import pytest
import torch

from pyrovae.infer import elbo_terms


def test_mc_elbo_with_exact_posterior_is_log_px(linear_gaussian):
    # log p(x, z) − log q*(z|x) = log p(x) for every z, so even one particle is exact
    lg = linear_gaussian
    terms, method = elbo_terms(lg.vae, lg.x, num_samples=1, kl="monte-carlo")
    assert method == "monte-carlo"
    torch.testing.assert_close(terms["elbo"], lg.log_px(), rtol=0, atol=1e-10)
    torch.testing.assert_close(lg.elbo(), lg.log_px(), rtol=0, atol=1e-10)  # the closed form


@pytest.mark.parametrize("kl", ["monte-carlo", "analytic"])
@pytest.mark.parametrize("num_samples", [1, 10])
def test_elbo_estimates_are_unbiased(linear_gaussian, mean_and_stderr, kl, num_samples):
    lg = linear_gaussian
    lg.set_poor_guide()
    exact = lg.elbo()
    diff = torch.stack(
        [elbo_terms(lg.vae, lg.x, num_samples, kl=kl)[0]["elbo"] - exact for _ in range(10)]
    )
    mean, se = mean_and_stderr(diff)
    assert abs(mean) < 4 * se, (mean, se)


def test_elbo_is_below_log_px_for_a_poor_guide(linear_gaussian, mean_and_stderr):
    lg = linear_gaussian
    lg.set_poor_guide()
    assert (lg.elbo() < lg.log_px()).all()  # closed form: the gap is KL(q || p(z|x)) > 0
    estimate = elbo_terms(lg.vae, lg.x, 10, kl="analytic")[0]["elbo"]
    mean, se = mean_and_stderr(estimate - lg.log_px())
    assert mean + 3 * se < 0, (mean, se)

