"""Location-scale likelihoods (Gaussian, Laplace) share one way of handling the scale.

The decoder predicts the location μ; the scale σ is one of

* ``"fixed"``: a constant ``scale`` (a buffer, not trained);
* ``"global"``: one learned σ for every pixel;
* ``"pixel"``: one learned σ per pixel (shape ``event_shape``);
* ``"decoder"``: predicted per example and pixel, from a second decoder channel.

Learned scales are ``softplus(raw) + min_scale``, initialised at ``scale``. A subclass only names
its distribution family in :attr:`LocScaleLikelihood.family`.
"""

import math

import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import number
from ..errors import ConfigError
from ..registry import closest
from .base import Likelihood
from .checks import warn_if_binary

__all__ = ["LocScaleLikelihood", "SCALE_MODES"]

SCALE_MODES = ("fixed", "global", "pixel", "decoder")


def _inverse_softplus(y):
    return y + math.log(-math.expm1(-y))


class LocScaleLikelihood(Likelihood):
    """Independent ``family(μ, σ)`` per pixel with μ from the decoder and σ per ``learn_scale``.

    :param tuple event_shape: the shape of one example.
    :param float scale: the starting scale when learned, or the fixed scale (default ``1.0``).
    :param str learn_scale: ``"global"`` (default), ``"fixed"``, ``"pixel"`` or ``"decoder"``.
    :param float min_scale: a floor on learned scales (default ``1e-3``).
    """

    #: a location-scale Pyro distribution class, e.g. ``dist.Normal``
    family = dist.Normal
    name = "loc-scale"

    def __init__(self, event_shape, scale=1.0, learn_scale="global", min_scale=1e-3):
        super().__init__(event_shape)
        if learn_scale not in SCALE_MODES:
            raise ConfigError(
                f"{self.name} likelihood: unknown learn_scale '{learn_scale}'"
                f"{closest(learn_scale, SCALE_MODES)}; choose one of: {', '.join(SCALE_MODES)}"
            )
        scale = number(scale, "scale", f"{self.name} likelihood")  # finite, not a str
        min_scale = number(min_scale, "min_scale", f"{self.name} likelihood", minimum=0.0)
        if not scale > 0:
            raise ConfigError(f"{self.name} likelihood: scale must be positive, got {scale:g}")
        if learn_scale != "fixed" and not scale > min_scale:
            raise ConfigError(
                f"{self.name} likelihood: the starting scale {scale} must exceed min_scale "
                f"{min_scale}"
            )
        self.learn_scale = learn_scale
        self.min_scale = float(min_scale)
        self.params_per_pixel = 2 if learn_scale == "decoder" else 1
        raw = _inverse_softplus(float(scale) - self.min_scale) if learn_scale != "fixed" else 0.0
        if learn_scale == "fixed":
            self.register_buffer("fixed_scale", torch.tensor(float(scale)))
        elif learn_scale == "global":
            self.raw_scale = nn.Parameter(torch.tensor(raw))
        elif learn_scale == "pixel":
            self.raw_scale = nn.Parameter(torch.full(self.event_shape, raw))
        else:  # decoder: the second decoder channel is a raw scale; start it near `scale`
            self.register_buffer("raw_offset", torch.tensor(raw))

    def scale(self, params):
        """σ, broadcastable against the location."""
        if self.learn_scale == "fixed":
            return self.fixed_scale
        if self.learn_scale == "decoder":
            raw = self.split_params(params)[1] + self.raw_offset
        else:
            raw = self.raw_scale
        return F.softplus(raw) + self.min_scale

    def forward(self, params):
        loc = self.split_params(params)[0]
        scale = self.scale(params).expand_as(loc)
        return self.family(loc, scale).to_event(len(self.event_shape))

    def mean(self, params):
        return self.split_params(params)[0]

    def check_data(self, x, where="the data"):
        super().check_data(x, where)
        warn_if_binary(self, x, where)
