"""The conditional VAE completing images from an observed part (Sohn, Lee & Yan 2015; Pyro's
``examples/cvae``): c is 1, 2 or 3 quadrants of an image, x_h the rest.

::

    model(x):                                     guide(x):
      c_n = the observed quadrants of x_n           for n in plate("data"):
      for n in plate("data"):                         z_n ~ q(z | encoder(x_n))     [recognition]
        z_n ~ p(z | prior_net(c_n))   [prior network]
        θ_n = decoder(z_n)
        x_n,h ~ p(x_h | θ_n)          [likelihood, on the hidden pixels only]

The condition is part of the example itself, so the kind needs no labels: the model reads c
off x through a fixed mask, and the likelihood counts only the hidden pixels (the registered
likelihood's per-pixel densities, masked). Its ELBO bounds the conditional likelihood of the
hidden quadrants::

    ELBO(x_h | c) = E_q(z|x)[log p(x_h|z)] − KL(q(z|x) || p(z|c))  ≤  log p(x_h | c).

The quadrants follow Pyro's example: with 1 observed quadrant it is the bottom-left one, with
2 the left half, with 3 all but the bottom-right. The networks see an image with the hidden
pixels set to −1 (the prior network) or the whole image (the recognition network), as there.
Pyro's prior network also reads a pre-trained deterministic network's guess of the hidden
pixels; this one reads the observed pixels only.
"""

import pyro
import torch
from pyro.distributions import Independent
from pyro.distributions.torch_distribution import MaskedDistribution

from ..errors import ConfigError, PyroVAEError
from ..guides import GUIDES
from ..likelihoods import LIKELIHOODS
from ..nets import DECODERS, ENCODERS
from ..plots import as_images, save_grid
from .base import MODELS, LatentVariableModel, kl_scale

__all__ = ["CVAEQuadrants", "quadrant_mask"]

#: the value the networks see in place of a pixel they may not see (as in Pyro's example)
HIDDEN_VALUE = -1.0


def quadrant_mask(event_shape, observed):
    """Boolean tensor of ``event_shape``, True where a pixel is observed: 1 → the bottom-left
    quadrant, 2 → the left half, 3 → all but the bottom-right quadrant (Pyro's layout).
    Images are ``(C, H, W)``, ``(H, W)`` or flat squares ``(H·W,)``."""
    if observed not in (1, 2, 3):
        raise ConfigError(f"model.observed = {observed!r}: the number of observed quadrants is "
                          "1, 2 or 3")
    images = as_images(torch.zeros(1, *event_shape), event_shape)
    if images is None:
        raise ConfigError(
            f"the cvae-quadrants model completes images, but the examples have shape "
            f"{tuple(event_shape)}; use an image data set (digits, mnist, ...)"
        )
    h, w = images.shape[-2:]
    rows = torch.arange(h).unsqueeze(-1)
    cols = torch.arange(w)
    left, top = cols < w // 2, rows < h // 2
    visible = {1: left & ~top, 2: left.expand(h, w), 3: left | top}[observed]
    return visible.expand(images.shape[1:]).reshape(event_shape).clone()


def mask_pixels(d, keep):
    """``d`` (a per-pixel distribution made an event, e.g. ``Bernoulli(...).to_event(3)``)
    with only the pixels where ``keep`` is True counted in ``log_prob``."""
    if not isinstance(d, Independent):
        raise ConfigError(
            f"the cvae-quadrants model needs a likelihood with per-pixel densities to leave out "
            f"the observed pixels; {type(d).__name__} has none: use bernoulli, gaussian, ..."
        )
    base = d.base_dist
    if isinstance(base, MaskedDistribution):
        keep = keep & base._mask
        base = base.base_dist
    return Independent(base.mask(keep), d.reinterpreted_batch_ndims)


@MODELS.register("cvae-quadrants")
class CVAEQuadrants(LatentVariableModel):
    """p(z|c) p(x_h|z) with q(z|x): completes the hidden quadrants of an image.

    :param tuple event_shape: the shape of one image.
    :param int observed: how many quadrants are observed (1, 2 or 3).
    :param int z_dim: the latent dimension.
    :param likelihood: a :class:`~pyrovae.likelihoods.Likelihood` with per-pixel densities.
    :param posterior: the family of q(z|x) and of p(z|c) (a :class:`~pyrovae.guides.Posterior`).
    :param encoder: the recognition network ``x -> posterior.num_features``.
    :param prior_net: the prior network ``c -> posterior.num_features``.
    :param decoder: ``z -> (P,) + event_shape``.
    """

    components = {"likelihood": "likelihood", "guide": "guide", "encoder": "encoder",
                  "prior_net": "encoder", "decoder": "decoder"}
    #: samples need an observed part to complete: no ``sample(n)`` from nothing
    unconditional_samples = False

    def __init__(self, event_shape, observed, z_dim, likelihood, posterior, encoder, prior_net,
                 decoder):
        super().__init__()
        self.event_shape = tuple(event_shape)
        self.observed = int(observed)
        self.z_dim = int(z_dim)
        self.likelihood = likelihood
        self.posterior = posterior
        self.encoder = encoder
        self.prior_net = prior_net
        self.decoder = decoder
        self.register_buffer("visible", quadrant_mask(self.event_shape, self.observed))

    @classmethod
    def build(cls, event_shape, num_classes=None, observed=1, z_dim=16, likelihood="bernoulli",
              guide="diag-normal", encoder="mlp", prior_net="mlp", decoder="mlp"):
        """Build from component names, tables or objects; these keywords are the ``[model]``
        options of ``kind = "cvae-quadrants"`` (labels, if the data have them, are unused).

        :param int observed: observed quadrants, 1, 2 or 3 (default 1).
        :param int z_dim: the latent dimension (default 16; Pyro's example: 200).
        :param likelihood: p(x_h|z), per pixel (default ``"bernoulli"``).
        :param guide: the family of q(z|x) and p(z|c) (default ``"diag-normal"``).
        :param encoder: the recognition network on the whole image (default ``"mlp"``).
        :param prior_net: the prior network on the observed part (default ``"mlp"``).
        :param decoder: the generation network ``z -> parameters`` (default ``"mlp"``).
        """
        event_shape = tuple(event_shape)
        quadrant_mask(event_shape, observed)  # refuses a bad count or non-images first
        posterior = GUIDES.resolve(guide, {"z_dim": z_dim})
        likelihood = LIKELIHOODS.resolve(likelihood, {"event_shape": event_shape})
        params = torch.zeros(1, likelihood.params_per_pixel, *event_shape)
        mask_pixels(likelihood(params), quadrant_mask(event_shape, observed))  # refused early
        features = {"in_shape": event_shape, "out_features": posterior.num_features}
        return cls(
            event_shape, observed, z_dim, likelihood, posterior,
            ENCODERS.resolve(encoder, features), ENCODERS.resolve(prior_net, features),
            DECODERS.resolve(decoder, {"in_features": z_dim,
                                       "out_shape": (likelihood.params_per_pixel, *event_shape)}),
        )

    # -- the two Pyro programs ---------------------------------------------------------------

    def model(self, x, y=None, kl_weight=1.0):
        """p(z|c) p(x_h|z), c read off ``x``; labels ``y`` are ignored."""
        self.register()
        with pyro.plate("data", x.shape[0]):
            with kl_scale(kl_weight):
                z = pyro.sample("z", self.p_z(x))
            pyro.sample("x", self.p_x(z), obs=x)

    def guide(self, x, y=None, kl_weight=1.0):
        """q(z|x) from the whole image."""
        self.register()
        with pyro.plate("data", x.shape[0]):
            with kl_scale(kl_weight):
                pyro.sample("z", self.q(x))

    def loss(self, objective, x, y=None, kl_weight=1.0):
        """The objective's −ELBO(x_h | c) summed over the batch."""
        return objective.differentiable_loss(self.model, self.guide, x, kl_weight=kl_weight)

    # -- plain-torch helpers (no Pyro effects) ----------------------------------------------

    def condition(self, x):
        """What the prior network sees: ``x`` with the hidden pixels set to −1."""
        return torch.where(self.visible, x, torch.full_like(x, HIDDEN_VALUE))

    def p_z(self, x):
        """p(z|c), c the observed quadrants of ``x``."""
        return self.posterior(self.prior_net(self.condition(x)))

    def q(self, x):
        """q(z|x), batch shape ``x.shape[:1]``."""
        return self.posterior(self.encoder(x))

    def p_x(self, z):
        """p(x_h|z): the likelihood of the hidden pixels only."""
        return mask_pixels(self.likelihood(self.decoder(z)), ~self.visible)

    @torch.no_grad()
    def complete(self, x, num_samples=1):
        """``num_samples`` completions of each image: the observed pixels of ``x`` and, in the
        hidden ones, E[x_h|z] for z ~ p(z|c); shape ``(num_samples,) + x.shape``."""
        z = self.p_z(x).sample((num_samples,))
        guess = self.likelihood.mean(self.decoder(z))
        return torch.where(self.visible, x, guess)

    @torch.no_grad()
    def reconstruct(self, x, y=None):
        """The observed pixels and E[x_h|z] at z = a draw from q(z|x)."""
        return torch.where(self.visible, x, self.likelihood.mean(self.decoder(self.q(x).sample())))

    def sample(self, n, y=None):
        raise PyroVAEError(
            "the cvae-quadrants model completes the observed quadrants of an image and has no "
            "samples from nothing; see the run's completions.png"
        )

    # -- pictures ----------------------------------------------------------------------------

    @torch.no_grad()
    def figures(self, dataset, run_dir, images=10, samples=4):
        """``completions.png``: per column a test image; rows: what the model sees (hidden
        pixels dark grey, 0.25), the truth, then ``samples`` completions with z ~ p(z|c)."""
        x = dataset.test.x[:images]
        seen = torch.where(self.visible, x, torch.full_like(x, 0.25))
        rows = torch.cat([seen, x, *self.complete(x, samples)])
        grid = as_images(rows, self.event_shape)
        return [save_grid(grid, run_dir / "completions.png", nrow=x.shape[0])]
