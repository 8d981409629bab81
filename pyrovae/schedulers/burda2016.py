"""The schedule of Burda, Grosse & Salakhutdinov (2016), *Importance Weighted Autoencoders*
(§5): the rate :math:`\\eta_0 \\, 10^{-i/7}` for :math:`3^i` epochs, :math:`i = 0, \\dots, 7`,

.. math:: \\eta_e = \\eta_0 \\, 10^{-i(e)/7}, \\qquad
          i(e) = \\min\\{i : e < (3^{i+1} - 1)/2\\} \\text{ (capped at 7)},

so stage :math:`i` covers epochs :math:`(3^i - 1)/2, \\dots, (3^{i+1} - 3)/2` (0-based) and the
stages together last :math:`\\sum_{i=0}^{7} 3^i = 3280` epochs; after that the last rate,
:math:`\\eta_0 10^{-1}`, stays. Burda et al. use :math:`\\eta_0 = 10^{-3}` with Adam
(:math:`\\beta = (0.9, 0.999)`, :math:`\\epsilon = 10^{-4}`). Built on
:class:`torch.optim.lr_scheduler.LambdaLR`.
"""

from torch.optim.lr_scheduler import LambdaLR

from .base import SCHEDULERS, EpochScheduler

__all__ = ["STAGES", "burda2016", "burda_factor", "burda_stage"]

#: number of stages; stage i lasts 3**i epochs
STAGES = 8


def burda_stage(epoch):
    """The stage :math:`i` of 0-based ``epoch``: the smallest i with epoch < (3^{i+1} − 1)/2,
    capped at 7 (integer arithmetic, exact at the boundaries)."""
    i = 0
    while i < STAGES - 1 and epoch >= (3 ** (i + 1) - 1) // 2:
        i += 1
    return i


def burda_factor(epoch):
    """:math:`10^{-i/7}` for the stage i of ``epoch``: the rate relative to the initial one."""
    return 10 ** (-burda_stage(epoch) / 7)


@SCHEDULERS.register("burda2016")
def burda2016(optimizer):
    """Burda et al. (2016): lr·10^(−i/7) for 3^i epochs, i = 0..7 (3280 epochs), then constant."""
    return EpochScheduler(optimizer, LambdaLR(optimizer, burda_factor))
