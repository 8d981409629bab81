"""Priors p(z), one per file, registered by name in :data:`PRIORS`."""

from .base import PRIORS, Prior
from .learned_normal import LearnedNormalPrior
from .normal import NormalPrior

__all__ = sorted(["LearnedNormalPrior", "NormalPrior", "PRIORS", "Prior"])
