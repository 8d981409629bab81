"""``burda2016``: the schedule of Burda, Grosse & Salakhutdinov (2016), "Importance Weighted
Autoencoders": for i = 0, ..., 7, train 3^i epochs at η₀ · 10^(−i/7); 3 280 epochs in all
(Σ 3^i), after which the last rate is kept. So epoch e (from 0) uses stage
i(e) = min{i : e < Σ_{j ≤ i} 3^j}.
"""

import torch

from .base import SCHEDULERS, EpochScheduler

__all__ = ["burda2016", "burda_stage"]

STAGES = 8
TOTAL = sum(3**i for i in range(STAGES))  # 3 280


def burda_stage(epoch):
    """The stage i of the epoch ``epoch`` (counted from 0); 7 from epoch 3 280 on."""
    end = 0
    for i in range(STAGES):
        end += 3**i
        if epoch < end:
            return i
    return STAGES - 1


@SCHEDULERS.register("burda2016")
def burda2016(optimizer):
    """Burda et al. (2016): lr·10^(-i/7) for 3^i epochs, i = 0..7 (3 280 epochs)."""
    return EpochScheduler(optimizer, torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda epoch: 10.0 ** (-burda_stage(epoch) / 7)))
