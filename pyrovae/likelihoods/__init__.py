"""Likelihoods p(x|z), one family per file, registered by name in :data:`LIKELIHOODS`."""

from .base import LIKELIHOODS, Likelihood
from .bernoulli import BernoulliLikelihood
from .gaussian import GaussianLikelihood

__all__ = sorted(["BernoulliLikelihood", "GaussianLikelihood", "LIKELIHOODS", "Likelihood"])
