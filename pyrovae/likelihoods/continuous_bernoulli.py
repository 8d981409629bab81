"""Continuous Bernoulli likelihood (Loaiza-Ganem & Cunningham, 2019) for grey levels in [0, 1]."""

import pyro.distributions as dist

from .base import LIKELIHOODS, Likelihood
from .checks import warn_if_binary

__all__ = ["ContinuousBernoulliLikelihood"]


@LIKELIHOODS.register("continuous-bernoulli")
class ContinuousBernoulliLikelihood(Likelihood):
    """Continuous Bernoulli per pixel: the normalized version of binary cross-entropy on [0, 1].

    p(x|λ) = C(λ) λ^x (1 − λ)^(1−x) for x ∈ [0, 1], λ = sigmoid(decoder logit), with the
    normalizing constant C(λ) = 2 atanh(1 − 2λ) / (1 − 2λ) (and C(½) = 2). Without C this is the
    Bernoulli "likelihood" that VAEs often apply to grey levels, which is not a density on
    [0, 1]. ``mean`` is E[x] = λ/(2λ − 1) + 1/(2 atanh(1 − 2λ)), not λ.
    """

    name = "continuous-bernoulli"
    support = "the closed interval [0, 1]"
    suggestion = "gaussian"

    def forward(self, params):
        (logits,) = self.split_params(params)
        return dist.ContinuousBernoulli(logits=logits).to_event(len(self.event_shape))

    def in_support(self, x):
        return (x >= 0) & (x <= 1)

    def check_data(self, x, where="the data"):
        super().check_data(x, where)
        warn_if_binary(self, x, where)
