"""Inference: training objectives and estimators of the ELBO and log p(x)."""

from .elbo import analytic_kl, elbo_terms, evaluate_elbo
from .objectives import OBJECTIVES

__all__ = sorted(["OBJECTIVES", "analytic_kl", "elbo_terms", "evaluate_elbo"])
