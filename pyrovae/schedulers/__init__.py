"""Learning-rate schedules, one per file, registered in :data:`SCHEDULERS` (``train.scheduler``)."""

from . import burda2016, cosine, exponential, multistep, none, plateau, step  # noqa: F401
from .base import SCHEDULERS, EpochScheduler, Scheduler
from .plateau import PlateauScheduler

__all__ = sorted(["EpochScheduler", "PlateauScheduler", "SCHEDULERS", "Scheduler"])
