"""Beta likelihood for grey levels strictly inside (0, 1)."""

import pyro.distributions as dist
import torch.nn.functional as F

from ..checks import number
from .base import LIKELIHOODS, Likelihood

__all__ = ["BetaLikelihood"]


@LIKELIHOODS.register("beta")
class BetaLikelihood(Likelihood):
    """Independent Beta(α, β) per pixel, both concentrations predicted by the decoder.

    log p(x|z) = Σ_i (α_i − 1) log x_i + (β_i − 1) log(1 − x_i) − log B(α_i, β_i), with
    α, β = softplus(decoder outputs) + ``min_concentration``. The density lives on the *open*
    interval (0, 1): an exact 0 or 1 (MNIST's background, binarized data) has density 0 or ∞,
    so such data is refused; use ``continuous-bernoulli`` for data on the closed interval.

    :param float min_concentration: a floor on α and β (default ``1e-2``).
    """

    name = "beta"
    params_per_pixel = 2
    support = "the open interval (0, 1): exact 0 or 1 (as in MNIST or binarized data) excluded"
    example_value = 0.5
    suggestion = "continuous-bernoulli"

    def __init__(self, event_shape, min_concentration=1e-2):
        super().__init__(event_shape)
        # a floor on α and β: ≥ 0, or the Beta is not a distribution
        self.min_concentration = number(min_concentration, "min_concentration",
                                        "beta likelihood", minimum=0.0)

    def concentrations(self, params):
        """(α, β) from the two decoder channels."""
        raw_a, raw_b = self.split_params(params)
        return (
            F.softplus(raw_a) + self.min_concentration,
            F.softplus(raw_b) + self.min_concentration,
        )

    def forward(self, params):
        a, b = self.concentrations(params)
        return dist.Beta(a, b).to_event(len(self.event_shape))

    def mean(self, params):
        a, b = self.concentrations(params)
        return a / (a + b)

    def in_support(self, x):
        return (x > 0) & (x < 1)
