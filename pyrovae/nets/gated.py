"""Gated fully connected networks: the GatedDense layers of Tomczak & Welling (2018), "VAE with
a VampPrior" (after Dauphin et al. 2017's gated linear units).

One layer maps x to

    h = (W₁ x + b₁) ⊙ σ(W₂ x + b₂),

a linear part times a sigmoid gate (the paper's default: no activation on the linear part).
The encoder and decoder stack such layers through ``hidden`` and end with a plain ``Linear``
to the outputs, as in the paper's code.
"""

import math

import torch
from torch import nn

from ..errors import ConfigError
from ..registry import closest
from .base import ACTIVATIONS, DECODERS, ENCODERS, activation, check_sizes

__all__ = ["GatedDecoder", "GatedDense", "GatedEncoder", "gated_stack", "linear_activation"]


def linear_activation(name):
    """The activation on a GatedDense layer's linear part: the identity for ``"none"`` (or
    ``None``), the paper's choice, else the named activation."""
    if name is None or name == "none":
        return nn.Identity()
    if name not in ACTIVATIONS:
        choices = ["none", *sorted(ACTIVATIONS)]
        raise ConfigError(
            f"gated: unknown activation {name!r}{closest(name, choices)}; choose one of: "
            f"{', '.join(choices)} (none, the default, keeps the linear part linear)"
        )
    return activation(name)


class GatedDense(nn.Module):
    """h = a(W₁ x + b₁) ⊙ σ(W₂ x + b₂), with ``a`` the identity unless ``activation`` names one.

    :param int in_features: inputs.
    :param int out_features: outputs.
    :param str activation_name: on the linear part (default ``"none"``: identity, as in the
        paper).
    """

    def __init__(self, in_features, out_features, activation_name="none"):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.gate = nn.Linear(in_features, out_features)
        self.act = linear_activation(activation_name)

    def forward(self, x):
        return self.act(self.linear(x)) * torch.sigmoid(self.gate(x))


def gated_stack(sizes, activation_name):
    """GatedDense layers through ``sizes[:-1]``, then a Linear to ``sizes[-1]``."""
    layers = [GatedDense(a, b, activation_name) for a, b in zip(sizes[:-2], sizes[1:-1])]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]))


@ENCODERS.register("gated")
class GatedEncoder(nn.Module):
    """Gated MLP encoder (VampPrior paper's GatedDense layers), then a linear output.

    :param tuple in_shape: the shape of one example.
    :param int out_features: features the posterior family needs.
    :param list hidden: GatedDense widths (default ``[300, 300]``).
    :param str activation: on each layer's linear part (default ``"none"``: identity).
    """

    def __init__(self, in_shape, out_features, hidden=(300, 300), activation="none"):
        super().__init__()
        self.in_shape = tuple(in_shape)
        self.net = gated_stack([math.prod(self.in_shape), *check_sizes(hidden), out_features],
                               activation)

    def forward(self, x):
        batch = x.shape[: x.dim() - len(self.in_shape)]
        return self.net(x.reshape(*batch, -1))


@DECODERS.register("gated")
class GatedDecoder(nn.Module):
    """Gated MLP decoder (VampPrior paper's GatedDense layers), then a linear output.

    :param int in_features: latent size (plus any conditioning inputs).
    :param tuple out_shape: ``(P,) + event_shape``.
    :param list hidden: GatedDense widths (default ``[300, 300]``).
    :param str activation: on each layer's linear part (default ``"none"``: identity).
    """

    def __init__(self, in_features, out_shape, hidden=(300, 300), activation="none"):
        super().__init__()
        self.out_shape = tuple(out_shape)
        self.net = gated_stack([in_features, *check_sizes(hidden), math.prod(self.out_shape)],
                               activation)

    def forward(self, z):
        return self.net(z).reshape(*z.shape[:-1], *self.out_shape)
