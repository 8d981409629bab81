"""The naive Monte Carlo estimate of log p(x): sample z from the prior.

    log p̂(x) = log (1/K) Σ_k p(x|z_k),   z_k ~ p(z).

It is unbiased for p(x) (so biased low for log p(x), by Jensen) and looks like it makes p(x)
tractable. In practice almost every z from the prior explains a given image badly: the estimate
is dominated by the rare z near the posterior, whose chance under p(z) is about
exp(−KL(posterior || prior)), so K must grow exponentially with that KL before the estimate is
close. It is the importance-sampled bound (:mod:`.importance`) with the prior as proposal, where
log p(z) − log p(z) cancels; shown in ``pyrovae compare`` for contrast.
"""

import torch

from .logmeanexp import DEFAULT_MAX_ROWS, log_mean_exp

__all__ = ["naive_estimate"]


@torch.no_grad()
def naive_estimate(model, x, num_samples, max_rows=DEFAULT_MAX_ROWS, sample_chunk=None,
                   image_chunk=None, y=None):
    """log (1/K) Σ_k p(x_n|z_k), z_k ~ p(z), for every example (float64, shape ``(N,)``).

    Arguments as for :func:`~pyrovae.infer.importance.importance_bound`; the weights are the
    model's :meth:`~pyrovae.models.base.LatentVariableModel.log_weight_sampler` with
    ``proposal="prior"``.
    """
    model.require("naive", "the naive prior-sampling estimate")
    rows = max(1, max_rows // model.rows_per_sample)
    return log_mean_exp(lambda xb, yb: model.log_weight_sampler(xb, "prior", y=yb), x,
                        num_samples, rows, sample_chunk, image_chunk, y=y)
