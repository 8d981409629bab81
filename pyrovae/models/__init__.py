"""Pyro models with their guides, registered by kind in :data:`MODELS`."""

from .base import MODELS, LatentVariableModel
from .vae import VAE
from .m2 import M2
from .cvae import CVAE
from .cvae_quadrants import CVAEQuadrants
from .hvae import HVAE
from .adgm import ADGM
from .sdgm import SDGM

__all__ = ["ADGM", "CVAE", "CVAEQuadrants", "HVAE", "LatentVariableModel", "M2", "MODELS", "SDGM",
           "VAE"]
