"""Gaussian likelihood with a fixed, global, per-pixel or decoder-predicted scale."""

import pyro.distributions as dist

from .base import LIKELIHOODS
from .scale import LocScaleLikelihood

__all__ = ["GaussianLikelihood"]


@LIKELIHOODS.register("gaussian")
class GaussianLikelihood(LocScaleLikelihood):
    """Independent Normal per pixel; the scale fixed, learned globally, per pixel, or predicted.

    log p(x|z) = Σ_i −½ ((x_i − μ_i)/σ_i)² − log σ_i − ½ log 2π, with μ the decoder output. The
    scale term is kept: it is what makes this a density (dropping it turns the ELBO into a
    weighted squared error). The scale modes are those of
    :class:`~pyrovae.likelihoods.scale.LocScaleLikelihood`.

    :param float scale: the starting scale when learned, or the fixed scale (default ``1.0``).
    :param str learn_scale: ``"global"`` (default: one learned σ), ``"fixed"``, ``"pixel"``
        (one learned σ per pixel), or ``"decoder"`` (σ predicted per example and pixel). A fixed
        σ = 1 on [0, 1] images makes the ELBO a constant plus a down-weighted squared error
        (blurry reconstructions); a learned σ fits the data's noise level.
    :param float min_scale: a floor on learned scales (default ``1e-3``).
    """

    name = "gaussian"
    family = dist.Normal
    support = "all real numbers"
    suggestion = "gaussian"

    def __init__(self, event_shape, scale=1.0, learn_scale="global", min_scale=1e-3):
        super().__init__(event_shape, scale, learn_scale, min_scale)
