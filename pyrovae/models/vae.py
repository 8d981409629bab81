"""The variational autoencoder as a Pyro model and guide.

::

    model(x):                         guide(x):
      for n in plate("data"):           for n in plate("data"):
        z_n ~ p(z)          [prior]       h_n = encoder(x_n)
        θ_n = decoder(z_n)                z_n ~ q(z | h_n)   [posterior family]
        x_n ~ p(x | θ_n)    [likelihood]

Every box is a component chosen by name (or passed as an object); :meth:`VAE.build` resolves
them. The latent site ``z`` is wrapped in ``poutine.scale(kl_weight)`` in both model and guide,
so with weight β a Pyro ELBO optimizes E_q[log p(x|z)] − β KL(q || p): the β-VAE and KL warm-up
without touching the loss.
"""

import pyro
import torch

from ..errors import ConfigError
from ..guides import GUIDES
from ..likelihoods import LIKELIHOODS
from ..nets import DECODERS, ENCODERS
from ..priors import PRIORS
from ..infer.elbo import evaluate_elbo
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
        #: the weight β on the latent site; 1 gives the ELBO (set by KL warm-up during training)
        self.kl_weight = 1.0

    @classmethod
    def build(
        cls,
        event_shape,
        z_dim=16,
        prior="normal",
        likelihood="bernoulli",
        guide="diag-normal",
        encoder="mlp",
        decoder="mlp",
    ):
        """Build a VAE from component names, ``{"name": ..., **options}`` tables, or objects."""
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

    @classmethod
    def check_config(cls, config):
        """A plain VAE accepts every combination of components; labels are for ``m2``."""
        if config.data.labels:
            raise ConfigError(
                f"data.labels = {config.data.labels} (--labels) is for the semi-supervised "
                "model: add --model m2, or drop --labels"
            )

    @classmethod
    def from_config(cls, config, event_shape, num_classes=None):
        """Build from a :class:`~pyrovae.config.Config`'s ``[model]`` section."""
        m = config.model
        vae = cls.build(
            event_shape,
            z_dim=m.z_dim,
            prior=m.prior,
            likelihood=m.likelihood,
            guide=m.guide,
            encoder=m.encoder,
            decoder=m.decoder,
        )
        vae.kl_weight = m.kl_weight
        return vae

    # -- the two Pyro programs ---------------------------------------------------------------

    def model(self, x, y=None):
        """p(z) p(x|z); ``y`` (labels) is accepted and ignored so batches can carry labels."""
        with pyro.plate("data", x.shape[0]):
            with kl_scale(self.kl_weight):
                z = pyro.sample("z", self.prior())
            pyro.sample("x", self.likelihood(self.decoder(z)), obs=x)

    def guide(self, x, y=None):
        """q(z|x) from the encoder and the posterior family."""
        if self.param_store_name is not None:
            pyro.module(self.param_store_name, self)
        with pyro.plate("data", x.shape[0]):
            with kl_scale(self.kl_weight):
                pyro.sample("z", self.q(x))

    # -- plain-torch helpers (no Pyro effects) ----------------------------------------------

    def q(self, x):
        """q(z|x) as a distribution with batch shape ``x.shape[:1]``."""
        return self.posterior(self.encoder(x))

    def p_x(self, z):
        """p(x|z) as a distribution over images."""
        return self.likelihood(self.decoder(z))

    @torch.no_grad()
    def reconstruct(self, x):
        """E[x|z] at z = a draw from q(z|x)."""
        return self.likelihood.mean(self.decoder(self.q(x).sample()))

    @torch.no_grad()
    def sample(self, n):
        """``n`` images E[x|z] for z drawn from the prior."""
        z = self.prior().sample((n,))
        return self.likelihood.mean(self.decoder(z))

    def loss(self, objective, x, y=None):
        """The objective's −ELBO summed over the batch; labels play no part (and are not passed,
        so a JIT objective sees tensors only)."""
        return objective.differentiable_loss(*self.programs, x)

    @property
    def programs(self):
        """``(model, guide)`` as the same two bound-method objects on every call: Pyro's JIT
        ELBOs key their compiled graph on ``id(model)``, and ``self.model`` makes a new
        bound method (with a new id) on every attribute access."""
        if "_programs" not in self.__dict__:
            self.__dict__["_programs"] = (self.model, self.guide)
        return self.__dict__["_programs"]

    def evaluate(self, x, y=None, batch_size=1000, num_samples=1):
        """ELBO, reconstruction and KL in nats per example (KL analytic where registered)."""
        return evaluate_elbo(self, x, batch_size=batch_size, num_samples=num_samples)
