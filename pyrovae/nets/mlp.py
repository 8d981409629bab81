"""Fully connected encoder and decoder."""

import math

from torch import nn

from .base import DECODERS, ENCODERS, activation, check_sizes

__all__ = ["MLPDecoder", "MLPEncoder", "mlp"]


def mlp(sizes, act):
    """``Linear -> act -> ... -> Linear`` through ``sizes`` (no activation after the last)."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation(act))
    return nn.Sequential(*layers)


@ENCODERS.register("mlp")
class MLPEncoder(nn.Module):
    """Fully connected encoder: flattens x, hidden layers with an activation, linear output.

    :param tuple in_shape: the shape of one example, e.g. ``(1, 28, 28)``.
    :param int out_features: features the posterior family needs.
    :param list hidden: hidden-layer widths (default ``[400]``).
    :param str activation: activation name (default ``"relu"``).
    """

    def __init__(self, in_shape, out_features, hidden=(400,), activation="relu"):
        super().__init__()
        self.in_shape = tuple(in_shape)
        self.net = mlp([math.prod(self.in_shape), *check_sizes(hidden), out_features], activation)

    def forward(self, x):
        batch = x.shape[: x.dim() - len(self.in_shape)]
        return self.net(x.reshape(*batch, -1))


@DECODERS.register("mlp")
class MLPDecoder(nn.Module):
    """Fully connected decoder: latent -> hidden layers -> per-pixel distribution parameters.

    :param int in_features: latent size (plus any conditioning inputs).
    :param tuple out_shape: ``(P,) + event_shape``.
    :param list hidden: hidden-layer widths (default ``[400]``).
    :param str activation: activation name (default ``"relu"``).
    """

    def __init__(self, in_features, out_shape, hidden=(400,), activation="relu"):
        super().__init__()
        self.out_shape = tuple(out_shape)
        self.net = mlp([in_features, *check_sizes(hidden), math.prod(self.out_shape)], activation)

    def forward(self, z):
        return self.net(z).reshape(*z.shape[:-1], *self.out_shape)
