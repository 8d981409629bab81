"""The run directory: resolved config, metrics, checkpoints and pictures of one training run.

::

    <run>/config.toml       the fully resolved config (every default filled in)
    <run>/metrics.csv       one row per epoch
    <run>/checkpoint.pt     the latest weights, written atomically every epoch
    <run>/samples.png       a grid of samples from the prior
    <run>/reconstructions.png   test images (odd rows) and their reconstructions (even rows)

Every file is written to a temporary name and renamed into place, so an interrupted run never
leaves a half-written file, and checkpoints are read with ``torch.load(weights_only=True)``.
"""

import csv
import io
import os
import tempfile
import tomllib
from pathlib import Path

import tomli_w
import torch

from .config import config_from_dict, config_to_dict
from .errors import CheckpointError, ConfigError, PyroVAEError

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "METRICS",
    "atomic_write",
    "load_checkpoint",
    "load_run_config",
    "prepare_run_dir",
    "save_checkpoint",
    "write_config",
    "write_metrics",
]

CONFIG = "config.toml"
METRICS = "metrics.csv"
CHECKPOINT = "checkpoint.pt"
FORMAT = "pyrovae-checkpoint"
VERSION = 1


def atomic_write(path, write):
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it there."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def prepare_run_dir(path, overwrite=False):
    """Create the run directory; refuse one that already holds a run unless ``overwrite``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise PyroVAEError(f"--out {path} is a file; choose a directory")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise PyroVAEError(
            f"run directory {path} already exists and is not empty; choose another --out "
            "or pass --overwrite"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PyroVAEError(f"cannot create run directory {path}: {e.strerror}") from None
    return path


def write_config(run_dir, config):
    text = tomli_w.dumps(config_to_dict(config)).encode()
    return atomic_write(Path(run_dir) / CONFIG, lambda f: f.write(text))


def load_run_config(run_dir):
    """The resolved config of a run directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise PyroVAEError(f"run directory {run_dir} does not exist")
    path = run_dir / CONFIG
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise PyroVAEError(f"{run_dir} is not a pyrovae run: {CONFIG} is missing") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is corrupt: {e}") from None
    try:
        return config_from_dict(raw, where=str(path))
    except ConfigError as e:
        raise CheckpointError(f"{path} is not a valid pyrovae config: {e}") from None


def write_metrics(run_dir, rows):
    """Write all epoch rows (list of dicts with the same keys) to ``metrics.csv``."""
    buffer = io.StringIO()
    fields = list(rows[0]) if rows else []
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    return atomic_write(Path(run_dir) / METRICS, lambda f: f.write(data))


def save_checkpoint(run_dir, module, config, *, event_shape, num_classes, epoch, optimizer=None):
    """Atomically save the weights together with what is needed to rebuild the module."""
    state = {
        "format": FORMAT,
        "version": VERSION,
        "config": config_to_dict(config),
        "event_shape": list(event_shape),
        "num_classes": num_classes,
        "epoch": int(epoch),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
    }
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    return atomic_write(Path(run_dir) / CHECKPOINT, lambda f: torch.save(state, f))


def load_checkpoint(run_dir, config, device="cpu"):
    """Rebuild the module of a run from its config and load its weights.

    Refuses a checkpoint that is missing, corrupt, not a pyrovae checkpoint, or whose model
    section or weights do not match ``config``.

    :returns: ``(module, checkpoint_dict)``.
    """
    from .models.base import MODELS

    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise CheckpointError(f"{path} is missing; the run has not finished an epoch")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a corrupt file
        raise CheckpointError(
            f"{path} is corrupt or not a checkpoint ({type(e).__name__}); retrain the run"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a pyrovae checkpoint")
    saved_model = state["config"].get("model")
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
    kind = MODELS.get(config.model.kind)
    module = kind.from_config(
        config, tuple(state["event_shape"]), num_classes=state.get("num_classes")
    )
    try:
        module.load_state_dict(state["state_dict"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise CheckpointError(f"{path} does not match its config: {detail}") from None
    return module.to(device), state
