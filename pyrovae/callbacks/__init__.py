"""Training callbacks, one per file; those a config can name are registered in
:data:`CALLBACKS` (see :mod:`pyrovae.callbacks.base`)."""

from .base import CALLBACKS, Callback, Fit
from .early_stopping import EarlyStopping
from .mlflow import MLflowLogger
from .progress import ProgressBar
from .tensorboard import TensorBoard

__all__ = ["CALLBACKS", "Callback", "EarlyStopping", "Fit", "MLflowLogger", "ProgressBar",
           "TensorBoard"]
