"""The auxiliary deep generative model (ADGM) of Maaløe, Sønderby, Sønderby & Winther (2016),
"Auxiliary Deep Generative Models", ICML, for semi-supervised learning.

M2 (:mod:`pyrovae.models.m2`) with an auxiliary latent ``a`` that makes the guide richer: the
classifier and q(z|·) both see a draw of ``a ~ q(a|x)``, so q(y, z|x) = ∫ q(a|x) q(y|a,x)
q(z|a,y,x) da is a continuous mixture, while the generative model of (x, y, z) is M2's::

    model(x, y=None):                            guide(x, y=None):
      for n in plate("data"):                      for n in plate("data"):
        y_n ~ Cat(π)            [label_prior]        a_n ~ q(a | x_n)          [aux_guide]
        z_n ~ p(z)              [prior]              if y is None:             [classifier]
        x_n ~ p(x | y_n, z_n)   [likelihood]           y_n ~ Cat(q(y | a_n, x_n))
        a_n ~ p(a | x_n, y_n, z_n)  [aux_conditional]      (enumerated: all K values at once)
                                                     z_n ~ q(z | a_n, y_n, x_n)   [guide]

a is generated *last*, from (x, y, z): integrating it out leaves M2's p(x, y, z) untouched, and
the ELBO with a is still a bound on log p(x). Without labels y is summed exactly by
enumeration, a and z are drawn (one z per class)::

    ELBO_U(x) = E_{q(a|x)} [ Σ_y q(y|a,x) ( log p(x|y,z_y) + log p(a|x,y,z_y) + log p(y)
                                           + log p(z_y) − log q(z_y|a,y,x) − log q(y|a,x) )
                             − log q(a|x) ],       z_y ~ q(z|a,y,x)

and with labels y is observed in the model and absent from the guide (the labelled ELBO_L is the
same without Σ_y and the q(y|·) terms). :class:`~pyrovae.models.sdgm.SDGM`, the "skip" variant
of the same paper, generates through a instead: p(z) p(y) p(a|y,z) p(x|a,y,z).

The classification loss and α. On labelled examples :meth:`ADGM.loss` adds α·(−log q(y|a,x))
with a drawn from q(a|x) (the same draw as the ELBO's in pyrovae's trainer, whose noise is keyed
by site and example, :mod:`pyrovae.noise`), as Maaløe et al. do. Their objective per step is
mean_labelled(ELBO_L − β (N/N_l) CE) + mean_unlabelled(ELBO_U) with β = 0.1, N training images
and N_l labels (α = 0.1·N in their paper's notation, per pass over the N images); pyrovae's loss
is the sum over the batch's rows, so with labelled and unlabelled batches of the same size
(their 100 and 100) ``alpha`` = β·N/N_l per labelled example: 0.1 × 50 000 / 100 = 50 for MNIST
with 100 labels (their code trains on the 60 000 images of train and valid: 60).

The batching. Their code draws a labelled batch at every step together with the unlabelled one;
``data.labelled_batch = L`` (:class:`~pyrovae.data.labels.SemiSupervisedBatcher`) hands the
trainer such *paired* batches, ``(x, y)`` with fewer labels than rows: the first ``len(y)`` rows
are labelled, the others not, and :meth:`ADGM.loss` splits them (by shape only: no value is
read, so the compiled step traces it). The labelled part's sites are renamed
(``labelled/a``, ...) for the keyed noise, so that labelled and unlabelled rows never share a
draw (with data-parallel ranks, unlike other batches, a paired batch's draws then depend on how
its rows are cut). Batches of one kind (``data.labelled_every``, M2's alternation) work too.

Classification. q(y|x) = E_{q(a|x)}[q(y|a,x)]: :meth:`ADGM.classify` averages q(y|a,x) over
``classify_samples`` draws of a (:func:`pyrovae.infer.traces.classify`, read off the guide's
trace) and takes the argmax; their code averages the softmax over draws of a too, one draw in
its per-epoch figure and 100 in its final one.

Networks. Every network that reads the image x is "image part, join, head": the image part (an
``ENCODERS`` component) maps x to ``features`` pre-activations once per image, each vector input
(a, onehot(y), z) adds its own linear map, then the activation and an MLP head of ``hidden``
layers give the distribution's parameters. With an image part of no hidden layer (``mlp`` with
``hidden = []``, the default) the first layer is W [x; a; y] + b on the concatenation, so
``features = 500, hidden = [500]`` are Maaløe et al.'s two 500-unit layers (ReLU), and the image
part runs once per image while only the joins and heads run per class. q(a|x) is an encoder of
its own (``aux_encoder``: two 500-unit layers) and p(x|y,z) a decoder of [z, onehot(y)].

Objectives. As for M2, the ``trace`` objective becomes the enumerated ELBO
(:class:`~pyrovae.infer.objectives.enum.EnumELBO`, Pyro's ``TraceEnum_ELBO``), with the same
particles; the other objectives have no enumerated form and are refused when the config is
loaded. Every estimator (ELBO terms, importance-sampled bound with y summed inside each weight,
naive estimate, gradient noise) is derived from the traces (:mod:`pyrovae.infer.traces`): this
file has no estimator code. In evaluation the KL of z is analytic (p(z) has no parents), that
of a a Monte Carlo estimate (p(a|x,y,z) depends on z, drawn after a by the guide).
"""

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from pyro.poutine.messenger import Messenger
from torch import nn

from ..errors import ConfigError, DataError
from ..guides import GUIDES
from ..infer import traces
from ..likelihoods import LIKELIHOODS
from ..nets import DECODERS, ENCODERS
from ..nets.base import activation as activation_module
from ..nets.base import check_sizes
from ..nets.mlp import mlp
from ..plots import as_images, save_grid
from ..priors import PRIORS
from .base import MODELS, LatentVariableModel, kl_scale
from .labels import (check_label_options, check_labelled, label_probabilities, one_hot,
                     with_label)

__all__ = ["ADGM", "Joined"]

#: two hidden layers of rectified linear units, as Maaløe et al.'s networks (they have 500 units;
#: the defaults are sized for the 8×8 digits)
_TWO = {"name": "mlp", "hidden": [128, 128], "activation": "relu"}
#: the image part of a joined network: one linear layer to ``features`` pre-activations
_LINEAR = {"name": "mlp", "hidden": []}


class Joined(nn.Module):
    """``head(act(image(x) + Σ_v W_v v))``: a network of an image and some vectors.

    The image part runs once per image; each vector input (``a``, a one-hot label, ``z``) adds
    its own linear map ``W_v`` (no bias: the image part has one), broadcasting their leading
    batch dimensions (an enumerated label of shape ``(K, 1)`` against a batch of ``B`` images
    gives ``(K, B, ...)``), then the activation and the head, ``mlp([features, *hidden,
    out_features])``.

    :param image: a network ``x -> (features,)`` (an ``ENCODERS`` component).
    :param dict inputs: ``{name: size}`` of the vector inputs.
    :param int features: the width of the join.
    :param int out_features: the head's outputs.
    :param list hidden: the head's hidden layers.
    :param str activation: the nonlinearity after the join and in the head.
    """

    def __init__(self, image, inputs, features, out_features, hidden=(), activation="relu"):
        super().__init__()
        self.image = image
        self.inputs = nn.ModuleDict({name: nn.Linear(size, features, bias=False)
                                     for name, size in inputs.items()})
        self.activation = activation_module(activation)
        self.head = mlp([features, *check_sizes(hidden), out_features], activation)

    def forward(self, x, **vectors):
        h = self.image(x)
        for name, value in vectors.items():
            h = h + self.inputs[name](value)
        return self.head(self.activation(h))


class _Renamed(Messenger):
    """Prefix the names of the sample sites inside: the labelled rows of a paired batch draw
    their keyed noise (:mod:`pyrovae.noise`, keyed by site name and row) apart from the
    unlabelled rows, whose plate starts at the same row."""

    def __init__(self, prefix):
        super().__init__()
        self.prefix = prefix

    def _pyro_sample(self, msg):
        msg["name"] = self.prefix + msg["name"]


def _renamed(program, prefix):
    def run(*args, **kwargs):
        with _Renamed(prefix):  # innermost: the ELBO's trace and replay see the new names
            return program(*args, **kwargs)

    return run


def _kind(cls):
    """The registered name of a kind's class (for messages raised before an instance exists)."""
    return next((n for n in MODELS.names() if MODELS.get(n) is cls), cls.__name__)


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"model.{name} must be a positive integer, got {value!r}")
    return value


@MODELS.register("adgm")
class ADGM(LatentVariableModel):
    """Auxiliary DGM (Maaløe et al. 2016): p(y) p(z) p(x|y,z) p(a|x,y,z), q(a|x) q(y|a,x) q(z|a,y,x).

    The auxiliary deep generative model, semi-supervised, labels enumerated when not given.

    :param tuple event_shape: the shape of one example.
    :param int num_classes: K, the number of classes.
    :param int z_dim: the latent ("style") dimension.
    :param int a_dim: the auxiliary dimension.
    :param prior: a :class:`~pyrovae.priors.Prior`, p(z).
    :param likelihood: a :class:`~pyrovae.likelihoods.Likelihood`, p(x|·).
    :param posterior: a :class:`~pyrovae.guides.Posterior`, the family of q(z|a,y,x).
    :param aux_posterior: a :class:`~pyrovae.guides.Posterior`, the family of q(a|x).
    :param aux_conditional: a :class:`~pyrovae.guides.Posterior`, the family of p(a|·).
    :param aux_encoder: a network ``x -> aux_posterior.num_features``.
    :param classifier: a :class:`Joined` network ``(x; a) -> K`` logits of q(y|a,x).
    :param encoder: a :class:`Joined` network ``(x; a, y) -> posterior.num_features``.
    :param aux_decoder: the network of p(a|·) (ADGM: a :class:`Joined` ``(x; z, y)``).
    :param decoder: the network of p(x|·) (ADGM: ``[z, onehot(y)] -> (P,) + event_shape``).
    :param label_probs: p(y), a tensor of K probabilities.
    :param float alpha: weight of −log q(y|a,x) per labelled example (default 1).
    :param int classify_samples: draws of a that q(y|x) averages over (default 10).
    """

    components = {"prior": "prior", "likelihood": "likelihood", "guide": "guide",
                  "aux_guide": "guide", "aux_conditional": "guide",
                  "aux_encoder": "encoder", "classifier": "encoder", "encoder": "encoder",
                  "aux_decoder": "encoder", "decoder": "decoder"}
    #: the kind learns from labels: ``data.labels`` keeps a few of them (the rest are summed out)
    uses_labels = True
    #: the loss takes paired batches (``data.labelled_batch``): labels for the first rows only
    paired_batches = True
    #: the label is enumerated in the guide: the ``trace`` objective becomes the enumerated ELBO
    enumerates = True
    #: ``label_prior`` is "uniform" or a list of probabilities: checked by :meth:`check_config`
    checked_options = frozenset({"label_prior"})

    def __init__(self, event_shape, num_classes, z_dim, a_dim, prior, likelihood, posterior,
                 aux_posterior, aux_conditional, aux_encoder, classifier, encoder, aux_decoder,
                 decoder, label_probs, alpha=1.0, classify_samples=10):
        super().__init__()
        self.event_shape = tuple(event_shape)
        self.num_classes = int(num_classes)
        self.z_dim = int(z_dim)
        self.a_dim = int(a_dim)
        self.aux_encoder = aux_encoder
        self.aux_posterior = aux_posterior
        self.classifier = classifier
        self.encoder = encoder
        self.posterior = posterior
        self.aux_decoder = aux_decoder
        self.aux_conditional = aux_conditional
        self.decoder = decoder
        self.likelihood = likelihood
        self.prior = prior
        self.register_buffer(
            "label_probs", torch.as_tensor(label_probs, dtype=torch.get_default_dtype())
        )
        self.alpha = float(alpha)
        self.classify_samples = int(classify_samples)

    @classmethod
    def build(cls, event_shape, num_classes, z_dim=4, a_dim=4, prior="normal",
              likelihood="bernoulli", guide="diag-normal", aux_guide="diag-normal",
              aux_conditional="diag-normal", aux_encoder=_TWO, classifier=_LINEAR,
              encoder=_LINEAR, aux_decoder=_LINEAR, decoder=_TWO, features=128,
              hidden=(128,), activation="relu", label_prior="uniform", alpha=1.0,
              classify_samples=10):
        """Build an ADGM from component names, tables or objects (as :meth:`M2.build`); these
        keywords are the ``[model]`` options of ``kind = "adgm"``. The defaults have Maaløe et
        al.'s shape, two hidden layers of ReLU units in every network, sized for the 8×8
        digits: 128 units, a = z = 4 (on digits with 50 labels, 30 epochs, 17 s: 82.7 % test
        accuracy, against 80.8 % with a = z = 16; one label draw). Their MNIST architecture
        (500 units, a = z = 100) is the recipe ``adgm-maaloe2016-100``.

        :param int num_classes: K, from the data set (``None`` if it has no labels: refused).
        :param int z_dim: the latent z (default 4).
        :param int a_dim: the auxiliary a (default 4).
        :param prior: p(z) (default ``"normal"``).
        :param likelihood: p(x|y,z) (default ``"bernoulli"``).
        :param guide: the family of q(z|a,y,x) (default ``"diag-normal"``).
        :param aux_guide: the family of q(a|x) (default ``"diag-normal"``).
        :param aux_conditional: the family of p(a|x,y,z), a guide family (default
            ``"diag-normal"``).
        :param aux_encoder: the network of q(a|x), x -> its family's parameters (default: MLP,
            hidden ``[128, 128]``, ReLU).
        :param classifier: the image part of q(y|a,x) (default: one linear layer to
            ``features``).
        :param encoder: the image part of q(z|a,y,x) (default: one linear layer).
        :param aux_decoder: the image part of p(a|x,y,z) (default: one linear layer).
        :param decoder: the network of p(x|y,z), [z, onehot(y)] -> the likelihood's parameters
            (default: MLP, hidden ``[128, 128]``, ReLU).
        :param int features: the width where an image part and the vector inputs join
            (default 128).
        :param list hidden: the hidden layers of the joined networks' heads (default ``[128]``).
        :param str activation: the nonlinearity of the joins and heads (default ``"relu"``).
        :param label_prior: ``"uniform"`` or a sequence of K class probabilities.
        :param float alpha: weight of −log q(y|a,x) per labelled example (default 1; Maaløe
            et al.'s β = 0.1 is ``alpha`` = 0.1·N/N_l, see the module docstring).
        :param int classify_samples: draws of a ~ q(a|x) over which q(y|a,x) is averaged to
            classify (default 10).
        """
        if num_classes is None:
            raise DataError(
                f"the {_kind(cls)} model needs a labelled data set, but this one has no "
                "labels; use e.g. data.name = \"mnist\" or \"digits\""
            )
        event_shape = tuple(event_shape)
        k = int(num_classes)
        z_dim, a_dim = _check_size("z_dim", z_dim), _check_size("a_dim", a_dim)
        features = _check_size("features", features)
        classify_samples = _check_size("classify_samples", classify_samples)
        label_probs = label_probabilities(label_prior, k)
        posterior = GUIDES.resolve(guide, {"z_dim": z_dim})
        aux_posterior = GUIDES.resolve(aux_guide, {"z_dim": a_dim})
        aux_conditional = GUIDES.resolve(aux_conditional, {"z_dim": a_dim})
        likelihood = LIKELIHOODS.resolve(likelihood, {"event_shape": event_shape})

        def joined(image, inputs, out_features):
            image = ENCODERS.resolve(image, {"in_shape": event_shape, "out_features": features})
            return Joined(image, inputs, features, out_features, hidden, activation)

        aux_encoder = ENCODERS.resolve(
            aux_encoder, {"in_shape": event_shape, "out_features": aux_posterior.num_features}
        )
        classifier = joined(classifier, {"a": a_dim}, k)
        encoder = joined(encoder, {"a": a_dim, "y": k}, posterior.num_features)
        aux_decoder, decoder = cls._generative_networks(
            event_shape, k, z_dim, a_dim, likelihood, aux_conditional, aux_decoder, decoder,
            joined)
        model = cls(event_shape, k, z_dim, a_dim, None, likelihood, posterior, aux_posterior,
                    aux_conditional, aux_encoder, classifier, encoder, aux_decoder, decoder,
                    label_probs, alpha, classify_samples)
        model.prior = PRIORS.resolve(
            prior, {"z_dim": z_dim, "event_shape": event_shape, "posterior": model.q_z_map}
        )
        return model

    @classmethod
    def _generative_networks(cls, event_shape, k, z_dim, a_dim, likelihood, aux_conditional,
                             aux_decoder, decoder, joined):
        """The networks of p(a|·) and p(x|·): here p(a|x,y,z), joined from the image, z and
        the label, and p(x|y,z), a decoder of [z, onehot(y)]."""
        aux_decoder = joined(aux_decoder, {"z": z_dim, "y": k}, aux_conditional.num_features)
        decoder = DECODERS.resolve(
            decoder,
            {"in_features": z_dim + k, "out_shape": (likelihood.params_per_pixel, *event_shape)},
        )
        return aux_decoder, decoder

    @classmethod
    def check_config(cls, config):
        """``model.label_prior``: ``"uniform"`` or a list of positive class probabilities that
        sums to 1 (stored as floats); ``model.alpha`` ≥ 0."""
        super().check_config(config)
        check_label_options(config.model.options)

    # -- the two Pyro programs ---------------------------------------------------------------

    def model(self, x, y=None, kl_weight=1.0):
        """p(y) p(z) p(x|y,z) p(a|x,y,z); ``y`` observed when given."""
        self.register()
        with pyro.plate("data", x.shape[0]):
            y = pyro.sample("y", dist.Categorical(probs=self.label_probs), obs=y)
            with kl_scale(kl_weight):
                z = pyro.sample("z", self.prior())
            pyro.sample("x", self.p_x(y, z), obs=x)
            with kl_scale(kl_weight):
                pyro.sample("a", self.p_a(x, y, z))

    def guide(self, x, y=None, kl_weight=1.0):
        """q(a|x), q(y|a,x) (enumerated, only when ``y`` is not given) and q(z|a,y,x)."""
        self.register()
        with pyro.plate("data", x.shape[0]):
            with kl_scale(kl_weight):
                a = pyro.sample("a", self.q_a(x))
            if y is None:
                y = pyro.sample("y", self.q_y(x, a), infer={"enumerate": "parallel"})
            with kl_scale(kl_weight):
                pyro.sample("z", self.q_z(x, a, y))

    def loss(self, objective, x, y=None, kl_weight=1.0):
        """−ELBO summed over the batch, plus α·Σ −log q(y|a,x) over its labelled rows.

        ``y`` is ``None`` (an unlabelled batch: y enumerated), the labels of every row, or the
        labels of the first ``len(y)`` rows only (a paired batch, ``data.labelled_batch``: the
        other rows are unlabelled)."""
        elbo = self.enumerated(objective)
        if y is None:
            return elbo.differentiable_loss(self.model, self.guide, x, None, kl_weight=kl_weight)
        n = y.shape[0]
        if n == x.shape[0]:
            return self._labelled_loss(elbo, x, y, kl_weight)
        loss = elbo.differentiable_loss(self.model, self.guide, x[n:], None,
                                        kl_weight=kl_weight)
        if n:
            loss = loss + self._labelled_loss(elbo, x[:n], y, kl_weight, prefix="labelled/")
        return loss

    def _labelled_loss(self, elbo, x, y, kl_weight, prefix=""):
        """The labelled −ELBO plus α·Σ −log q(y|a,x), with a drawn at a site ``a`` of its
        own: under keyed noise (the trainer) that is the ELBO's own draw of a."""
        model, guide = self.model, self.guide
        if prefix:
            model, guide = _renamed(model, prefix), _renamed(guide, prefix)
        loss = elbo.differentiable_loss(model, guide, x, y, kl_weight=kl_weight)
        if self.alpha > 0:
            with _Renamed(prefix), pyro.plate("data", x.shape[0]):
                a = pyro.sample("a", self.q_a(x))
            loss = loss - self.alpha * self.q_y(x, a).log_prob(y).sum()
        return loss

    # -- plain-torch helpers (no Pyro effects) ----------------------------------------------
    # Every network takes any leading batch dimensions (particles, draws, enumerated labels).

    def q_a(self, x):
        """q(a|x), batch shape ``x.shape[:1]``."""
        return self.aux_posterior(self.aux_encoder(x))

    def q_y(self, x, a):
        """q(y|a,x), a Categorical over the K classes."""
        return dist.Categorical(logits=self.classifier(x, a=a))

    def q_z(self, x, a, y):
        """q(z|a,y,x); ``y`` broadcasts against the batch (``(K, 1)`` for all classes)."""
        onehot = one_hot(y, self.num_classes, self.label_probs.dtype)
        return self.posterior(self.encoder(x, a=a, y=onehot))

    def q_z_map(self, x):
        """q(z|a, ŷ, x) at the mean of q(a|x) and the label ŷ it classifies as most probable:
        the posterior handed to priors that ask for one (a VampPrior's pseudo-inputs)."""
        a = self.q_a(x).mean
        return self.q_z(x, a, self.q_y(x, a).logits.argmax(-1))

    def p_a(self, x, y, z):
        """p(a|x,y,z)."""
        onehot = one_hot(y, self.num_classes, z.dtype)
        return self.aux_conditional(self.aux_decoder(x, z=z, y=onehot))

    def p_x(self, y, z):
        """p(x|y,z) as a distribution over images."""
        return self.likelihood(self.decoder(with_label(z, y, self.num_classes)))

    def classify(self, x):
        """argmax_y of q(y|a,x) averaged over ``classify_samples`` draws a ~ q(a|x), read off
        the guide's trace (:func:`pyrovae.infer.traces.classify`)."""
        with torch.no_grad():
            return traces.classify(self, x, self.classify_samples)

    def check_data(self, dataset):
        """Also refuse data without labels or with a different number of classes."""
        check_labelled(dataset, self.num_classes, self.kind)
        super().check_data(dataset)

    # -- pictures ----------------------------------------------------------------------------

    @torch.no_grad()
    def figures(self, dataset, run_dir, rows=8):
        """``conditional_samples.png``: row r one z from the prior, column c class c, E[x|·]
        from the model program with z held (an SDGM draws its a from p(a|y,z)). Nothing for
        non-image data."""
        k = self.num_classes
        device = self.label_probs.device
        z = self.prior().sample((rows,)).repeat_interleave(k, dim=0)  # (rows·K, z_dim)
        y = torch.arange(k, device=device).repeat(rows)
        blank = torch.zeros(rows * k, *self.event_shape, device=device)
        with poutine.condition(data={"z": z}):
            grid = traces.observed_mean(self, blank, y, reconstruct=False)
        images = as_images(grid, self.event_shape)
        if images is None:
            return []
        return [save_grid(images, run_dir / "conditional_samples.png", nrow=k)]

