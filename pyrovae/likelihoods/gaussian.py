"""Gaussian likelihood with a fixed, global, per-pixel or decoder-predicted scale."""

import math

import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..registry import closest
from .base import LIKELIHOODS, Likelihood

__all__ = ["GaussianLikelihood"]

_MODES = ("fixed", "global", "pixel", "decoder")


def _inverse_softplus(y):
    return y + math.log(-math.expm1(-y))


@LIKELIHOODS.register("gaussian")
class GaussianLikelihood(Likelihood):
    """Independent Normal per pixel; the scale fixed, learned globally, per pixel, or predicted.

    log p(x|z) = Σ_i −½ ((x_i − μ_i)/σ_i)² − log σ_i − ½ log 2π, with μ the decoder output. The
    scale term is kept: it is what makes this a density (dropping it turns the ELBO into a
    weighted squared error).

    :param float scale: the fixed scale, or the starting scale when learned (default ``1.0``).
    :param str learn_scale: ``"fixed"`` (default), ``"global"`` (one learned σ), ``"pixel"``
        (one learned σ per pixel), or ``"decoder"`` (σ predicted per example and pixel).
    :param float min_scale: a floor on learned scales (default ``1e-3``).
    """

    name = "gaussian"
    support = "all real numbers"
    suggestion = "gaussian"

    def __init__(self, event_shape, scale=1.0, learn_scale="fixed", min_scale=1e-3):
        super().__init__(event_shape)
        if learn_scale not in _MODES:
            raise ConfigError(
                f"gaussian likelihood: unknown learn_scale '{learn_scale}'"
                f"{closest(learn_scale, _MODES)}; choose one of: {', '.join(_MODES)}"
            )
        if not scale > 0:
            raise ConfigError(f"gaussian likelihood: scale must be positive, got {scale}")
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
        return dist.Normal(loc, scale).to_event(len(self.event_shape))

    def mean(self, params):
        return self.split_params(params)[0]
