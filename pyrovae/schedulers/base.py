"""The learning-rate scheduler interface and registry.

A scheduler changes the optimizer's learning rate once per epoch. The trainer calls
``scheduler.step(valid_elbo)`` at the end of every epoch, after validation, with the validation
ELBO in nats per example (higher is better; ``None`` on an epoch without validation). Epochs are
counted from 0: :math:`\\eta_e`, the rate used during epoch :math:`e`, is the optimizer's rate
after :math:`e` calls of ``step``; :math:`\\eta_0` is the configured ``train.lr``. With several
parameter groups every group follows the same schedule from its own starting rate.

Resuming a run continues the schedule bit for bit: ``state_dict()`` holds plain numbers, lists
and strings only (saved with ``torch.save``, read back with ``weights_only=True``), including the
current rate of every parameter group, which ``load_state_dict`` writes back into the optimizer.
Build the optimizer and the scheduler as for a new run, load the optimizer's state, then the
scheduler's.

Most schedules wrap one of :mod:`torch.optim.lr_scheduler`, which does the arithmetic.
"""

import numbers

from ..errors import CheckpointError, ConfigError
from ..registry import Registry

__all__ = [
    "EpochScheduler",
    "SCHEDULERS",
    "Scheduler",
    "check_count",
    "check_factor",
    "check_nonnegative",
]

#: name -> factory; built as ``factory(optimizer=..., **options)`` and returns a
#: :class:`Scheduler`.
SCHEDULERS = Registry("scheduler", builder_args=("optimizer",))


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_factor(where, option, value, allow_one=True):
    """Return ``value`` as a float in (0, 1] (or (0, 1) when ``allow_one`` is false); otherwise
    raise :class:`ConfigError` naming ``where`` (e.g. ``"scheduler 'step'"``) and ``option``."""
    interval = "(0, 1]" if allow_one else "(0, 1)"
    if not _is_number(value) or not (0 < value < 1 or (allow_one and value == 1)):
        raise ConfigError(
            f"{where}: {option} must be a number in {interval} (the factor the learning rate "
            f"is multiplied by), got {value!r}"
        )
    return float(value)


def check_count(where, option, value, minimum=1):
    """Return ``value`` if it is an integer ≥ ``minimum``; otherwise raise :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{where}: {option} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def check_nonnegative(where, option, value):
    """Return ``value`` as a float if it is a number ≥ 0; otherwise raise :class:`ConfigError`."""
    if not _is_number(value) or not value >= 0:
        raise ConfigError(f"{where}: {option} must be a number ≥ 0, got {value!r}")
    return float(value)


class Scheduler:
    """Abstract learning-rate schedule, stepped once per epoch.

    Subclasses implement :meth:`_advance`. The state saved by :meth:`state_dict` is the number
    of completed epochs, the rate of every parameter group, the kind of torch scheduler (so a
    checkpoint of another schedule is refused) and that scheduler's own state.

    :param optimizer: the ``torch.optim`` optimizer whose rates are scheduled.
    :param scheduler: the :mod:`torch.optim.lr_scheduler` object doing the arithmetic, or
        ``None`` for a constant rate.
    """

    def __init__(self, optimizer, scheduler=None):
        self.optimizer = optimizer
        self.scheduler = scheduler
        #: epochs completed, i.e. calls of :meth:`step`
        self.epoch = 0

    @property
    def lrs(self):
        """The current learning rate of every parameter group."""
        return [float(group["lr"]) for group in self.optimizer.param_groups]

    @property
    def lr(self):
        """The current learning rate of the first parameter group (the one to log)."""
        return self.lrs[0]

    def step(self, valid_elbo=None):
        """End an epoch: set the rate for the next one.

        :param valid_elbo: this epoch's validation ELBO (nats per example), or ``None`` if
            validation did not run.
        """
        self.epoch += 1
        self._advance(None if valid_elbo is None else float(valid_elbo))

    def _advance(self, valid_elbo):
        """Update the optimizer's rates after epoch ``self.epoch``."""
        raise NotImplementedError

    @property
    def _kind(self):
        return type(self.scheduler).__name__ if self.scheduler is not None else "constant"

    def state_dict(self):
        """Everything needed to continue the schedule exactly (plain numbers and strings)."""
        return {
            "kind": self._kind,
            "epoch": self.epoch,
            "lrs": self.lrs,
            "scheduler": {} if self.scheduler is None else self.scheduler.state_dict(),
        }

    def load_state_dict(self, state):
        """Continue from ``state`` (from :meth:`state_dict`); writes the saved rates into the
        optimizer. A state of another schedule or another number of parameter groups raises
        :class:`~pyrovae.errors.CheckpointError`."""
        if state.get("kind") != self._kind:
            raise CheckpointError(
                f"the checkpoint's learning-rate schedule is {state.get('kind')!r}, this run's "
                f"is {self._kind!r}; resume with the scheduler the run was started with"
            )
        groups = self.optimizer.param_groups
        if len(state["lrs"]) != len(groups):
            raise CheckpointError(
                f"the checkpoint's scheduler has {len(state['lrs'])} parameter groups, the "
                f"optimizer has {len(groups)}; the checkpoint does not match this model"
            )
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        for group, lr in zip(groups, state["lrs"]):
            group["lr"] = lr


class EpochScheduler(Scheduler):
    """A schedule that depends on the epoch only: steps its torch scheduler once per epoch and
    ignores the validation ELBO.

    :param optimizer: the optimizer.
    :param scheduler: a :mod:`torch.optim.lr_scheduler` object built on ``optimizer``, or
        ``None`` for a constant rate.
    :param int hold_after: after this many epochs stop stepping ``scheduler``, so the rate
        stays where it is (``None``: step forever).
    """

    def __init__(self, optimizer, scheduler=None, hold_after=None):
        super().__init__(optimizer, scheduler)
        self.hold_after = hold_after

    def _advance(self, valid_elbo):
        holding = self.hold_after is not None and self.epoch > self.hold_after
        if self.scheduler is not None and not holding:
            self.scheduler.step()
