"""Learning-rate schedules, one per file, registered by name in :data:`SCHEDULERS`; the
trainer steps one once per epoch (see :mod:`pyrovae.schedulers.base`)."""

from .base import SCHEDULERS, EpochScheduler, Scheduler
from .burda2016 import burda2016
from .cosine import cosine
from .exponential import exponential
from .multistep import multistep
from .none import constant
from .plateau import PlateauScheduler, plateau
from .step import step

__all__ = ["EpochScheduler", "PlateauScheduler", "SCHEDULERS", "Scheduler", "burda2016", "constant",
           "cosine", "exponential", "multistep", "plateau", "step"]
