"""The skip deep generative model (SDGM) of Maaløe, Sønderby, Sønderby & Winther (2016),
"Auxiliary Deep Generative Models", ICML: the ADGM's guide with a generative model that goes
*through* the auxiliary a, a second stochastic layer with a skip connection from z and y to x.

::

    model(x, y=None):                            guide(x, y=None):   (the ADGM's)
      for n in plate("data"):                      for n in plate("data"):
        y_n ~ Cat(π)              [label_prior]      a_n ~ q(a | x_n)               [aux_guide]
        z_n ~ p(z)                [prior]            y_n ~ Cat(q(y | a_n, x_n))     [classifier]
        a_n ~ p(a | y_n, z_n)     [aux_conditional]      (enumerated when unlabelled)
        x_n ~ p(x | a_n, y_n, z_n)  [likelihood]     z_n ~ q(z | a_n, y_n, x_n)    [guide]

The unlabelled ELBO, y summed exactly and (a, z_y) drawn from the guide::

    ELBO_U(x) = E_{q(a|x)} [ Σ_y q(y|a,x) ( log p(x|a,y,z_y) + log p(a|y,z_y) + log p(y)
                                           + log p(z_y) − log q(z_y|a,y,x) − log q(y|a,x) )
                             − log q(a|x) ]

This is the model of Maaløe et al.'s published code (``models/sdgmssl.py``: p(a|z,y) and
p(x|a,z,y), both with two hidden layers of 500 ReLU units, a = z = 100). Everything but the
generative model is the ADGM's (:class:`~pyrovae.models.adgm.ADGM`): the guide, the loss with
its classification term α·(−log q(y|a,x)) and paired batches, the classifier averaged over
draws of a, the estimators derived from the traces. Here both generative networks read only
vectors: p(a|y,z) is a decoder of [z, onehot(y)] and p(x|a,y,z) a decoder of
[a, z, onehot(y)] (``aux_decoder`` and ``decoder``, ``DECODERS`` components).

Which KL has a closed form in evaluation: z's (p(z) has no parents); not a's, whose p(a|y,z)
depends on z, drawn after a by the guide.
"""

import pyro
import pyro.distributions as dist
import torch

from ..nets import DECODERS
from .adgm import _LINEAR, _TWO, ADGM
from .base import MODELS, kl_scale
from .labels import with_label

__all__ = ["SDGM"]


def _joint(*vectors):
    """The vectors concatenated on the last axis, their leading dimensions broadcast (a draw
    ``(B, A)`` of a against an enumerated ``(K, B, Z)`` of z gives ``(K, B, A + Z)``)."""
    batch = torch.broadcast_shapes(*(v.shape[:-1] for v in vectors))
    return torch.cat([v.expand(*batch, v.shape[-1]) for v in vectors], dim=-1)


@MODELS.register("sdgm")
class SDGM(ADGM):
    """Skip DGM (Maaløe et al. 2016): p(y) p(z) p(a|y,z) p(x|a,y,z), q(a|x) q(y|a,x) q(z|a,y,x).

    The skip deep generative model, semi-supervised, labels enumerated when not given; the
    arguments are the ADGM's, with
    ``aux_decoder`` a network ``[z, onehot(y)] -> aux_conditional.num_features`` and
    ``decoder`` a network ``[a, z, onehot(y)] -> (P,) + event_shape``."""

    components = {**ADGM.components, "aux_decoder": "decoder"}

    @classmethod
    def build(cls, event_shape, num_classes, z_dim=4, a_dim=4, prior="normal",
              likelihood="bernoulli", guide="diag-normal", aux_guide="diag-normal",
              aux_conditional="diag-normal", aux_encoder=_TWO, classifier=_LINEAR,
              encoder=_LINEAR, aux_decoder=_TWO, decoder=_TWO, features=128,
              hidden=(128,), activation="relu", label_prior="uniform", alpha=1.0,
              classify_samples=10):
        """Build an SDGM; the keywords are :meth:`ADGM.build`'s (the ``[model]`` options of
        ``kind = "sdgm"``) but for the generative networks, which read vectors only:

        :param aux_decoder: the network of p(a|y,z), [z, onehot(y)] -> its family's parameters
            (default: MLP, hidden ``[128, 128]``, ReLU).
        :param decoder: the network of p(x|a,y,z), [a, z, onehot(y)] -> the likelihood's
            parameters (default: MLP, hidden ``[128, 128]``, ReLU).
        """
        return super().build(
            event_shape, num_classes, z_dim, a_dim, prior, likelihood, guide, aux_guide,
            aux_conditional, aux_encoder, classifier, encoder, aux_decoder, decoder, features,
            hidden, activation, label_prior, alpha, classify_samples)

    @classmethod
    def _generative_networks(cls, event_shape, k, z_dim, a_dim, likelihood, aux_conditional,
                             aux_decoder, decoder, joined):
        """p(a|y,z), a decoder of [z, onehot(y)]; p(x|a,y,z), a decoder of [a, z, onehot(y)]."""
        aux_decoder = DECODERS.resolve(
            aux_decoder, {"in_features": z_dim + k, "out_shape": (aux_conditional.num_features,)}
        )
        decoder = DECODERS.resolve(
            decoder, {"in_features": a_dim + z_dim + k,
                      "out_shape": (likelihood.params_per_pixel, *event_shape)},
        )
        return aux_decoder, decoder

    def model(self, x, y=None, kl_weight=1.0):
        """p(y) p(z) p(a|y,z) p(x|a,y,z); ``y`` observed when given."""
        self.register()
        with pyro.plate("data", x.shape[0]):
            y = pyro.sample("y", dist.Categorical(probs=self.label_probs), obs=y)
            with kl_scale(kl_weight):
                z = pyro.sample("z", self.prior())
                a = pyro.sample("a", self.p_a(y, z))
            pyro.sample("x", self.p_x(a, y, z), obs=x)

    def p_a(self, y, z):
        """p(a|y,z)."""
        return self.aux_conditional(self.aux_decoder(with_label(z, y, self.num_classes)))

    def p_x(self, a, y, z):
        """p(x|a,y,z) as a distribution over images."""
        return self.likelihood(self.decoder(with_label(_joint(a, z), y, self.num_classes)))
