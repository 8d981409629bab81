"""A VAE with two stochastic layers (Burda, Grosse & Salakhutdinov 2016, "Importance Weighted
Autoencoders", section 5: the architecture with stochastic layers of 100 and 50 units).

::

    model(x):                                  guide(x):
      for n in plate("data"):                    for n in plate("data"):
        z2_n ~ p(z2)        [prior]                g_n  = encoder(x_n)
        h_n  = decoder2(z2_n)                      z1_n ~ q(z1 | g_n)   [guide]
        z1_n ~ p(z1 | h_n)  [conditional_prior]    k_n  = encoder2(z1_n)
        θ_n  = decoder(z1_n)                       z2_n ~ q(z2 | k_n)   [guide2]
        x_n  ~ p(x | θ_n)   [likelihood]

The generative path runs top-down, z2 → z1 → x; the recognition path bottom-up, x → z1 → z2.
Every box is a component chosen by name from the registries (or passed as an object), as in
:meth:`pyrovae.models.vae.VAE.build`: p(z2) from ``PRIORS``; the conditional p(z1|z2) is a
posterior family of ``GUIDES`` (a diagonal Gaussian by default) fed by the ``DECODERS`` network
``decoder2``; q(z1|x) and q(z2|z1) are ``GUIDES`` families fed by the ``ENCODERS`` networks
``encoder`` and ``encoder2``; p(x|z1) is a ``LIKELIHOODS`` entry fed by ``decoder``. The defaults
are Burda et al.'s: tanh MLPs with two hidden layers of 100 units between x and z1 and two of
50 units between z1 and z2, in both directions, z1 of 100 and z2 of 50 units.

The ELBO of this model, with (z1, z2) ~ q(z1|x) q(z2|z1)::

    ELBO(x) = E_q[ log p(x|z1) + log p(z1|z2) + log p(z2) − log q(z1|x) − log q(z2|z1) ]
            = E_q[log p(x|z1)] − E_q[log q(z1|x) − log p(z1|z2)]
                               − E_q(z1|x)[ KL(q(z2|z1) || p(z2)) ]      ≤ log p(x).

Which KL has a closed form follows from the order of the guide's sites. z2 is drawn *after*
z1 and p(z2) depends on nothing, so for each z1 the inner expectation over z2 is the closed-form
KL(q(z2|z1) || p(z2)) where one is registered (diagonal normal against ``normal``). The z1 term
has none: p(z1|z2) depends on z2, which the guide draws after z1 from q(z2|z1), so
E_q[log q(z1|x) − log p(z1|z2)] is not E[KL(q(z1|x) || p(z1|z2))] for any fixed z2, and it is
estimated by Monte Carlo. pyrovae's estimators (:mod:`pyrovae.infer`) read all of this off the
Pyro traces of the two programs, per site and from the site order; this file has no estimator
code. The same rule holds in training: Pyro's ``TraceMeanField_ELBO`` would take
KL(q(z1|x) || p(z1|z2)) at the guide's own z2, which is not this ELBO (Pyro only warns that the
site orders differ), whereas pyrovae's ``meanfield`` objective applies the rule per site
(:func:`pyrovae.infer.sites.mean_field_sites`): z2's KL in closed form, z1's from the draws.

Both programs take the KL weight β (``kl_weight``) and wrap both latent sites in
:func:`~pyrovae.models.base.kl_scale`, so a Pyro ELBO optimizes
E_q[log p(x|z1)] − β E_q[log q(z1, z2|x) − log p(z1, z2)].

The importance-sampled bound uses the guide as proposal, (z1_k, z2_k) ~ q(z1|x) q(z2|z1), and
weights w_k = p(x|z1_k) p(z1_k|z2_k) p(z2_k) / (q(z1_k|x) q(z2_k|z1_k)); Burda et al. report
−L_5000 on the MNIST test set, 85.33 nats for this model trained as a VAE
(the recipe ``hvae-burda2016``: ``pyrovae train --recipe hvae-burda2016``).
"""

import pyro

from ..errors import ConfigError
from ..guides import GUIDES
from ..likelihoods import LIKELIHOODS
from ..nets import DECODERS, ENCODERS
from ..priors import PRIORS
from .base import MODELS, LatentVariableModel, kl_scale

__all__ = ["HVAE"]

#: Burda et al.'s deterministic layers: 100 tanh units twice between x and z1 ...
_OUTER = {"name": "mlp", "hidden": [100, 100], "activation": "tanh"}
#: ... and 50 tanh units twice between z1 and z2
_INNER = {"name": "mlp", "hidden": [50, 50], "activation": "tanh"}


@MODELS.register("hvae")
class HVAE(LatentVariableModel):
    """Two stochastic layers (Burda et al. 2016): p(z2) p(z1|z2) p(x|z1), guide q(z1|x) q(z2|z1).

    :param tuple event_shape: the shape of one example, e.g. ``(1, 28, 28)``.
    :param int z1_dim: the size of the lower latent layer z1.
    :param int z2_dim: the size of the top latent layer z2.
    :param prior: a :class:`~pyrovae.priors.Prior`, p(z2).
    :param conditional_prior: a :class:`~pyrovae.guides.Posterior` family for p(z1|z2).
    :param likelihood: a :class:`~pyrovae.likelihoods.Likelihood`, p(x|z1).
    :param posterior: a :class:`~pyrovae.guides.Posterior` family for q(z1|x).
    :param posterior2: a :class:`~pyrovae.guides.Posterior` family for q(z2|z1).
    :param encoder: a network ``x -> features`` with ``posterior.num_features`` outputs.
    :param encoder2: a network ``z1 -> features`` with ``posterior2.num_features`` outputs.
    :param decoder2: a network ``z2 -> (conditional_prior.num_features,)``.
    :param decoder: a network ``z1 -> (P,) + event_shape``.
    """

    #: ``build`` options that are components, and their registries
    components = {"prior": "prior", "conditional_prior": "guide", "likelihood": "likelihood",
                  "guide": "guide", "guide2": "guide", "encoder": "encoder",
                  "encoder2": "encoder", "decoder": "decoder", "decoder2": "decoder"}

    def __init__(self, event_shape, z1_dim, z2_dim, prior, conditional_prior, likelihood,
                 posterior, posterior2, encoder, encoder2, decoder2, decoder):
        super().__init__()
        self.event_shape = tuple(event_shape)
        self.z1_dim = int(z1_dim)
        self.z2_dim = int(z2_dim)
        self.encoder = encoder
        self.posterior = posterior
        self.encoder2 = encoder2
        self.posterior2 = posterior2
        self.decoder2 = decoder2
        self.conditional_prior = conditional_prior
        self.decoder = decoder
        self.likelihood = likelihood
        self.prior = prior

    @classmethod
    def build(
        cls,
        event_shape,
        z1_dim=100,
        z2_dim=50,
        prior="normal",
        conditional_prior="diag-normal",
        likelihood="bernoulli",
        guide="diag-normal",
        guide2="diag-normal",
        encoder=_OUTER,
        encoder2=_INNER,
        decoder2=_INNER,
        decoder=_OUTER,
    ):
        """Build a two-layer VAE from component names, ``{"name": ..., **options}`` tables, or
        objects. These keywords are the ``[model]`` options of ``kind = "hvae"``; the defaults
        are Burda et al.'s architecture (784-100-100-[100]-50-50-[50] and back, tanh).

        :param tuple event_shape: the shape of one example.
        :param int z1_dim: the lower latent layer's size (default 100).
        :param int z2_dim: the top latent layer's size (default 50).
        :param prior: p(z2) (default ``"normal"``); a ``vamp`` prior takes its pseudo-inputs
            in z1's space, p(z2) = (1/K) Σ_k q(z2 | u_k).
        :param conditional_prior: the family of p(z1|z2), a guide family (default
            ``"diag-normal"``).
        :param likelihood: p(x|z1) (default ``"bernoulli"``).
        :param guide: the family of q(z1|x) (default ``"diag-normal"``).
        :param guide2: the family of q(z2|z1) (default ``"diag-normal"``).
        :param encoder: the network ``x -> features of q(z1|x)`` (default: MLP, hidden
            ``[100, 100]``, tanh).
        :param encoder2: the network ``z1 -> features of q(z2|z1)`` (default: MLP, hidden
            ``[50, 50]``, tanh).
        :param decoder2: the network ``z2 -> features of p(z1|z2)`` (default: MLP, hidden
            ``[50, 50]``, tanh).
        :param decoder: the network ``z1 -> parameters of p(x|z1)`` (default: MLP, hidden
            ``[100, 100]``, tanh).
        """
        event_shape = tuple(event_shape)
        for name, value in (("z1_dim", z1_dim), ("z2_dim", z2_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"model.{name} must be a positive integer, got {value!r}")
        posterior = GUIDES.resolve(guide, {"z_dim": z1_dim})
        posterior2 = GUIDES.resolve(guide2, {"z_dim": z2_dim})
        conditional_prior = GUIDES.resolve(conditional_prior, {"z_dim": z1_dim})
        likelihood = LIKELIHOODS.resolve(likelihood, {"event_shape": event_shape})
        encoder = ENCODERS.resolve(
            encoder, {"in_shape": event_shape, "out_features": posterior.num_features}
        )
        encoder2 = ENCODERS.resolve(
            encoder2, {"in_shape": (z1_dim,), "out_features": posterior2.num_features}
        )
        decoder2 = DECODERS.resolve(
            decoder2, {"in_features": z2_dim, "out_shape": (conditional_prior.num_features,)}
        )
        decoder = DECODERS.resolve(
            decoder,
            {"in_features": z1_dim, "out_shape": (likelihood.params_per_pixel, *event_shape)},
        )
        hvae = cls(event_shape, z1_dim, z2_dim, None, conditional_prior, likelihood, posterior,
                   posterior2, encoder, encoder2, decoder2, decoder)
        hvae.prior = PRIORS.resolve(
            prior, {"z_dim": z2_dim, "event_shape": (z1_dim,), "posterior": hvae.q_z2}
        )
        return hvae

    @classmethod
    def check_config(cls, config):
        """Labels have no part in this model; ``data.labels`` is for ``m2``."""
        super().check_config(config)
        if config.data.labels:
            raise ConfigError(
                f"data.labels = {config.data.labels} is for the semi-supervised model: use "
                "model.kind = \"m2\", or set data.labels = 0"
            )

    # -- the two Pyro programs ---------------------------------------------------------------

    def model(self, x, y=None, kl_weight=1.0):
        """p(z2) p(z1|z2) p(x|z1); ``y`` (labels) is accepted and ignored."""
        self.register()
        with pyro.plate("data", x.shape[0]):
            with kl_scale(kl_weight):
                z2 = pyro.sample("z2", self.prior())
                z1 = pyro.sample("z1", self.p_z1(z2))
            pyro.sample("x", self.p_x(z1), obs=x)

    def guide(self, x, y=None, kl_weight=1.0):
        """q(z1|x) q(z2|z1)."""
        self.register()
        with pyro.plate("data", x.shape[0]):
            with kl_scale(kl_weight):
                z1 = pyro.sample("z1", self.q_z1(x))
                pyro.sample("z2", self.q_z2(z1))

    # -- plain-torch helpers (no Pyro effects) ----------------------------------------------
    # Every network takes any leading batch dimensions (vectorized particles add one).

    def q_z1(self, x):
        """q(z1|x), batch shape ``x.shape[:-len(event_shape)]``."""
        return self.posterior(self.encoder(x))

    def q_z2(self, z1):
        """q(z2|z1), batch shape ``z1.shape[:-1]``."""
        return self.posterior2(self.encoder2(z1))

    def p_z1(self, z2):
        """p(z1|z2), batch shape ``z2.shape[:-1]``."""
        return self.conditional_prior(self.decoder2(z2))

    def p_x(self, z1):
        """p(x|z1) as a distribution over images."""
        return self.likelihood(self.decoder(z1))
