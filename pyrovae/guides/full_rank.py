"""Full-rank Gaussian posterior: a Cholesky factor predicted by the encoder."""

import pyro.distributions as dist
import torch
import torch.nn.functional as F

from .base import GUIDES, Posterior

__all__ = ["FullRank"]


@GUIDES.register("full-rank")
class FullRank(Posterior):
    """Multivariate normal q(z|x) = N(μ(x), L(x) L(x)ᵀ) with a lower-triangular Cholesky factor L.

    The encoder emits z + z(z+1)/2 features: μ, then the z(z+1)/2 lower-triangular entries of L
    (row by row). The diagonal is ``softplus(raw) + min_scale`` so L is a valid Cholesky factor;
    off-diagonal entries are used as they are. log q(z|x) = −½‖L⁻¹(z − μ)‖² − Σ_i log L_ii
    − (z/2) log 2π.

    :param float min_scale: a floor on the diagonal of L (default ``1e-4``).
    """

    def __init__(self, z_dim, min_scale=1e-4):
        super().__init__(z_dim)
        self.min_scale = float(min_scale)
        rows, cols = torch.tril_indices(self.z_dim, self.z_dim)
        self.register_buffer("rows", rows)
        self.register_buffer("cols", cols)

    @property
    def num_features(self):
        return self.z_dim + self.z_dim * (self.z_dim + 1) // 2

    def loc_scale_tril(self, h):
        """(μ, L) from encoder features ``h`` of shape ``batch + (num_features,)``."""
        loc, entries = h.split([self.z_dim, h.shape[-1] - self.z_dim], dim=-1)
        tril = h.new_zeros(*h.shape[:-1], self.z_dim, self.z_dim)
        tril[..., self.rows, self.cols] = entries
        diag = F.softplus(tril.diagonal(dim1=-2, dim2=-1)) + self.min_scale
        tril = tril.tril(-1) + torch.diag_embed(diag)
        return loc, tril

    def forward(self, h):
        loc, tril = self.loc_scale_tril(h)
        return dist.MultivariateNormal(loc, scale_tril=tril)
