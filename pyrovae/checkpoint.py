"""The checkpoint format: what a ``.pt`` file of a run holds, and how a module is rebuilt from it.

A checkpoint is a dict of tensors and plain values, written atomically and read with
``torch.load(weights_only=True)`` (pyrovae never executes pickled code)::

    format, version, pyrovae      "pyrovae-checkpoint", VERSION, the writing version
    config                        the run's config as a dict (the model section rebuilds it)
    event_shape, num_classes      what the model was built for
    epoch                         the epoch the weights are from
    state_dict                    the weights (on the CPU)
    training                      checkpoint.pt only: the trainer's, the batches' and the
                                  random states, everything ``train --resume`` needs
"""

import io
import pickle
from pathlib import Path

import torch

from ._version import __version__
from .config import config_from_dict, config_to_dict
from .errors import CheckpointError, PyroVAEError
from .files import atomic_write, os_error
from .models.base import build_model
from .runfiles import CHECKPOINT, CONFIG

__all__ = [
    "FORMAT",
    "REQUIRED",
    "VERSION",
    "canonical_config",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
]

FORMAT = "pyrovae-checkpoint"
#: the checkpoint format; 2 added the training state that ``train --resume`` needs; 3 the
#: global step count that keys the guide's noise (:mod:`pyrovae.noise`)
VERSION = 3
#: what every pyrovae checkpoint holds
REQUIRED = ("config", "event_shape", "state_dict", "epoch")


def save_checkpoint(run_dir, module, config, *, event_shape, num_classes, epoch, optimizer=None,
                    training=None, name=None):
    """Atomically save the weights together with what is needed to rebuild the module.

    :param dict training: for ``checkpoint.pt``, everything else that decides the run's future
        (the trainer's, the batches' and the random states), read by ``train --resume``.
    :param str name: the file name (default ``checkpoint.pt``; ``best.pt`` for the best).
    """
    state = {
        "format": FORMAT,
        "version": VERSION,
        "pyrovae": __version__,
        "config": config_to_dict(config),
        "event_shape": list(event_shape),
        "num_classes": num_classes,
        "epoch": int(epoch),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
    }
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if training is not None:
        state["training"] = training
    # Serialized in memory first: torch's zip writer turns a failing write (a full disk) into
    # an opaque RuntimeError and may leave a torn file; one write of bytes raises a plain
    # OSError that atomic_write reports.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getbuffer()
    return atomic_write(Path(run_dir) / (name or CHECKPOINT), lambda f: f.write(data))


def canonical_config(raw):
    """A saved config dict as this version of pyrovae reads it: defaults of options added since
    filled in, so a checkpoint is compared with its config.toml key by key (a dict it cannot
    read any more is returned as it was, and then differs)."""
    try:
        return config_to_dict(config_from_dict(raw))
    except PyroVAEError:
        return raw


def read_checkpoint(path):
    """The dict saved in a checkpoint file, read with ``torch.load(weights_only=True)``.

    Refuses, in one line each: a missing or unreadable file, one that needs pickled Python
    code (which pyrovae never executes), a corrupt file, and a file that is not a pyrovae
    checkpoint or lacks one of :data:`REQUIRED`.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} is missing; the run has not finished an epoch")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as e:
        raise os_error(e, f"read {path}", elsewhere="a readable run") from None
    except pickle.UnpicklingError as e:
        if "unsupported global" in str(e).lower():  # a class or function to be imported
            raise CheckpointError(
                f"{path} contains pickled Python objects, which pyrovae will not execute (they "
                "can run arbitrary code); a checkpoint written by pyrovae train holds tensors "
                "and plain values only"
            ) from None
        raise CheckpointError(f"{path} is corrupt or not a checkpoint (UnpicklingError); "
                              "retrain the run") from None
    except Exception as e:  # torch raises many types for a corrupt file
        raise CheckpointError(
            f"{path} is corrupt or not a checkpoint ({type(e).__name__}); retrain the run"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a pyrovae checkpoint")
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise CheckpointError(
            f"{path} is missing {', '.join(repr(k) for k in missing)}; it was not written by "
            "pyrovae train (or was edited); retrain the run"
        )
    return state


def load_checkpoint(run_dir, config, device="cpu", name=None):
    """Rebuild the module of a run from its config and load its weights.

    Refuses a checkpoint that is missing, corrupt, not a pyrovae checkpoint, or whose model
    section or weights do not match ``config`` (see :func:`read_checkpoint`).

    :param str name: the file (default ``checkpoint.pt``; ``best.pt`` for the best epoch).
    :returns: ``(module, checkpoint_dict)``.
    """
    path = Path(run_dir) / (name or CHECKPOINT)
    state = read_checkpoint(path)
    saved_model = canonical_config(state["config"]).get("model")
    current_model = config_to_dict(config)["model"]
    if saved_model != current_model:
        keys = sorted(
            k
            for k in set(saved_model or {}) | set(current_model)
            if (saved_model or {}).get(k) != current_model.get(k)
        )
        raise CheckpointError(
            f"{path} does not match {Path(run_dir) / CONFIG}: model settings differ in "
            f"{', '.join('model.' + k for k in keys)}; restore the run's config or retrain"
        )
    module = build_model(config, tuple(state["event_shape"]), state.get("num_classes"))
    try:
        module.load_state_dict(state["state_dict"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise CheckpointError(f"{path} does not match its config: {detail}") from None
    return module.to(device), state
