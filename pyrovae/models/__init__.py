"""Pyro models with their guides, registered by kind in :data:`MODELS`."""

from .base import MODELS, LatentVariableModel
from .vae import VAE
from .m2 import M2
from .cvae import CVAE
from .cvae_quadrants import CVAEQuadrants

__all__ = sorted(["CVAE", "CVAEQuadrants", "LatentVariableModel", "M2", "MODELS", "VAE"])
