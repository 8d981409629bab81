"""The naive Monte Carlo estimate of log p(x): sample z from the prior.

    log p̂(x) = log (1/K) Σ_k p(x|z_k),   z_k ~ p(z).

It is unbiased for p(x) (so biased low for log p(x), by Jensen) and looks like it makes p(x)
tractable. In practice almost every z from the prior explains a given image badly: the estimate
is dominated by the rare z near the posterior, whose chance under p(z) is about
exp(−KL(posterior || prior)), so K must grow exponentially with that KL before the estimate is
close. It is the importance-sampled bound (:mod:`.importance`) with the prior as proposal, where
log p(z) − log p(z) cancels; shown in ``pyrovae compare`` for contrast.
"""

from __future__ import annotations

from typing import Any

import torch

from . import traces
from .arguments import estimator
from .logmeanexp import DEFAULT_MAX_ROWS, log_mean_exp

__all__ = ["naive_estimate"]


@estimator("pyrovae.naive_estimate")
@torch.no_grad()
def naive_estimate(model: Any, x: torch.Tensor, num_samples: int,
                   max_rows: int = DEFAULT_MAX_ROWS, sample_chunk: int | None = None,
                   image_chunk: int | None = None,
                   y: torch.Tensor | None = None) -> torch.Tensor:
    """log (1/K) Σ_k p(x_n|z_k), z_k ~ p(z), for every example (float64, shape ``(N,)``).

    Arguments as for :func:`~pyrovae.infer.importance.importance_bound`; the weights are
    derived from the model's trace with the latents drawn from the prior and its discrete
    latents enumerated (:func:`pyrovae.infer.traces.log_weights` with ``proposal="prior"``).
    """
    rows = max_rows
    if x.shape[0]:
        traces.check_programs(model, x[:2], None if y is None else y[:2])
        rows = max(1, max_rows // traces.enumeration_size(model, x, y))
    return log_mean_exp(lambda xb, yb: lambda k: traces.log_weights(model, xb, yb, k, "prior"),
                        x, num_samples, rows, sample_chunk, image_chunk, y=y)
