"""Training: the SVI loop (:mod:`~pyrovae.training.loop`), the callbacks that write a run
directory (:mod:`~pyrovae.training.run_writers`) and the session that trains, resumes and
finishes a run from its config (:mod:`~pyrovae.training.session`)."""

from ..errors import CallbackError, TrainingError
from .loop import Trainer, kl_weight_at
from .session import Session, config_hash, default_run_dir, fit, resume, train

__all__ = ["CallbackError", "Session", "Trainer", "TrainingError", "config_hash", "default_run_dir",
           "fit", "kl_weight_at", "resume", "train"]
