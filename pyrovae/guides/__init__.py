"""Posterior families q(z|x), one per file, registered by name in :data:`GUIDES`."""

from .base import GUIDES, Posterior
from .diag_normal import DiagNormal
from .full_rank import FullRank
from .iaf import IAF

__all__ = ["DiagNormal", "FullRank", "GUIDES", "IAF", "Posterior"]
