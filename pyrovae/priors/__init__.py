"""Priors p(z), one per file, registered by name in :data:`PRIORS`."""

from .base import PRIORS, Prior
from .flow import FlowPrior
from .learned_normal import LearnedNormalPrior
from .mixture import MixturePrior
from .normal import NormalPrior
from .vamp import VampPrior

__all__ = ["FlowPrior", "LearnedNormalPrior", "MixturePrior", "NormalPrior", "PRIORS", "Prior",
           "VampPrior"]
