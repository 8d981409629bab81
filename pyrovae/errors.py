"""User-facing errors.

Every error a user can cause (a bad config, bad data, a missing file, a checkpoint that does not
match its run) is a :class:`PyroVAEError`. The CLI prints its message as one line on stderr and
exits with status 2; anything else is a bug in pyrovae and keeps its traceback.
"""

__all__ = ["CallbackError", "CheckpointError", "ConfigError", "DataError", "PyroVAEError",
           "TrainingError"]


class PyroVAEError(Exception):
    """Base class: the message says what is wrong and how to fix it."""


class ConfigError(PyroVAEError, ValueError):
    """An unknown component or key, or an invalid value in a config."""


class DataError(PyroVAEError, ValueError):
    """Data that cannot be loaded or does not fit the model (NaN, wrong support, wrong shape)."""


class CheckpointError(PyroVAEError, ValueError):
    """A checkpoint that is missing, corrupt, or does not match its config."""


class TrainingError(PyroVAEError):
    """Training cannot go on: the loss or gradient diverged, or a callback failed."""


class CallbackError(TrainingError):
    """A training callback raised an error; the message names the callback and its hook."""
