"""The importance-sampled bound on log p(x): the "test log-likelihood" of the VAE literature.

With the guide as proposal, z_k ~ q(z|x) independently for k = 1..K,

    L_K(x) = log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x).

Because the average of the weights is an unbiased estimate of p(x), Jensen's inequality gives
E[L_K(x)] ≤ log p(x); E[L_K] rises with K (Burda et al., 2016, theorem 1), L_1 is the ELBO, and
L_K → log p(x) as K → ∞ when q covers the posterior. If q(z|x) is the exact posterior, every
weight equals p(x) and L_K = log p(x) for any K. Papers report the mean of L_5000 over the test
set as the test log-likelihood.

The weights are derived from the traces of the model and guide
(:func:`pyrovae.infer.traces.log_weights`), so every model kind, a user's own model and any
registered prior, likelihood and guide works; enumerated sites (M2's label) are summed out
exactly inside each weight. The sums over K run in chunks
(:func:`~pyrovae.infer.logmeanexp.log_mean_exp`) so memory stays bounded for any K.
"""

import torch

from . import traces
from .elbo import summarize
from .logmeanexp import DEFAULT_MAX_ROWS, log_mean_exp

__all__ = ["evaluate_log_likelihood", "importance_bound"]


@torch.no_grad()
def importance_bound(model, x, num_samples, max_rows=DEFAULT_MAX_ROWS, sample_chunk=None,
                     image_chunk=None, world=None, y=None):
    """L_K(x_n) for every example (float64, shape ``(N,)``), nats.

    :param model: a model kind (e.g. :class:`~pyrovae.models.VAE` or ``M2``).
    :param x: examples ``(N,) + event_shape``.
    :param int num_samples: K (e.g. 5000).
    :param int max_rows: decoder rows per call (default 8192; a model with enumerated sites
        decodes one row per value, M2 one per class, and gets proportionally fewer samples).
    :param int sample_chunk: samples per decoder call (default from ``max_rows``).
    :param int image_chunk: images per chunk (default from ``max_rows``).
    :param world: data-parallel ranks (:class:`~pyrovae.distributed.World`): each bounds its
        shard of the images and every rank gets all ``N`` bounds.
    :param y: the condition of each example for a conditional model (``model.given(labels)``),
        so the bound is on log p(x|y); ``None`` otherwise.
    """
    n = x.shape[0]
    rows = max_rows
    if n:
        traces.check_programs(model, x[:2], None if y is None else y[:2])
        rows = max(1, max_rows // traces.enumeration_size(model, x, y))
    if world is not None:
        x, y = world.shard(x), None if y is None else world.shard(y)
    bounds = log_mean_exp(lambda xb, yb: lambda k: traces.log_weights(model, xb, yb, k), x,
                          num_samples, rows, sample_chunk, image_chunk, y=y)
    return bounds if world is None else world.gather(bounds, n)


def evaluate_log_likelihood(model, x, num_samples=5000, max_rows=DEFAULT_MAX_ROWS, world=None,
                            y=None):
    """The test log-likelihood: mean of L_K over ``x`` with its standard error over examples.

    :returns: ``{"log_likelihood", "log_likelihood_stderr", "iwae_k", "num_examples"}``; the
        standard error is the spread over examples / √N (it includes the sampling noise of L_K).
    """
    mean, stderr = summarize(importance_bound(model, x, num_samples, max_rows, world=world,
                                              y=y))
    return {"log_likelihood": mean, "log_likelihood_stderr": stderr, "iwae_k": int(num_samples),
            "num_examples": int(x.shape[0])}
