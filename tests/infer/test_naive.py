"""The prior-sampling estimator log (1/K) Σ p(x|z_k), z_k ~ p(z), against closed forms.

Tolerances: 4 standard errors of a mean over examples (fixed seed), as in test_importance.py.
"""

import math

import torch

from pyrovae.infer import naive_estimate


def test_one_sample_is_the_expected_log_likelihood_under_the_prior(linear_gaussian,
                                                                   mean_and_stderr):
    # K = 1: E_{p(z)}[log p(x|z)] = −½ D log 2πσ² − (‖x − b‖² + ‖W‖²_F) / 2σ²
    lg = linear_gaussian
    expected = (-0.5 * lg.D * math.log(2 * math.pi * lg.sigma**2)
                - (((lg.x - lg.b) ** 2).sum(-1) + (lg.W**2).sum()) / (2 * lg.sigma**2))
    diff = torch.stack([naive_estimate(lg.vae, lg.x, 1) - expected for _ in range(10)])
    mean, se = mean_and_stderr(diff)
    assert abs(mean) < 4 * se, (mean, se)


def test_many_samples_reach_log_px_in_one_latent_dimension(make_linear_gaussian,
                                                           mean_and_stderr):
    # with one latent dimension the prior covers the posterior well: 20 000 samples make the
    # estimate's bias (about −Var(w)/2Kp² per example) negligible next to the noise
    lg = make_linear_gaussian(data_dim=3, z_dim=1, sigma=1.0, scales=(1.0,), num_examples=100)
    estimate = naive_estimate(lg.vae, lg.x, 20000, sample_chunk=5000, image_chunk=50)
    mean, se = mean_and_stderr(estimate - lg.log_px())
    assert abs(mean) < 4 * se and se < 0.01, (mean, se)

