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

A run's files are checked as a whole when they are read. :func:`read_checkpoint` validates the
fields every reader uses (the config a dict of tables, ``event_shape`` a list of positive
integers, ``epoch`` a whole number, the weights tensors with finite values);
:func:`check_config` compares the run's config.toml with the config the checkpoint was written
with, key by key, in every setting that changes a number (the data set, its split,
binarization and labels, the model, the objective, the optimizer, the seed, ...), so that an
edited config.toml is refused rather than silently evaluated on another split or model: a reader
ignores only :data:`READABLE` (where and how far a run computes), a resume its own shorter list.
:func:`check_best` holds ``best.pt`` against ``checkpoint.pt``, and :func:`check_training`
validates the training state a resume restores, field by field. Each refusal is one
:class:`~pyrovae.errors.CheckpointError` line naming the file and the field.
"""

import io
import math
import pickle
import random
from pathlib import Path

import numpy as np
import torch

from ._version import __version__
from .config import config_from_dict, config_to_dict
from .errors import CheckpointError, PyroVAEError
from .files import atomic_write, os_error
from .models.base import build_model
from .runfiles import BEST, CHECKPOINT, CONFIG

__all__ = [
    "FORMAT",
    "READABLE",
    "REQUIRED",
    "VERSION",
    "canonical_config",
    "check_best",
    "check_config",
    "check_training",
    "config_differences",
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
#: config keys (and tables) a reader of a run (evaluate, sample, compare, ``load_run``) lets
#: config.toml differ from its checkpoint in: where the run computes and finds its data, how
#: far it trains, what it reports to, the modules it imports; none changes a number a reader
#: computes from the weights. Every other key must be the checkpoint's.
READABLE = ("output.dir", "output.tensorboard", "data.dir", "train.epochs", "train.device",
            "train.num_threads", "train.callbacks", "train.eval_batch_size", "plugins")


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
    code (which pyrovae never executes), a corrupt file, a file that is not a pyrovae
    checkpoint or lacks one of :data:`REQUIRED`, and one whose fields are not what pyrovae
    writes (:func:`check_fields`: a config that is not a dict of tables, an ``event_shape``
    that is not a list of positive integers, an epoch that is not a whole number, weights that
    are not tensors or not finite).
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
    check_fields(path, state)
    return state


def _whole(value):
    """Whether ``value`` is a Python integer (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _bad(path, field, what, value=None, fix="retrain the run, or restore the file"):
    shown = "" if value is None else f", got {_short(value)}"
    return CheckpointError(f"{path} is damaged: {field} must be {what}{shown}; it was edited "
                           f"or not written by pyrovae train; {fix}")


def _short(value):
    """A value for an error message: its repr, cut to 40 characters (a tensor by its type)."""
    if torch.is_tensor(value):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    text = " ".join(repr(value).split())
    return text if len(text) <= 40 else text[:37] + "..."


def check_fields(path, state):
    """Refuse, in one line naming the field, a checkpoint whose reader-facing fields are not
    what :func:`save_checkpoint` writes (see :func:`read_checkpoint`)."""
    config = state["config"]
    if not isinstance(config, dict) or not all(isinstance(t, dict) for t in config.values()):
        raise _bad(path, "config", "a dict of config tables", config)
    shape = state["event_shape"]
    if not isinstance(shape, (list, tuple)) or not shape \
            or not all(_whole(d) and d > 0 for d in shape):
        raise _bad(path, "event_shape", "a list of positive integers", shape)
    classes = state.get("num_classes")
    if classes is not None and not (_whole(classes) and classes > 0):
        raise _bad(path, "num_classes", "a positive integer or None", classes)
    epoch = state["epoch"]
    if not (_whole(epoch) and epoch >= 0):
        raise _bad(path, "epoch", "a whole number ≥ 0", epoch)
    weights = state["state_dict"]
    if not isinstance(weights, dict) or not weights:
        raise _bad(path, "state_dict", "a dict of the weights' tensors", weights)
    for name, value in weights.items():
        if not torch.is_tensor(value):
            raise _bad(path, f"state_dict[{name!r}]", "a tensor", value)
        if value.is_floating_point() or value.is_complex():
            if not bool(torch.isfinite(value).all()):
                bad = int((~torch.isfinite(value)).sum())
                raise CheckpointError(
                    f"{path} is damaged: the weights state_dict[{name!r}] hold {bad} NaN or "
                    "infinite values; pyrovae never saves such weights (training stops first); "
                    "retrain the run, or restore the file"
                )


def config_differences(saved, current, allowed=()):
    """The dotted keys (``data.split_seed``, ``model.encoder.hidden``) in which two config dicts
    differ, sorted; tables are compared key by key, and a key in ``allowed`` (or under a table
    there, e.g. ``"plugins"``) is left out. ``saved`` is read as this version of pyrovae reads
    it (:func:`canonical_config`); a key it lacks (added to pyrovae since) is fine at its
    default value, which a config.toml of that run reads back as."""
    saved = canonical_config(saved)
    if not isinstance(current, dict):
        current = config_to_dict(current)
    found = []

    def walk(a, b, prefix):
        for key in a:
            name = f"{prefix}{key}"
            if any(name == k or name.startswith(k + ".") for k in allowed):
                continue
            if isinstance(a[key], dict) and isinstance(b.get(key), dict):
                walk(a[key], b[key], name + ".")
            elif key not in b or a[key] != b[key]:
                found.append(name)

    walk(saved, current, "")
    return sorted(found)


def check_config(run_dir, config, state, path=None, allowed=READABLE, fix=None):
    """Refuse, in one line naming the keys, a run whose config (as read from its config.toml)
    differs from the config its checkpoint ``state`` was written with in a key not in
    ``allowed`` (default :data:`READABLE`: what a reader may see changed).

    :param path: the checkpoint file (for the message; default the run's ``checkpoint.pt``).
    :param str fix: the end of the message: how to put it right.
    """
    changed = config_differences(state["config"], config, allowed)
    if changed:
        path = Path(path) if path is not None else Path(run_dir) / CHECKPOINT
        fix = fix or ("its weights were trained with the checkpoint's values, so reading "
                      "them with these would compute on other data or another model: restore "
                      "those keys in config.toml, or train a new run")
        raise CheckpointError(
            f"{Path(run_dir) / CONFIG} differs from {path.name} in {', '.join(changed)}; {fix}"
        )


def check_best(run_dir, best, last):
    """Refuse a ``best.pt`` (the dict ``best``) that does not belong with the run's
    ``checkpoint.pt`` (``last``): written with another config, or from an epoch after the
    last checkpoint's, or not the best epoch the last checkpoint's training state records."""
    run_dir = Path(run_dir)
    changed = config_differences(best["config"], canonical_config(last["config"]), READABLE)
    if changed:
        raise CheckpointError(
            f"{run_dir / BEST} was written with another config than {CHECKPOINT} (they differ in "
            f"{', '.join(changed)}): it is not this run's best epoch; restore the run's own "
            f"{BEST}, or delete it to read the last epoch"
        )
    recorded = None
    training = last.get("training")
    trainer = training.get("trainer") if isinstance(training, dict) else None
    if isinstance(trainer, dict) and _whole(trainer.get("best_epoch")):
        recorded = trainer["best_epoch"]
    if best["epoch"] > last["epoch"] or (recorded is not None and best["epoch"] != recorded):
        said = f"; {CHECKPOINT} records epoch {recorded} as the best" if recorded else ""
        raise CheckpointError(
            f"{run_dir / BEST} is from epoch {best['epoch']} but {CHECKPOINT} from epoch "
            f"{last['epoch']}{said}: they are not of one run (or training stopped between the "
            f"two writes); resume the run to rewrite both, or delete {BEST} to read the last "
            "epoch"
        )


def _generator_state(path, field, value):
    """Refuse a torch generator state that a CPU generator cannot take."""
    if not (torch.is_tensor(value) and value.dtype == torch.uint8 and value.dim() == 1):
        raise _bad(path, field, "a torch generator state (a uint8 tensor)", value)
    if value.numel() == _CPU_STATE_SIZE:
        try:
            torch.Generator().set_state(value.clone())
        except Exception:
            raise _bad(path, field, "a torch generator state", value) from None
    elif value.numel() != 16:  # the Philox state of a CUDA or MPS generator: seed, offset
        raise _bad(path, field, "a torch generator state", value)


_CPU_STATE_SIZE = torch.Generator().get_state().numel()


def _batches_state(path, field, value, semi_supervised):
    """Refuse a batcher state of the wrong kind or structure (:meth:`Batcher.state_dict`, or
    :meth:`SemiSupervisedBatcher.state_dict`, as the run's ``data.labels`` says)."""
    if not isinstance(value, dict):
        raise _bad(path, field, "a dict (the batches' generator states)", value)
    if semi_supervised:
        kind = "the labelled and unlabelled streams' states (data.labels > 0)"
        if "labelled" not in value or set(value) - {"labelled", "unlabelled"}:
            raise _bad(path, field, f"a dict of {kind}", sorted(value))
        for stream, inner in value.items():
            if not isinstance(inner, dict) or set(inner) != {"generator"}:
                raise _bad(path, f"{field}[{stream!r}]", "a dict of one generator state", inner)
            _generator_state(path, f"{field}[{stream!r}]['generator']", inner["generator"])
    else:
        if set(value) != {"generator"}:
            raise _bad(path, field, "a dict of one generator state (data.labels = 0)",
                       sorted(value))
        _generator_state(path, f"{field}['generator']", value["generator"])


def _rng_state(path, value):
    """Refuse a global random state that :func:`pyrovae.rng.set_state` cannot restore, part by
    part (each tried on a fresh generator: the process's own are not touched)."""
    field = "training.rng"
    if not isinstance(value, dict) or set(value) != {"torch", "cuda", "random", "numpy"}:
        raise _bad(path, field, "a dict of the torch, cuda, random and numpy states",
                   sorted(value) if isinstance(value, dict) else value)
    _generator_state(path, f"{field}['torch']", value["torch"])
    cuda = value["cuda"]
    if not isinstance(cuda, (list, tuple)) or not all(
            torch.is_tensor(t) and t.dtype == torch.uint8 for t in cuda):
        raise _bad(path, f"{field}['cuda']", "a list of CUDA generator states", cuda)
    try:
        version, internal, gauss = value["random"]
        random.Random().setstate((version, tuple(internal), gauss))
    except Exception:
        raise _bad(path, f"{field}['random']", "Python's random state", value["random"]) \
            from None
    n = value["numpy"]
    try:
        np.random.RandomState().set_state((n["name"], n["keys"].numpy().astype(np.uint32),
                                           n["pos"], n["has_gauss"], n["cached"]))
    except Exception:
        raise _bad(path, f"{field}['numpy']", "NumPy's random state", n) from None


def check_training(path, state):
    """Refuse, in one line naming the field, a checkpoint whose training state (what ``train
    --resume`` restores) is not what pyrovae writes: the trainer's epoch, step count, best
    epoch, time and records, its optimizer and scheduler states, the batches' and the global
    random states. Only the structure is read; nothing is restored."""
    path = Path(path)
    training = state.get("training")
    if not isinstance(training, dict) or set(training) != {"trainer", "batches", "rng"}:
        raise _bad(path, "training", "a dict of the trainer, batches and rng states",
                   sorted(training) if isinstance(training, dict) else training)
    trainer = training["trainer"]
    if not isinstance(trainer, dict):
        raise _bad(path, "training.trainer", "a dict (Trainer.state_dict)", trainer)
    for key in ("epoch", "global_step", "optimizer", "scheduler", "best_elbo", "best_epoch",
                "seconds", "stop_reason", "divergence_level"):
        if key not in trainer:
            raise CheckpointError(f"{path} is damaged: training.trainer has no {key!r} (the "
                                  f"{'optimizer state' if key == 'optimizer' else key}); it was "
                                  "edited or not written by pyrovae train; retrain the run, or "
                                  "restore the file")
    epoch = trainer["epoch"]
    if not (_whole(epoch) and epoch == state["epoch"]):
        raise _bad(path, "training.trainer.epoch", f"the checkpoint's epoch {state['epoch']}",
                   epoch)
    step = trainer["global_step"]
    if not (_whole(step) and step >= epoch):
        raise _bad(path, "training.trainer.global_step",
                   f"a whole number ≥ the epoch {epoch} (one step or more per epoch)", step)
    best = trainer["best_epoch"]
    if not (_whole(best) and 0 <= best <= epoch):
        raise _bad(path, "training.trainer.best_epoch", f"a whole number in [0, {epoch}]", best)
    elbo = trainer["best_elbo"]
    if isinstance(elbo, bool) or not isinstance(elbo, (int, float)) or math.isnan(elbo) \
            or elbo == math.inf:
        raise _bad(path, "training.trainer.best_elbo", "a number (−inf before any validation)",
                   elbo)
    seconds = trainer["seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
            or not math.isfinite(seconds) or seconds < 0:
        raise _bad(path, "training.trainer.seconds", "a finite number ≥ 0", seconds)
    if trainer["stop_reason"] is not None and not isinstance(trainer["stop_reason"], str):
        raise _bad(path, "training.trainer.stop_reason", "a string or None",
                   trainer["stop_reason"])
    level = trainer["divergence_level"]
    if level is not None and not (torch.is_tensor(level) and level.numel() == 1) \
            and (isinstance(level, bool) or not isinstance(level, (int, float))):
        raise _bad(path, "training.trainer.divergence_level", "a number or None", level)
    optimizer = trainer["optimizer"]
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("state"), dict) \
            or not isinstance(optimizer.get("param_groups"), list) \
            or not optimizer["param_groups"] \
            or not all(isinstance(g, dict) and isinstance(g.get("params"), list)
                       for g in optimizer["param_groups"]):
        raise _bad(path, "training.trainer.optimizer",
                   "an optimizer state (a dict of 'state' and 'param_groups')",
                   sorted(optimizer) if isinstance(optimizer, dict) else optimizer)
    ids = [i for g in optimizer["param_groups"] for i in g["params"]]
    if not all(_whole(i) for i in ids) or len(set(ids)) != len(ids) \
            or not set(optimizer["state"]) <= set(ids):
        raise _bad(path, "training.trainer.optimizer", "an optimizer state whose entries "
                   "belong to its parameter groups")
    if not isinstance(trainer["scheduler"], dict):
        raise _bad(path, "training.trainer.scheduler", "a dict (the schedule's state)",
                   trainer["scheduler"])
    data = state["config"].get("data", {})
    labels = data.get("labels", 0)
    _batches_state(path, "training.batches", training["batches"],
                   _whole(labels) and labels > 0)
    _rng_state(path, training["rng"])


def load_checkpoint(run_dir, config, device="cpu", name=None):
    """Rebuild the module of a run from its config and load its weights.

    Refuses a checkpoint that is missing, corrupt, not a pyrovae checkpoint or damaged
    (:func:`read_checkpoint`), written with a config that differs from ``config`` in a key
    that changes a number (:func:`check_config`; everything but :data:`READABLE`), or whose
    weights do not fit the model ``config`` builds.

    :param str name: the file (default ``checkpoint.pt``; ``best.pt`` for the best epoch).
    :returns: ``(module, checkpoint_dict)``.
    """
    path = Path(run_dir) / (name or CHECKPOINT)
    state = read_checkpoint(path)
    check_config(run_dir, config, state, path)
    module = build_model(config, tuple(state["event_shape"]), state.get("num_classes"))
    try:
        module.load_state_dict(state["state_dict"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise CheckpointError(f"{path} does not match its config: {detail}") from None
    return module.to(device), state
