"""Pyro models with their guides, registered by kind in :data:`MODELS`."""

from .base import MODELS, LatentVariableModel
from .vae import VAE
from .m2 import M2
from .cvae import CVAE

__all__ = sorted(["CVAE", "LatentVariableModel", "M2", "MODELS", "VAE"])
