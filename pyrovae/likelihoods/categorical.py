"""A 256-way (or ``levels``-way) categorical distribution per pixel over grey levels."""

import pyro.distributions as dist
import torch
from pyro.distributions.torch_distribution import TorchDistribution
from torch.distributions import constraints

from ..errors import ConfigError
from .base import LIKELIHOODS, Likelihood
from .checks import warn_if_binary

__all__ = ["CategoricalLikelihood", "GridCategorical"]


class GridCategorical(TorchDistribution):
    """Independent categoricals over the grid {0, 1/(L−1), ..., 1}, one per pixel.

    A value x is the grey level of bin k = round(x (L − 1)): ``log_prob(x)`` is
    Σ_pixels log softmax(logits)[k]. Its event shape is the image's shape.

    :param torch.Tensor logits: ``batch + event_shape + (L,)``.
    :param int event_dim: how many trailing dimensions of ``logits[..., 0]`` form one example.
    """

    arg_constraints = {"logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = False

    def __init__(self, logits, event_dim, validate_args=None):
        self.logits = logits
        self.levels = logits.shape[-1]
        self._categorical = dist.Categorical(logits=logits, validate_args=False)
        shape = logits.shape[:-1]
        cut = len(shape) - event_dim
        super().__init__(shape[:cut], shape[cut:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        batch_shape = torch.Size(batch_shape)
        shape = batch_shape + self.event_shape + (self.levels,)
        return GridCategorical(
            self.logits.expand(shape), len(self.event_shape), validate_args=False
        )

    def bins(self, x):
        """Grey levels in [0, 1] -> bin indices round(x (L − 1))."""
        return torch.round(x * (self.levels - 1)).long()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logp = self._categorical.log_prob(self.bins(value))
        return logp.sum(tuple(range(-len(self.event_shape), 0))) if self.event_shape else logp

    def sample(self, sample_shape=torch.Size()):
        k = self._categorical.sample(sample_shape)
        return k.to(self.logits.dtype) / (self.levels - 1)

    @property
    def grid(self):
        return torch.linspace(0, 1, self.levels, dtype=self.logits.dtype, device=self.logits.device)

    @property
    def mean(self):
        return (self._categorical.probs * self.grid).sum(-1)


@LIKELIHOODS.register("categorical")
class CategoricalLikelihood(Likelihood):
    """A ``levels``-way categorical per pixel over the grey levels k/(levels−1) (8-bit: 256).

    The decoder emits ``levels`` logits per pixel; x ∈ [0, 1] is read as bin
    k = round(x (levels − 1)) and log p(x|z) = Σ_i log softmax(logits_i)[k_i]. This is an exact
    discrete density whenever the data lie on a grid no finer than 1/(levels − 1): 8-bit images
    (k/255) with 256 levels, the ``digits`` data (k/16) since 16 divides 255, binary data.
    ``mean`` is the expected grey level Σ_k p_k k/(levels − 1).

    :param int levels: the number of grey levels (default ``256``).
    """

    name = "categorical"
    support = "grey levels in [0, 1] (read as bins of width 1/(levels-1))"
    suggestion = "gaussian"

    def __init__(self, event_shape, levels=256):
        super().__init__(event_shape)
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
            raise ConfigError(f"categorical likelihood: levels must be an integer >= 2, got {levels!r}")
        self.levels = levels
        self.params_per_pixel = levels

    def forward(self, params):
        logits = params.movedim(-len(self.event_shape) - 1, -1)
        return GridCategorical(logits, len(self.event_shape))

    def in_support(self, x):
        return (x >= 0) & (x <= 1)

    def check_data(self, x, where="the data"):
        super().check_data(x, where)
        warn_if_binary(self, x, where)
