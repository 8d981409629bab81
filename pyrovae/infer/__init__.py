"""Inference: training objectives and estimators of the ELBO and log p(x)."""

from .elbo import analytic_kl, elbo_terms, evaluate_elbo
from .gradients import gradient_noise
from .importance import evaluate_log_likelihood, importance_bound
from .logmeanexp import log_mean_exp
from .naive import naive_estimate
from .objectives import OBJECTIVES

__all__ = ["OBJECTIVES", "analytic_kl", "elbo_terms", "evaluate_elbo", "evaluate_log_likelihood",
           "gradient_noise", "importance_bound", "log_mean_exp", "naive_estimate"]
