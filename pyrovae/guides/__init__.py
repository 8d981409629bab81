"""Posterior families q(z|x), one per file, registered by name in :data:`GUIDES`."""

from .base import GUIDES, Posterior
from .diag_normal import DiagNormal

__all__ = sorted(["DiagNormal", "GUIDES", "Posterior"])
