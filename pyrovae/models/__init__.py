"""Pyro models with their guides, registered by kind in :data:`MODELS`."""

from .base import MODELS, LatentVariableModel
from .vae import VAE

__all__ = sorted(["LatentVariableModel", "MODELS", "VAE"])
