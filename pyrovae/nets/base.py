"""Registries and shared helpers for the networks.

Shape contract, which every registered network follows:

* an **encoder** is built as ``factory(in_shape, out_features, **options)`` and maps
  ``x`` of shape ``batch + in_shape`` to ``batch + (out_features,)``;
* a **decoder** is built as ``factory(in_features, out_shape, **options)`` and maps
  ``batch + (in_features,)`` to ``batch + out_shape``, where ``out_shape = (P,) + event_shape``
  holds ``P`` parameters per pixel (one logit for a Bernoulli, 256 for a categorical, ...).

``batch`` may have any number of dimensions (vectorized ELBO particles add one).
"""

from torch import nn

from ..errors import ConfigError
from ..registry import Registry, closest

__all__ = ["ACTIVATIONS", "DECODERS", "ENCODERS", "activation"]

ENCODERS = Registry("encoder", builder_args=("in_shape", "out_features"))
DECODERS = Registry("decoder", builder_args=("in_features", "out_shape"))

#: activation name -> ``nn.Module`` class
ACTIVATIONS = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "leaky-relu": nn.LeakyReLU,
    "selu": nn.SELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "tanh": nn.Tanh,
}


def activation(name):
    """A fresh activation module for ``name``; unknown names raise :class:`ConfigError`."""
    if name not in ACTIVATIONS:
        raise ConfigError(
            f"unknown activation '{name}'{closest(name, ACTIVATIONS)}; "
            f"choose one of: {', '.join(sorted(ACTIVATIONS))}"
        )
    return ACTIVATIONS[name]()


def check_sizes(hidden):
    """Validate a list of hidden-layer widths (one int is one layer)."""
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, (int, list, tuple)):
        raise ConfigError(f"hidden sizes must be a list of positive integers such as [400], "
                          f"got {hidden!r}")
    hidden = [hidden] if isinstance(hidden, int) else list(hidden)
    if any(not isinstance(h, int) or isinstance(h, bool) or h < 1 for h in hidden):
        raise ConfigError(f"hidden sizes must be positive integers, got {hidden}")
    return hidden
