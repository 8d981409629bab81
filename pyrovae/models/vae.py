"""The variational autoencoder as a Pyro model and guide.

::

    model(x):                         guide(x):
      for n in plate("data"):           for n in plate("data"):
        z_n ~ p(z)          [prior]       h_n = encoder(x_n)
        θ_n = decoder(z_n)                z_n ~ q(z | h_n)   [posterior family]
        x_n ~ p(x | θ_n)    [likelihood]

Every box is a component chosen by name (or passed as an object); :meth:`VAE.build` resolves
them. Both programs take the KL weight β as an argument (``kl_weight``, default 1) and wrap the
latent site ``z`` in ``poutine.scale(β)``, so a Pyro ELBO optimizes
E_q[log p(x|z)] − β KL(q || p): the β-VAE and KL warm-up without touching the loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import pyro
import torch

from ..checks import type_name
from ..guides import GUIDES
from ..likelihoods import LIKELIHOODS
from ..nets import DECODERS, ENCODERS
from ..priors import PRIORS
from ..errors import ConfigError
from .base import MODELS, LatentVariableModel, kl_scale

__all__ = ["VAE"]


@MODELS.register("vae")
class VAE(LatentVariableModel):
    """A VAE assembled from components: p(z) p(x|z) with an amortized guide q(z|x).

    :param tuple event_shape: the shape of one example, e.g. ``(1, 28, 28)``.
    :param int z_dim: the latent dimension.
    :param prior: a :class:`~pyrovae.priors.Prior`.
    :param likelihood: a :class:`~pyrovae.likelihoods.Likelihood`.
    :param posterior: a :class:`~pyrovae.guides.Posterior` (the guide's family).
    :param encoder: a network ``x -> features`` with ``posterior.num_features`` outputs.
    :param decoder: a network ``z -> (P,) + event_shape``.
    """

    def __init__(self, event_shape, z_dim, prior, likelihood, posterior, encoder, decoder):
        super().__init__()
        self.event_shape = tuple(event_shape)
        self.z_dim = int(z_dim)
        self.encoder = encoder
        self.posterior = posterior
        self.decoder = decoder
        self.likelihood = likelihood
        self.prior = prior

    #: ``build`` options that are components, and their registries
    components = {"prior": "prior", "likelihood": "likelihood", "guide": "guide",
                  "encoder": "encoder", "decoder": "decoder"}

    @classmethod
    def build(  # type: ignore[override]  # its options are keywords of their own
        cls,
        event_shape: Sequence[int],
        z_dim: int = 16,
        prior: Any = "normal",
        likelihood: Any = "bernoulli",
        guide: Any = "diag-normal",
        encoder: Any = "mlp",
        decoder: Any = "mlp",
    ) -> Self:
        """Build a VAE from component names, ``{"name": ..., **options}`` tables, or objects.

        These keywords are the ``[model]`` options of ``kind = "vae"``.

        :param tuple event_shape: the shape of one example.
        :param int z_dim: the latent dimension (default 16).
        :param prior: p(z) (default ``"normal"``).
        :param likelihood: p(x|z) (default ``"bernoulli"``).
        :param guide: the posterior family of q(z|x) (default ``"diag-normal"``).
        :param encoder: the network ``x -> features of q(z|x)`` (default ``"mlp"``).
        :param decoder: the network ``z -> parameters of p(x|z)`` (default ``"mlp"``).
        """
        event_shape = tuple(event_shape)
        posterior = GUIDES.resolve(guide, {"z_dim": z_dim})
        likelihood = LIKELIHOODS.resolve(likelihood, {"event_shape": event_shape})
        encoder = ENCODERS.resolve(
            encoder, {"in_shape": event_shape, "out_features": posterior.num_features}
        )
        decoder = DECODERS.resolve(
            decoder,
            {"in_features": z_dim, "out_shape": (likelihood.params_per_pixel, *event_shape)},
        )
        vae = cls(event_shape, z_dim, None, likelihood, posterior, encoder, decoder)
        vae.prior = PRIORS.resolve(
            prior, {"z_dim": z_dim, "event_shape": event_shape, "posterior": vae.q}
        )
        return vae

    def check_components(self, x, where):
        """Each component against the others on the example ``x``: the encoder's features
        are what the posterior family reads, q(z|x) and p(z) have event shape ``(z_dim,)``,
        and the decoder returns ``(N, P, *event_shape)``."""
        features = getattr(self.posterior, "num_features", None)
        h = self.encoder(x)
        if features is not None and (not torch.is_tensor(h) or tuple(h.shape) != (1, features)):
            got = tuple(h.shape) if torch.is_tensor(h) else type_name(h)
            raise ConfigError(
                f"{where}: the encoder returns {got} for one example, but the guide's "
                f"posterior family reads {features} features: (N, {features}); give the "
                f"encoder out_features={features}"
            )
        expected = (1, self.likelihood.params_per_pixel, *self.event_shape)
        z = torch.zeros(1, self.z_dim, dtype=x.dtype, device=x.device)
        out = self.decoder(z)
        if not torch.is_tensor(out) or tuple(out.shape) != expected:
            got = tuple(out.shape) if torch.is_tensor(out) else type_name(out)
            raise ConfigError(
                f"{where}: the decoder returns {got} for one latent of size {self.z_dim}, but "
                f"the '{self.likelihood.registry_name}' likelihood needs {expected}: (N, P, "
                f"*event_shape) with P = {self.likelihood.params_per_pixel}; give the decoder "
                f"out_shape {expected[1:]}"
            )
        for name, dist in (("prior", self.prior()), ("guide", self.q(x))):
            shape = getattr(dist, "event_shape", None)
            if shape is None or tuple(shape) != (self.z_dim,):
                got = tuple(shape) if shape is not None else type_name(dist)
                raise ConfigError(
                    f"{where}: the {name} gives {got} where a distribution over z of event "
                    f"shape ({self.z_dim},) (z_dim) is needed; build it with z_dim={self.z_dim}"
                )

    # -- the two Pyro programs ---------------------------------------------------------------

    def model(self, x, y=None, kl_weight=1.0):
        """p(z) p(x|z); ``y`` (labels) is accepted and ignored so batches can carry labels."""
        self.register()
        with pyro.plate("data", x.shape[0]):
            with kl_scale(kl_weight):
                z = pyro.sample("z", self.prior())
            pyro.sample("x", self.likelihood(self.decoder(z)), obs=x)

    def guide(self, x, y=None, kl_weight=1.0):
        """q(z|x) from the encoder and the posterior family."""
        self.register()
        with pyro.plate("data", x.shape[0]):
            with kl_scale(kl_weight):
                pyro.sample("z", self.q(x))

    # -- plain-torch helpers (no Pyro effects) ----------------------------------------------

    def q(self, x):
        """q(z|x) as a distribution with batch shape ``x.shape[:1]``."""
        return self.posterior(self.encoder(x))

    def p_x(self, z):
        """p(x|z) as a distribution over images."""
        return self.likelihood(self.decoder(z))

    def loss(self, objective, x, y=None, kl_weight=1.0):
        """The objective's −ELBO summed over the batch; labels play no part."""
        return objective.differentiable_loss(self.model, self.guide, x, kl_weight=kl_weight)

