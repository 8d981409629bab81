"""The checks of the estimators' arguments (:func:`~pyrovae.infer.elbo.evaluate_elbo`,
:func:`~pyrovae.infer.elbo.elbo_terms`,
:func:`~pyrovae.infer.importance.evaluate_log_likelihood`,
:func:`~pyrovae.infer.importance.importance_bound`,
:func:`~pyrovae.infer.naive.naive_estimate`), applied where each is defined: one typed line in
the package's name (``pyrovae.importance_bound: num_samples must be a positive int, got -3``)
however it is called.

The check reads the examples once (finite, in the likelihood's support), so it runs only on the
outermost call (:func:`pyrovae.checks.arguments` with ``outermost``): ``VAE.evaluate``, which
checked them, calls :func:`~pyrovae.infer.elbo.evaluate_elbo` unchecked, and so does the
trainer's validation at every epoch (:func:`pyrovae.checks.unchecked`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from .. import checks
from ..memory import require

__all__ = ["estimator"]

_F = TypeVar("_F", bound=Callable[..., Any])

#: the sizes an estimator may take, each a positive int (or ``None``: its default)
SIZES = ("batch_size", "max_rows", "sample_chunk", "image_chunk")
#: how an estimator may compute each KL (:func:`pyrovae.infer.traces.elbo_terms`)
KL_METHODS = ("auto", "analytic", "monte-carlo")


def estimator(where: str) -> Callable[[_F], _F]:
    """The decorator of an estimator named ``where`` (``"pyrovae.evaluate_elbo"``): ``x`` a
    tensor of the model's example shape, dtype and device (no examples allowed), finite and in
    the likelihood's support; ``y`` labels of the model's classes, one per example; the sizes
    positive ints; ``kl`` one of :data:`KL_METHODS`; ``num_samples`` a positive int whose
    log-weights fit in memory."""
    def check(arguments: dict[str, Any]) -> None:
        model, y = arguments["model"], arguments.get("y")
        param = next(model.parameters(), None) if isinstance(model, nn.Module) else None
        # no examples is allowed: the estimators answer it (the shard of a data-parallel rank)
        x = checks.tensor(arguments["x"], "x", where,
                          event_shape=getattr(model, "event_shape", None),
                          dtype=None if param is None else param.dtype,
                          device=None if param is None else param.device, empty=True)
        if y is not None:
            checks.labels(y, "y", where, n=x.shape[0],
                          num_classes=getattr(model, "num_classes", None), device=x.device)
        checks.support(model, x, where)  # values outside the likelihood's support
        for name in SIZES:
            if arguments.get(name) is not None:
                checks.integer(arguments[name], name, where, minimum=1)
        if "kl" in arguments:
            checks.choice(arguments["kl"], "kl", KL_METHODS, where)
        k = checks.integer(arguments["num_samples"], "num_samples", where, minimum=1)
        # at least one float64 log-weight per draw and example in a chunk
        require(k * 8 * min(x.shape[0], 1000), f"{where}: num_samples = {k}",
                "lower num_samples")

    return checks.arguments(check, where, outermost=True)
