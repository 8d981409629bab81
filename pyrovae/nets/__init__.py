"""Plain torch networks (no Pyro): encoders map x to features, decoders map a latent to
per-pixel distribution parameters. Chosen by name from :data:`ENCODERS` / :data:`DECODERS`."""

from .base import DECODERS, ENCODERS, ACTIVATIONS
from .conv import ConvDecoder, ConvEncoder
from .gated import GatedDecoder, GatedDense, GatedEncoder
from .mlp import MLPDecoder, MLPEncoder

__all__ = ["ACTIVATIONS", "ConvDecoder", "ConvEncoder", "DECODERS", "ENCODERS", "GatedDecoder",
           "GatedDense", "GatedEncoder", "MLPDecoder", "MLPEncoder"]
