"""The conditional VAE (Sohn, Lee & Yan 2015) with the class label as its condition.

::

    model(x, y):                               guide(x, y):
      for n in plate("data"):                    for n in plate("data"):
        z_n ~ p(z | y_n)        [prior]            h_n = act(encoder(x_n) + E onehot(y_n))
        θ_n = decoder([z_n, onehot(y_n)])          z_n ~ q(z | head(h_n))    [posterior family]
        x_n ~ p(x | θ_n)        [likelihood]

The label y is observed everywhere (it is not a random site: the model is of x given y), so
every objective of the VAE trains it unchanged and its ELBO bounds the conditional likelihood::

    ELBO(x | y) = E_q(z|x,y)[log p(x|z,y)] − KL(q(z|x,y) || p(z|y))  ≤  log p(x|y).

p(z|y) is either any registered prior p(z), the same for every class (``class_prior = false``,
the default: the label then reaches x only through the decoder), or Sohn et al.'s conditional
prior (``class_prior = true``): a learned diagonal Gaussian N(m_y, diag s_y²) per class,
started at N(0, I), with the closed-form KL to a diagonal-normal guide. Sampling a class is
z ~ p(z|y), x = E[x | z, y] (``pyrovae sample --class K``).

q(z|x,y) is built as M2's (:mod:`pyrovae.models.m2`): the encoder sees the image, the label
adds its own learned vector before the activation and a linear head; with a one-layer
encoder this is a network of the concatenation [x, onehot(y)].

The estimators are those of the VAE, conditioned on y (:meth:`LatentVariableModel.given`):
``evaluate`` reports the ELBO of log p(x|y), ``--iwae-k`` the importance-sampled bound on
log p(x|y) with z ~ q(z|x,y).
"""

import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, DataError
from ..guides import GUIDES
from ..likelihoods import LIKELIHOODS
from ..nets import DECODERS, ENCODERS
from ..nets.base import activation as activation_module
from ..plots import as_images, save_grid
from ..priors import PRIORS
from .base import MODELS, LatentVariableModel, kl_scale
from .labels import check_labelled, one_hot, with_label

__all__ = ["CVAE", "ClassPrior"]


class ClassPrior(nn.Module):
    """p(z|y) = N(m_y, diag s_y²), one learned mean and scale per class (Sohn et al.'s
    conditional prior for a label condition); every class starts at N(0, I).

    :param int num_classes: K, the number of classes.
    :param int z_dim: the latent dimension.
    """

    def __init__(self, num_classes, z_dim):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(num_classes, z_dim))
        # softplus(raw) = 1 at raw = log(e − 1)
        self.raw_scale = nn.Parameter(torch.full((num_classes, z_dim),
                                                 torch.log(torch.expm1(torch.tensor(1.0)))))

    def forward(self, y):
        """p(z|y), batch shape ``y.shape``, event ``(z_dim,)``."""
        return dist.Normal(self.loc[y], F.softplus(self.raw_scale[y])).to_event(1)


@MODELS.register("cvae")
class CVAE(LatentVariableModel):
    """A conditional VAE of x given its label y: p(z|y) p(x|z,y) with the guide q(z|x,y).

    :param tuple event_shape: the shape of one example.
    :param int num_classes: K, the number of classes.
    :param int z_dim: the latent dimension.
    :param prior: a :class:`~pyrovae.priors.Prior` p(z) shared by the classes, or ``None``
        with ``class_prior``.
    :param likelihood: a :class:`~pyrovae.likelihoods.Likelihood`.
    :param posterior: a :class:`~pyrovae.guides.Posterior`, the family of q(z|x,y).
    :param encoder: a network ``x -> features`` (pre-activations).
    :param head: ``nn.Linear(features, posterior.num_features)``.
    :param decoder: a network ``[z, onehot(y)] -> (P,) + event_shape``.
    :param class_prior: a :class:`ClassPrior`, or ``None`` to use ``prior`` for every class.
    :param str activation: the nonlinearity between encoder + label and head (default relu).
    """

    components = {"prior": "prior", "likelihood": "likelihood", "guide": "guide",
                  "encoder": "encoder", "decoder": "decoder"}
    conditional = True
    #: the label of every example, never a few: ``data.labels`` is refused
    uses_labels = True
    needs_every_label = True

    def __init__(self, event_shape, num_classes, z_dim, prior, likelihood, posterior, encoder,
                 head, decoder, class_prior=None, activation="relu"):
        super().__init__()
        self.event_shape = tuple(event_shape)
        self.num_classes = int(num_classes)
        self.z_dim = int(z_dim)
        self.prior = prior
        self.class_prior = class_prior
        self.likelihood = likelihood
        self.posterior = posterior
        self.encoder = encoder
        self.label_embedding = nn.Linear(self.num_classes, head.in_features, bias=False)
        self.activation = activation_module(activation)
        self.head = head
        self.decoder = decoder

    @classmethod
    def build(cls, event_shape, num_classes, z_dim=16, prior="normal", class_prior=False,
              likelihood="bernoulli", guide="diag-normal", encoder="mlp", decoder="mlp",
              features=256, activation="relu"):
        """Build a CVAE from component names, tables or objects (as :meth:`VAE.build`); these
        keywords are the ``[model]`` options of ``kind = "cvae"``.

        :param int num_classes: K, from the data set (``None`` if it has no labels: refused).
        :param int z_dim: the latent dimension (default 16).
        :param prior: p(z) for every class (default ``"normal"``); must stay ``"normal"`` with
            ``class_prior``, whose per-class Gaussians replace it.
        :param bool class_prior: learn p(z|y) = N(m_y, diag s_y²) per class (default false).
        :param likelihood: p(x|z,y) (default ``"bernoulli"``).
        :param guide: the posterior family of q(z|x,y) (default ``"diag-normal"``).
        :param encoder: the network ``x -> features`` (default ``"mlp"``).
        :param decoder: the network ``[z, onehot(y)] -> parameters of p(x|z,y)``.
        :param int features: encoder outputs, to which the label's vector is added (default
            256).
        :param str activation: the nonlinearity before the head (default ``"relu"``).
        """
        if num_classes is None:
            raise DataError(
                "the cvae model needs a labelled data set (its condition is the label), but "
                "this one has no labels; use e.g. data.name = \"mnist\" or \"digits\""
            )
        prior_name = prior.get("name") if isinstance(prior, dict) else getattr(prior, "name",
                                                                                    prior)
        if class_prior and prior_name != "normal":
            raise ConfigError(
                f"model.class_prior = true learns a Gaussian p(z|y) per class, which replaces "
                f"the prior; drop model.prior = \"{prior_name}\" or set "
                "model.class_prior = false"
            )
        event_shape = tuple(event_shape)
        k = int(num_classes)
        posterior = GUIDES.resolve(guide, {"z_dim": z_dim})
        likelihood = LIKELIHOODS.resolve(likelihood, {"event_shape": event_shape})
        encoder = ENCODERS.resolve(encoder, {"in_shape": event_shape, "out_features": features})
        decoder = DECODERS.resolve(
            decoder,
            {"in_features": z_dim + k, "out_shape": (likelihood.params_per_pixel, *event_shape)},
        )
        head = nn.Linear(features, posterior.num_features)
        if class_prior:
            return cls(event_shape, k, z_dim, None, likelihood, posterior, encoder, head,
                       decoder, ClassPrior(k, z_dim), activation)
        # a prior built from q (the VampPrior) has no label to give it: refused there, in a line
        prior = PRIORS.resolve(prior, {"z_dim": z_dim, "event_shape": event_shape,
                                       "posterior": None})
        return cls(event_shape, k, z_dim, prior, likelihood, posterior, encoder, head, decoder,
                   None, activation)

    # -- the two Pyro programs ---------------------------------------------------------------

    def model(self, x, y=None, kl_weight=1.0):
        """p(z|y) p(x|z,y)."""
        self.register()
        y = self._label(y)
        with pyro.plate("data", x.shape[0]):
            with kl_scale(kl_weight):
                z = pyro.sample("z", self.p_z(y))
            pyro.sample("x", self.p_x(z, y), obs=x)

    def guide(self, x, y=None, kl_weight=1.0):
        """q(z|x,y)."""
        self.register()
        y = self._label(y)
        with pyro.plate("data", x.shape[0]):
            with kl_scale(kl_weight):
                pyro.sample("z", self.q(x, y))

    @staticmethod
    def _label(y):
        if y is None:
            raise DataError("the cvae model is of x given its label: pass the labels y with x")
        return y

    # -- plain-torch helpers (no Pyro effects) ----------------------------------------------

    def p_z(self, y):
        """p(z|y): the class's Gaussian, or the shared prior."""
        return self.class_prior(y) if self.class_prior is not None else self.prior()

    def q(self, x, y):
        """q(z|x,y) = posterior(head(act(encoder(x) + E onehot(y)))), batch ``x.shape[:1]``."""
        label = self.label_embedding(one_hot(y, self.num_classes, self.head.weight.dtype))
        return self.posterior(self.head(self.activation(self.encoder(x) + label)))

    def p_x(self, z, y):
        """p(x|z,y) as a distribution over images."""
        return self.likelihood(self.decoder(with_label(z, y, self.num_classes)))

    def check_data(self, dataset):
        """Also refuse data without labels or with a different number of classes."""
        check_labelled(dataset, self.num_classes, "cvae")
        super().check_data(dataset)

    # -- pictures ----------------------------------------------------------------------------

    @torch.no_grad()
    def figures(self, dataset, run_dir, columns=10):
        """``class_samples.png``: one row per class, ``columns`` draws z ~ p(z|y) each.
        Nothing for non-image data."""
        k = self.num_classes
        y = (torch.arange(k * columns, device=self.label_embedding.weight.device) % k).reshape(
            columns, k).T.reshape(-1)  # row c: class c
        images = as_images(self.sample(k * columns, y), self.event_shape)
        if images is None:
            return []
        return [save_grid(images, run_dir / "class_samples.png", nrow=columns)]
