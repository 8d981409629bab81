"""Data checks shared by the likelihoods for grey levels."""

import warnings

__all__ = ["warn_if_binary"]


def warn_if_binary(likelihood, x, where):
    """Warn when a likelihood for grey levels is given only 0s and 1s.

    The default config binarizes the data (``data.binarize = "dynamic"``), which suits the
    Bernoulli likelihood; a continuous or 256-level likelihood then models coin flips instead of
    the grey levels, which is rarely what was meant.
    """
    if x.numel() and ((x == 0) | (x == 1)).all():
        warnings.warn(
            f"{where} holds only 0s and 1s: the '{likelihood.registry_name}' likelihood models "
            "grey levels; if the data were binarized by the config (data.binarize is 'dynamic' "
            "by default), set data.binarize = \"none\"",
            stacklevel=3,
        )
