"""Laplace likelihood: heavier tails than the Gaussian, an L1 reconstruction error."""

import pyro.distributions as dist

from .base import LIKELIHOODS
from .scale import LocScaleLikelihood

__all__ = ["LaplaceLikelihood"]


@LIKELIHOODS.register("laplace")
class LaplaceLikelihood(LocScaleLikelihood):
    """Independent Laplace per pixel; the scale fixed, learned globally, per pixel, or predicted.

    log p(x|z) = Σ_i −|x_i − μ_i| / b_i − log(2 b_i), with μ the decoder output and the scale b
    handled as for the Gaussian (:class:`~pyrovae.likelihoods.scale.LocScaleLikelihood`).

    :param float scale: the starting scale when learned, or the fixed scale (default ``1.0``).
    :param str learn_scale: ``"global"`` (default), ``"fixed"``, ``"pixel"`` or ``"decoder"``.
    :param float min_scale: a floor on learned scales (default ``1e-3``).
    """

    name = "laplace"
    family = dist.Laplace
    support = "all real numbers"
    suggestion = "laplace"
