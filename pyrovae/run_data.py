"""The data set a :class:`~pyrovae.config.Config` describes.

The ``[data]`` section says which data set, where, how to split it and how many labels to keep;
``data.binarize = "auto"`` (the default) is resolved here against the model's likelihood:
a likelihood that is a density on {0, 1} only (``bernoulli``) gets a dynamic binarization of
grey levels, so that its ELBO is a bound on log p(x); every other likelihood, and the M2
classifier (which, as in Kingma et al. and Pyro's SS-VAE, reads grey levels), gets the grey
levels as they are.

With ``data.features_from = RUN_DIR`` the examples are the codes of that VAE run
(:mod:`pyrovae.data.features`, Kingma et al.'s M1); ``data.features_checksum`` records which
checkpoint made them (:func:`features_checksum`), and every later load checks it.
"""

import hashlib
from pathlib import Path

from .checkpoint import load_checkpoint
from .data.features import encode_dataset
from .data.load import load_dataset
from .errors import ConfigError, DataError
from .likelihoods import LIKELIHOODS
from .models.base import MODELS
from .runfiles import BEST, CHECKPOINT, load_run_config

__all__ = ["binarize_mode", "checkpoint_digest", "features_checksum", "load_data"]


def binarize_mode(config):
    """``config.data.binarize``, with ``"auto"`` resolved: ``"dynamic"`` when the model's
    likelihood is binary (:attr:`~pyrovae.likelihoods.Likelihood.binary`) and the model kind
    wants binarized data (:attr:`~pyrovae.models.base.LatentVariableModel.auto_binarize`;
    M2 classifies grey levels), else ``"none"``."""
    mode = config.data.binarize
    if mode != "auto":
        return mode
    if not MODELS.get(config.model.kind).auto_binarize:
        return "none"
    likelihood = config.model.options.get("likelihood")
    name = getattr(likelihood, "name", likelihood)
    binary = isinstance(name, str) and getattr(LIKELIHOODS.get(name), "binary", False)
    return "dynamic" if binary else "none"


def checkpoint_digest(run_dir):
    """The SHA-256 (hex) of the checkpoint a run is read from (``best.pt``, else
    ``checkpoint.pt``); ``None`` if it has neither."""
    for name in (BEST, CHECKPOINT):
        path = Path(run_dir) / name
        if path.is_file():
            with open(path, "rb") as f:
                return hashlib.file_digest(f, "sha256").hexdigest()
    return None


def features_checksum(config):
    """The ``data.features_checksum`` a new run on codes records: the digest of the
    ``data.features_from`` run's checkpoint (empty without ``features_from``). The config is
    not changed: the caller writes the value into the run's own config."""
    d = config.data
    if not d.features_from:
        return ""
    _check(d.features_from, d.features_checksum)
    return checkpoint_digest(d.features_from) or ""


def _check(run_dir, expected):
    """A :class:`DataError` if ``expected`` (a recorded digest, or empty) differs from the
    digest of ``run_dir``'s checkpoint."""
    digest = checkpoint_digest(run_dir)
    if expected and digest is not None and digest != expected:
        raise DataError(
            f"data.features_from = {str(run_dir)!r} has changed since this run was trained on "
            f"its codes (checkpoint sha256 {digest[:12]}..., recorded {expected[:12]}...): the "
            "codes would differ; restore that run's checkpoint, or train this run again"
        )


def load_data(config, device="cpu", progress=None):
    """The :class:`~pyrovae.data.DataSet` a config names, on ``device``; with
    ``data.features_from`` the codes of that VAE run instead of the images
    (:mod:`pyrovae.data.features`), after checking its checkpoint against
    ``data.features_checksum`` (when recorded). ``config`` is only read.

    :param progress: the bar of the M1 encoding (``None``: on a terminal; ``False``: never)."""
    d = config.data
    mode = binarize_mode(config)
    for option, default in (("features_draw", "mean"), ("features_units", "all")):
        if getattr(d, option) != default and not d.features_from:
            raise ConfigError(
                f"data.{option} = {getattr(d, option)!r} applies to the codes of a VAE run, but "
                f"data.features_from names none; set data.features_from = RUN_DIR or leave "
                f"{option} at \"{default}\""
            )
    if d.features_from and mode != "none":
        raise ConfigError(
            f"data.binarize = {d.binarize!r} binarizes images, but with data.features_from the "
            "model trains on real-valued codes; set data.binarize = \"none\" (or \"auto\" with "
            "a likelihood on the real line, e.g. gaussian)"
        )
    dataset = load_dataset(
        d.name,
        data_dir=d.dir or None,
        binarize=mode,
        seed=config.train.seed,
        valid_fraction=d.valid_fraction,
        test_fraction=d.test_fraction,
        split_seed=d.split_seed,
        labels=d.labels,
    )
    if not d.features_from:
        return dataset.to(device)
    _check(d.features_from, d.features_checksum)
    m1_config = load_run_config(d.features_from)
    name = BEST if (Path(d.features_from) / BEST).exists() else CHECKPOINT
    m1, _ = load_checkpoint(d.features_from, m1_config, device, name=name)
    m1.eval()
    return encode_dataset(dataset, m1, d.features_from, device, draw=d.features_draw,
                          units=d.features_units, progress=progress)
