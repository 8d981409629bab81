"""Bernoulli likelihood over pixels."""

import warnings

import pyro.distributions as dist
import torch

from .base import LIKELIHOODS, Likelihood

__all__ = ["BernoulliLikelihood"]


@LIKELIHOODS.register("bernoulli")
class BernoulliLikelihood(Likelihood):
    """Independent Bernoulli per pixel; exact for binary data, cross-entropy for [0,1] data.

    log p(x|z) = Σ_i x_i log p_i + (1 − x_i) log(1 − p_i), with p = sigmoid(decoder logits).
    For x in {0, 1} this is a normalized log-density. For grey levels in (0, 1) it is the binary
    cross-entropy, which is *not* a normalized density on [0, 1]: the ELBO it gives is not a bound
    on a log-likelihood. Binarize the data (``data.binarize = "dynamic"``) or use a continuous
    likelihood for grey levels; pyrovae warns once when this happens.
    """

    name = "bernoulli"
    support = "[0, 1]; exact density for binary {0, 1} data"
    suggestion = "gaussian"
    binary = True

    def forward(self, params):
        (logits,) = self.split_params(params)
        # validate_args=False: grey levels in [0, 1] are allowed (see the class docstring); the
        # support is checked once per data set by check_data instead of on every step.
        return dist.Bernoulli(logits=logits, validate_args=False).to_event(len(self.event_shape))

    def in_support(self, x):
        return (x >= 0) & (x <= 1)

    def check_data(self, x, where="the data"):
        super().check_data(x, where)
        if ((x > 0) & (x < 1)).any():
            warnings.warn(
                f"{where} has grey levels in (0, 1): the 'bernoulli' likelihood then gives the "
                "binary cross-entropy, not a normalized density, so the ELBO is not a bound on "
                "log p(x); binarize (data.binarize = \"dynamic\") or use a density on [0, 1] "
                "(model.likelihood = \"continuous-bernoulli\") for a proper one",
                stacklevel=2,
            )

    def mean(self, params):
        return torch.sigmoid(self.split_params(params)[0])
