"""Catch a diverging training run at the step where it happens.

A loss that becomes NaN or infinite, a gradient that does, or a loss that shoots far above its
running level (``--lr 1e3`` gives finite losses of 1e19 and more) all mean the parameters are
being ruined. :class:`DivergenceMonitor` watches every step on the device, without a host
synchronization per step, and :meth:`DivergenceMonitor.check` raises one
:class:`TrainingError` naming the epoch and step.

The test, per step t with per-example loss L_t and the running level m (an exponential moving
average of the good steps' losses, started at the first one)::

    diverged  ⇔  L_t or ‖∇‖ not finite,  or  L_t − m > factor · max(|m|, 1)

With ``factor = 1000`` a loss must grow by three orders of magnitude past its level: ordinary
mini-batch noise never does that, a blow-up does within a few steps.
"""

import math

import torch

from .errors import TrainingError

__all__ = ["DivergenceMonitor", "TrainingError"]


class DivergenceMonitor:
    """Device-side record of the first diverging step of an epoch.

    :param float factor: how far above its running level a loss may go (default 1000; 0 only
        checks finiteness).
    :param float momentum: weight of a new step in the running level (default 0.02).
    """

    def __init__(self, factor=1000.0, momentum=0.02):
        self.factor = float(factor)
        self.momentum = float(momentum)
        self.level = None  # running level of the per-example loss: a 0-d tensor, or a float
        # on the host path (:meth:`observe_now`)
        self._reset_epoch()

    def _reset_epoch(self):
        self.first_bad = None  # step index of the first bad step, -1 while none
        self.bad_loss = None

    def observe(self, loss, grad_norm, step):
        """Record step ``step`` (0-based within the epoch) with its per-example ``loss`` and
        gradient norm (0-d tensors on the device; nothing is read back)."""
        loss = loss.detach()
        if self.level is not None and not torch.is_tensor(self.level):  # from observe_now
            self.level = torch.tensor(self.level, dtype=loss.dtype, device=loss.device)
        if self.level is None:
            self.level = torch.where(torch.isfinite(loss), loss, torch.zeros_like(loss))
        if self.first_bad is None:
            self.first_bad = torch.full((), -1, dtype=torch.long, device=loss.device)
            self.bad_loss = torch.zeros_like(loss)
        bad = ~(torch.isfinite(loss) & torch.isfinite(grad_norm))
        if self.factor > 0:
            bad = bad | (loss - self.level > self.factor * self.level.abs().clamp(min=1.0))
        new = bad & (self.first_bad < 0)
        self.first_bad = torch.where(new, torch.full_like(self.first_bad, step), self.first_bad)
        self.bad_loss = torch.where(new, loss, self.bad_loss)
        self.level = torch.where(bad, self.level, torch.lerp(self.level, loss, self.momentum))

    def observe_now(self, loss, grad_norm, step, epoch, steps=None):
        """:meth:`observe` and :meth:`check` in one, on numbers read back to the host: where
        reading back is free (the CPU) a dozen small tensor operations per step are not.
        Raises :class:`TrainingError` at once for a bad step."""
        loss, norm = float(loss), float(grad_norm)
        level = None if self.level is None else float(self.level)
        if level is None:
            level = loss if math.isfinite(loss) else 0.0
        bad = not (math.isfinite(loss) and math.isfinite(norm))
        if self.factor > 0 and not bad:
            bad = loss - level > self.factor * max(abs(level), 1.0)
        if bad:
            self.first_bad, self.bad_loss, self.level = step, loss, level
            self.check(epoch, steps)
        self.level = level + self.momentum * (loss - level)

    def check(self, epoch, steps=None):
        """Raise :class:`TrainingError` if a step of epoch ``epoch`` (1-based, ``steps`` steps
        in all, if known) diverged; one host synchronization."""
        if self.first_bad is None:
            return
        step = int(self.first_bad)
        if step >= 0:
            loss, level = float(self.bad_loss), float(self.level)
            if not math.isfinite(loss):
                what = f"the loss per example became {loss:g}, non-finite"
            elif self.factor > 0 and loss - level > self.factor * max(abs(level), 1.0):
                what = f"the loss per example became {loss:g}"
            else:
                what = f"the gradient became non-finite (loss per example {loss:g})"
            where = f"step {step + 1}" + ("" if steps is None else f" of {steps}")
            raise TrainingError(
                f"training diverged in epoch {epoch}, {where}: {what}, "
                f"against a running level of {level:.4g}; lower the learning rate (train.lr) or "
                "check the data and likelihood"
            )

    def end_epoch(self):
        self._reset_epoch()
