"""A two-stochastic-layer VAE that no file of pyrovae defines: a plain ``nn.Module`` with two
Pyro programs, used by tests/test_user_models.py as a user's own model would be.

::

    model(x):                               guide(x):
      for n in plate("data"):                 for n in plate("data"):
        z2_n ~ N(0, I)                          z1_n ~ N(μ1(x_n), σ1(x_n)²)
        z1_n ~ N(m(z2_n), s(z2_n)²)             z2_n ~ N(μ2(z1_n), σ2(z1_n)²)
        x_n  ~ N(d(z1_n), scale²)

Every network is one tanh hidden layer; the observation scale is fixed, so the data need only
be real numbers (the digits' grey levels).
"""

import math

import pyro
import pyro.distributions as dist
import torch
from torch import nn
from torch.nn import functional as F

from pyrovae.models.base import LatentVariableModel, kl_scale


def mlp(n_in, hidden, n_out):
    return nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, n_out))


def normal(params):
    """N(loc, scale²) from a network's output [loc, raw scale]."""
    loc, raw = params.chunk(2, -1)
    return loc, F.softplus(raw) + 1e-3


class TwoLayer(nn.Module):
    """p(z2) p(z1|z2) p(x|z1), q(z1|x) q(z2|z1): two stochastic layers of the user's own."""

    def __init__(self, event_shape, z1=4, z2=2, hidden=16, scale=0.3):
        super().__init__()
        self.event_shape, d = tuple(event_shape), math.prod(event_shape)
        self.z2, self.scale = z2, scale
        self.encode1, self.encode2 = mlp(d, hidden, 2 * z1), mlp(z1, hidden, 2 * z2)
        self.decode2, self.decode1 = mlp(z2, hidden, 2 * z1), mlp(z1, hidden, d)

    def model(self, x, y=None, kl_weight=1.0):
        pyro.module("two_layer", self)
        with pyro.plate("data", x.shape[0]):
            with kl_scale(kl_weight):
                z2 = pyro.sample("z2", dist.Normal(x.new_zeros(self.z2), 1.0).to_event(1))
                z1 = pyro.sample("z1", dist.Normal(*normal(self.decode2(z2))).to_event(1))
            mean = self.decode1(z1).reshape(*z1.shape[:-1], *self.event_shape)
            pyro.sample("x", dist.Normal(mean, self.scale).to_event(len(self.event_shape)),
                        obs=x)

    def guide(self, x, y=None, kl_weight=1.0):
        pyro.module("two_layer", self)
        with pyro.plate("data", x.shape[0]):
            with kl_scale(kl_weight):
                flat = x.flatten(-len(self.event_shape))
                z1 = pyro.sample("z1", dist.Normal(*normal(self.encode1(flat))).to_event(1))
                pyro.sample("z2", dist.Normal(*normal(self.encode2(z1))).to_event(1))


class TwoLayerFigures(TwoLayer):
    """TwoLayer with a picture of its own: the means of p(x|z1) at the test images' codes."""

    def figures(self, dataset, run_dir):
        from pyrovae.plots import as_images, save_grid

        with torch.no_grad():
            x = dataset.test.x[:8]
            loc, _ = normal(self.encode1(x.flatten(-len(self.event_shape))))
            images = as_images(self.decode1(loc), self.event_shape)
        return [] if images is None else [save_grid(images, run_dir / "codes.png", nrow=8)]


class TwoLayerKind(TwoLayer, LatentVariableModel):
    """TwoLayer as a LatentVariableModel subclass with a build classmethod."""

    @classmethod
    def build(cls, event_shape, z1=4, z2=2, hidden=16, scale=0.3):
        return cls(event_shape, z1=z1, z2=z2, hidden=hidden, scale=scale)
