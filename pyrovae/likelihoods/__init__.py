"""Likelihoods p(x|z), one family per file, registered by name in :data:`LIKELIHOODS`."""

from .base import LIKELIHOODS, Likelihood
from .bernoulli import BernoulliLikelihood
from .beta import BetaLikelihood
from .categorical import CategoricalLikelihood
from .continuous_bernoulli import ContinuousBernoulliLikelihood
from .gaussian import GaussianLikelihood
from .laplace import LaplaceLikelihood
from .scale import LocScaleLikelihood

__all__ = ["BernoulliLikelihood", "BetaLikelihood", "CategoricalLikelihood",
           "ContinuousBernoulliLikelihood", "GaussianLikelihood", "LIKELIHOODS",
           "LaplaceLikelihood", "Likelihood", "LocScaleLikelihood"]
