"""Load the data set a :class:`~pyrovae.config.Config` describes.

The ``[data]`` section says which data set, where, how to split it and how many labels to keep;
``data.binarize = "auto"`` (the default) is resolved here against the model's likelihood:
a likelihood that is a density on {0, 1} only (``bernoulli``) gets a dynamic binarization of
grey levels, so that its ELBO is a bound on log p(x); every other likelihood, and the M2
classifier (which, as in Kingma et al. and Pyro's SS-VAE, reads grey levels), gets the grey
levels as they are.
"""

from .load import load_dataset

__all__ = ["binarize_mode", "load_data"]


def binarize_mode(config):
    """``config.data.binarize``, with ``"auto"`` resolved: ``"dynamic"`` when the model's
    likelihood is binary (:attr:`~pyrovae.likelihoods.Likelihood.binary`) and the model kind
    wants binarized data (:attr:`~pyrovae.models.base.LatentVariableModel.auto_binarize`;
    M2 classifies grey levels), else ``"none"``."""
    mode = config.data.binarize
    if mode != "auto":
        return mode
    from ..likelihoods import LIKELIHOODS
    from ..models.base import MODELS

    if not MODELS.get(config.model.kind).auto_binarize:
        return "none"

    likelihood = config.model.options.get("likelihood")
    name = getattr(likelihood, "name", likelihood)
    binary = isinstance(name, str) and getattr(LIKELIHOODS.get(name), "binary", False)
    return "dynamic" if binary else "none"


def load_data(config, device="cpu"):
    """The :class:`~pyrovae.data.DataSet` a config names, on ``device``; with
    ``data.features_from`` the codes of that VAE run instead of the images
    (:mod:`pyrovae.data.features`), after checking its checkpoint against
    ``data.features_checksum`` (filled in here when empty, so the run's config records it)."""
    from ..errors import ConfigError

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
    if d.features_from:
        from .features import check_checksum, encode_dataset

        d.features_checksum = check_checksum(d.features_from, d.features_checksum) or ""
        return encode_dataset(dataset, d.features_from, device, draw=d.features_draw,
                              units=d.features_units)
    return dataset.to(device)
