"""Kingma et al.'s (2014) semi-supervised M2 model, with the labels summed out by enumeration.

::

    model(x, y=None):                          guide(x, y=None):
      for n in plate("data"):                    for n in plate("data"):
        y_n ~ Cat(π)          [label_prior]        if y is None:           [classifier]
        z_n ~ p(z)            [prior]                y_n ~ Cat(softmax(classifier(x_n)))
        θ_n = decoder([z_n, onehot(y_n)])                 (enumerated: all K values at once)
        x_n ~ p(x | θ_n)      [likelihood]         h_n = act(encoder(x_n) + E onehot(y_n))
                                                   z_n ~ q(z | head(h_n))           [guide]

With labels given, ``y`` is observed in the model and absent from the guide: the loss is the
labelled −ELBO, −[log p(x|y,z) + log p(y) + log p(z) − log q(z|x,y)]. Without labels, ``y`` is
a guide site marked ``infer={"enumerate": "parallel"}`` and the enumerated ELBO sums over its K
values exactly (one batched pass, an enumeration dimension left of the data plate; pyrovae's
:class:`~pyrovae.infer.objectives.enum.EnumELBO`, which computes Pyro's ``TraceEnum_ELBO``
without host synchronization)::

    ELBO_U(x) = Σ_y q(y|x) [log p(x|y,z_y) + log p(y) + log p(z_y) − log q(z_y|x,y)]
                − Σ_y q(y|x) log q(y|x),        z_y ~ q(z|x,y)

so y is never sampled; z is still one Monte Carlo draw per (example, class, particle). On labelled
batches :meth:`M2.loss` adds Kingma et al.'s auxiliary classification loss α·(−log q(y|x)), the
only term that trains q(y|x) on labelled data.

The weight α and the batching. Training alternates a labelled and an unlabelled batch of the
same size (the data layer's :class:`~pyrovae.data.labels.SemiSupervisedBatcher`, which also
chooses the kept labels), each step's loss summed over
its batch, so in one epoch (one pass over the U unlabelled examples) the labelled examples are
visited about U times in all. Kingma et al. maximize Σ_labelled ELBO_L + Σ_unlabelled ELBO_U −
α_K · mean_labelled(−log q(y|x)) with α_K = 0.1·N per pass over the N examples; matching the
classification term per epoch gives ``alpha`` ≈ α_K / U ≈ 0.1 here (their labelled ELBO terms
are weighted less than ours, by L/U). On digits with 50 labels (40 epochs) the test accuracy
was flat to falling in α: 0.911, 0.908, 0.897 for α = 0.1, 1, 10 (grey levels, z_dim 4) and
0.825, 0.819, 0.794 for α = 1, 10, 50 (binarized, z_dim 16); the default is ``alpha = 1``.
Pyro's tutorial uses 46 with a different batching.

Objectives. The kind declares ``enumerates = True``, so the config's ``trace`` objective (Pyro's
``Trace_ELBO``) becomes an ``EnumELBO`` with the same particles
(:meth:`~pyrovae.models.base.LatentVariableModel.enumerated`); note that it still estimates the
z part of the KL by Monte Carlo. The others are refused when the config is loaded
(:meth:`~pyrovae.models.base.LatentVariableModel.check_objective`): Pyro has no enumerated ELBO
with a closed-form KL, and the importance-weighted objectives have no enumerated form.

Estimators. This file has none: they are derived from the traces of the two programs
(:mod:`pyrovae.infer.traces`), where the guide's enumerated y is summed exactly, in the ELBO
(Σ_y q(y|x)[...]) and inside each importance weight, w = Σ_y p(x, y, z_y) / q(z_y|x, y),
z_y ~ q(z|x, y), one draw per class, whose mean is an unbiased estimate of p(x); so
``evaluate --iwae-k`` and ``compare`` work as for the VAE, and the accuracy is that of the
guide's q(y|x) (:func:`pyrovae.infer.traces.classify`).

Why the guide's q(z|x,y) is "encoder, label, activation, head": the encoder (any registered one,
convolutional ones included) sees only the image and emits ``features`` pre-activations; the
label adds its own learned vector (E onehot(y), one column of E per class), then the activation
and a linear head give the posterior family's parameters. With a one-layer encoder (``mlp`` with
``hidden = []``) this is exactly the first layer of Kingma et al.'s and Pyro's q(z|x,y), which
take the concatenation [x, onehot(y)]: W [x; onehot(y)] = W_x x + W_y onehot(y). It is also the
cheap way to enumerate: the encoder runs once per image and only the label's vector, the
activation and the head run once per class. (An earlier design fed onehot(y) to the linear
head only, after the nonlinearity, so y could only shift the posterior's parameters.)
"""

import pyro
import pyro.distributions as dist
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError
from ..guides import GUIDES
from ..likelihoods import LIKELIHOODS
from ..nets import DECODERS, ENCODERS
from ..nets.base import activation as activation_module
from ..plots import as_images, save_grid
from ..priors import PRIORS
from .base import MODELS, LatentVariableModel, kl_scale
from .labels import (check_label_options, check_labelled, label_probabilities, one_hot,
                     with_label)

__all__ = ["M2"]


@MODELS.register("m2")
class M2(LatentVariableModel):
    """Semi-supervised M2 (Kingma et al. 2014): p(y) p(z) p(x|y,z), q(y|x) q(z|x,y), labels enumerated.

    :param tuple event_shape: the shape of one example.
    :param int num_classes: K, the number of classes.
    :param int z_dim: the latent ("style") dimension.
    :param prior: a :class:`~pyrovae.priors.Prior`.
    :param likelihood: a :class:`~pyrovae.likelihoods.Likelihood`.
    :param posterior: a :class:`~pyrovae.guides.Posterior`, the family of q(z|x,y).
    :param encoder: a network ``x -> features`` (pre-activations).
    :param head: ``nn.Linear(features, posterior.num_features)``.
    :param classifier: a network ``x -> K`` logits of q(y|x).
    :param decoder: a network ``[z, onehot(y)] -> (P,) + event_shape``.
    :param label_probs: p(y), a tensor of K probabilities.
    :param float alpha: weight of −log q(y|x) per labelled example (default 1).
    :param str activation: the nonlinearity between encoder + label and head (default relu).
    """

    components = {"prior": "prior", "likelihood": "likelihood", "guide": "guide",
                  "encoder": "encoder", "decoder": "decoder", "classifier": "encoder"}
    #: M2 classifies the images as they are: ``data.binarize = "auto"`` keeps grey levels, as
    #: Kingma et al. and Pyro's SS-VAE do (a Bernoulli decoder on grey levels is then a
    #: cross-entropy, not a density: pyrovae warns). On digits with 50 labels this gave 88.8 %
    #: against 79.2 % with dynamic binarization (5 label draws, README).
    auto_binarize = False
    #: the label is enumerated in the guide: the ``trace`` objective becomes the enumerated ELBO
    enumerates = True
    #: M2 learns from labels: ``data.labels`` keeps a few of them (the rest are summed out)
    uses_labels = True
    #: ``label_prior`` is "uniform" or a list of probabilities: checked by :meth:`check_config`
    checked_options = frozenset({"label_prior"})

    def __init__(self, event_shape, num_classes, z_dim, prior, likelihood, posterior, encoder,
                 head, classifier, decoder, label_probs, alpha=1.0, activation="relu"):
        super().__init__()
        self.event_shape = tuple(event_shape)
        self.num_classes = int(num_classes)
        self.z_dim = int(z_dim)
        self.prior = prior
        self.likelihood = likelihood
        self.posterior = posterior
        self.encoder = encoder
        self.head = head
        features = head.in_features
        self.label_embedding = nn.Linear(self.num_classes, features, bias=False)
        self.activation = activation_module(activation)
        self.classifier = classifier
        self.decoder = decoder
        self.register_buffer(
            "label_probs", torch.as_tensor(label_probs, dtype=torch.get_default_dtype())
        )
        self.alpha = float(alpha)

    @classmethod
    def build(cls, event_shape, num_classes, z_dim=4, prior="normal", likelihood="bernoulli",
              guide="diag-normal", encoder="mlp", decoder="mlp", classifier="mlp",
              label_prior="uniform", alpha=1.0, features=128, activation="relu"):
        """Build M2 from component names, tables or objects (as :meth:`VAE.build`); these
        keywords are the ``[model]`` options of ``kind = "m2"``.

        :param int num_classes: K, from the data set (``None`` if it has no labels: refused).
        :param int z_dim: the style latent (default 4: with a large z the decoder explains the
            8×8 digits without y and the unlabelled images help less; measured over 5 label
            draws in ``benchmarks/m2_digits_defaults.py``; MNIST recipes use 50).
        :param label_prior: ``"uniform"`` or a sequence of K class probabilities.
        :param float alpha: weight of −log q(y|x) per labelled example (default 1).
        :param int features: encoder outputs, to which the label's vector is added, before
            the activation and the head of q(z|x,y) (default 128; Pyro's tutorial: 500 from a
            one-layer encoder).
        :param str activation: the nonlinearity there, one of the networks' activations
            (default ``"relu"``; Pyro's tutorial: ``"softplus"``).
        """
        if num_classes is None:
            raise DataError(
                "the m2 model needs a labelled data set, but this one has no labels; use e.g. "
                "data.name = \"mnist\" or \"digits\""
            )
        event_shape = tuple(event_shape)
        k = int(num_classes)
        label_probs = label_probabilities(label_prior, k)
        posterior = GUIDES.resolve(guide, {"z_dim": z_dim})
        likelihood = LIKELIHOODS.resolve(likelihood, {"event_shape": event_shape})
        encoder = ENCODERS.resolve(encoder, {"in_shape": event_shape, "out_features": features})
        classifier = ENCODERS.resolve(classifier, {"in_shape": event_shape, "out_features": k})
        decoder = DECODERS.resolve(
            decoder,
            {"in_features": z_dim + k, "out_shape": (likelihood.params_per_pixel, *event_shape)},
        )
        head = nn.Linear(features, posterior.num_features)
        m2 = cls(event_shape, k, z_dim, None, likelihood, posterior, encoder, head, classifier,
                 decoder, label_probs, alpha, activation)
        m2.prior = PRIORS.resolve(
            prior, {"z_dim": z_dim, "event_shape": event_shape, "posterior": m2.q_z}
        )
        return m2

    @classmethod
    def check_config(cls, config):
        """``model.label_prior``: ``"uniform"`` or a list of positive class probabilities that
        sums to 1 (stored as floats); ``model.alpha`` ≥ 0."""
        super().check_config(config)
        check_label_options(config.model.options)

    # -- the two Pyro programs ---------------------------------------------------------------

    def model(self, x, y=None, kl_weight=1.0):
        """p(y) p(z) p(x|y,z); ``y`` observed when given."""
        self.register()
        with pyro.plate("data", x.shape[0]):
            y = pyro.sample("y", dist.Categorical(probs=self.label_probs), obs=y)
            with kl_scale(kl_weight):
                z = pyro.sample("z", self.prior())
            pyro.sample("x", self.p_x(z, y), obs=x)

    def guide(self, x, y=None, kl_weight=1.0):
        """q(y|x) (enumerated, only when ``y`` is not given) and q(z|x,y)."""
        self.register()
        with pyro.plate("data", x.shape[0]):
            if y is None:
                y = pyro.sample("y", self.q_y(x), infer={"enumerate": "parallel"})
            with kl_scale(kl_weight):
                pyro.sample("z", self.q(x, y))

    def loss(self, objective, x, y=None, kl_weight=1.0):
        """−ELBO summed over the batch (y enumerated when ``None``), plus
        α·Σ −log q(y|x) on a labelled batch."""
        loss = self.enumerated(objective).differentiable_loss(self.model, self.guide, x, y,
                                                              kl_weight=kl_weight)
        if y is not None and self.alpha > 0:
            loss = loss + self.alpha * F.cross_entropy(self.classifier(x), y, reduction="sum")
        return loss

    # -- plain-torch helpers (no Pyro effects) ----------------------------------------------

    def q_y(self, x):
        """q(y|x), a Categorical with batch shape ``x.shape[:1]``."""
        return dist.Categorical(logits=self.classifier(x))

    def q(self, x, y):
        """q(z|x,y) = posterior(head(act(encoder(x) + E onehot(y)))); ``y`` broadcasts against
        the batch (e.g. ``(K, 1)`` for all classes: the encoder still runs once per image)."""
        label = self.label_embedding(one_hot(y, self.num_classes, self.head.weight.dtype))
        return self.posterior(self.head(self.activation(self.encoder(x) + label)))

    def q_z(self, x):
        """q(z|x, ŷ) at the most probable label ŷ: the posterior handed to priors that ask for
        one (e.g. a VampPrior's pseudo-inputs)."""
        return self.q(x, self.classifier(x).argmax(-1))

    def p_x(self, z, y):
        """p(x|y,z) as a distribution over images."""
        return self.likelihood(self.decoder(with_label(z, y, self.num_classes)))

    def check_data(self, dataset):
        """Also refuse data without labels or with a different number of classes."""
        check_labelled(dataset, self.num_classes, "m2")
        super().check_data(dataset)

    # -- pictures ----------------------------------------------------------------------------

    @torch.no_grad()
    def figures(self, dataset, run_dir, rows=8):
        """``conditional_samples.png`` (row: one z from the prior; column: one class) and
        ``analogies.png`` (first column: a test image; then its style z, the mean of
        q(z|x,y) at its true label, decoded with every class). Nothing for non-image data."""
        k = self.num_classes
        ys = torch.arange(k, device=self.label_probs.device)
        z = self.prior().sample((rows,)).unsqueeze(1)  # (rows, 1, z_dim)
        grid = self.likelihood.mean(self.decoder(with_label(z, ys, k)))  # (rows, K, ...)
        samples = as_images(grid.reshape(rows * k, *self.event_shape), self.event_shape)
        if samples is None:
            return []
        written = [save_grid(samples, run_dir / "conditional_samples.png", nrow=k)]
        x, y = dataset.test.x[:rows], dataset.test.y[:rows]
        qz = self.q(x, y)
        try:
            style = qz.mean
        except NotImplementedError:
            style = qz.sample()
        decoded = self.likelihood.mean(self.decoder(with_label(style.unsqueeze(1), ys, k)))
        images = torch.cat([x.unsqueeze(1), decoded], dim=1)  # (rows, 1 + K, ...)
        images = as_images(images.reshape(rows * (k + 1), *self.event_shape), self.event_shape)
        written.append(save_grid(images, run_dir / "analogies.png", nrow=k + 1))
        return written
