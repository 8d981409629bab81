"""Per-example ELBO estimates for evaluation, with the KL analytic where it can be.

ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) || p(z)), in nats. The reconstruction term is a Monte
Carlo average over ``num_samples`` draws of z; the KL is the closed form when
``torch.distributions.kl_divergence`` has one registered for (q, p), else the Monte Carlo
estimate E_q[log q(z|x) − log p(z)] from the same draws.
"""

import math

import torch
from torch.distributions import kl_divergence

__all__ = ["NoClosedForm", "analytic_kl", "elbo_terms", "evaluate_elbo", "kl_term",
           "no_closed_form", "summarize"]


class NoClosedForm(ValueError):
    """An analytic KL was asked for a (guide, prior) pair that torch has no closed form for."""


def no_closed_form(q, p):
    return NoClosedForm(f"no closed-form KL between {type(q).__name__} and {type(p).__name__}")


def analytic_kl(q, p):
    """KL(q || p) per example in closed form, or ``None`` when none is registered."""
    try:
        return kl_divergence(q, p)
    except NotImplementedError:
        return None


def kl_term(q, p, z, kl="auto"):
    """KL(q || p) per example and how it was computed: the closed form where torch has one
    and ``kl`` allows it (``"auto"``, ``"analytic"``), else the Monte Carlo mean of
    log q(z) − log p(z) over the draws ``z`` (leading sample dimension). ``kl="analytic"``
    without a closed form raises :class:`NoClosedForm`.

    :returns: ``(kl, "analytic" | "monte-carlo")``.
    """
    value = analytic_kl(q, p) if kl in ("auto", "analytic") else None
    if value is not None:
        return value, "analytic"
    if kl == "analytic":
        raise no_closed_form(q, p)
    return (q.log_prob(z) - p.log_prob(z)).mean(0), "monte-carlo"


def elbo_terms(model, x, num_samples=1, kl="auto", y=None):
    """Per-example ELBO terms of ``x`` (batch ``(B,)``) for any model kind: its
    :meth:`~pyrovae.models.base.LatentVariableModel.elbo_terms`.

    :param int num_samples: draws of z per example for the Monte Carlo parts.
    :param str kl: ``"auto"`` (closed form if available), ``"analytic"`` (required) or
        ``"monte-carlo"``.
    :returns: ``({"elbo", "reconstruction", "kl"}: tensors of shape (B,), kl_method)``.
    """
    return model.elbo_terms(x, num_samples=num_samples, kl=kl, y=y)


def summarize(values):
    """Mean and standard error of the mean of a 1-D tensor."""
    n = values.numel()
    mean = values.mean().item()
    stderr = values.std().item() / math.sqrt(n) if n > 1 else float("nan")
    return mean, stderr


@torch.no_grad()
def evaluate_elbo(model, x, batch_size=1000, num_samples=1, kl="auto", world=None, y=None):
    """Mean ELBO, reconstruction and KL over ``x`` in nats per example, with standard errors.

    Returns a dict with ``elbo``, ``reconstruction``, ``kl`` (means), ``*_stderr`` (standard
    errors over examples), ``kl_method`` and ``num_examples``.

    :param world: data-parallel ranks (:class:`~pyrovae.distributed.World`): each evaluates its
        shard of ``x`` and the per-example values are gathered, so every rank returns the same
        summary of all of ``x``.
    :param y: the condition of each example for a conditional model (``model.given(labels)``):
        the ELBO is then a bound on log p(x|y); ``None`` otherwise.
    """
    n = x.shape[0]
    if world is not None:
        x, y = world.shard(x), None if y is None else world.shard(y)
    parts = {"elbo": [], "reconstruction": [], "kl": []}
    method = None
    for start in range(0, x.shape[0], batch_size):
        yb = None if y is None else y[start : start + batch_size]
        terms, method = model.elbo_terms(x[start : start + batch_size], num_samples, kl, y=yb)
        for key, value in terms.items():
            parts[key].append(value)
    if method is None:  # an empty shard: ask for the method on no examples
        terms, method = model.elbo_terms(x[:0], num_samples, kl,
                                         y=None if y is None else y[:0])
        for key, value in terms.items():
            parts[key].append(value)
    result = {}
    for key, chunks in parts.items():
        values = torch.cat(chunks).double()
        if world is not None:
            values = world.gather(values, n)
        result[key], result[f"{key}_stderr"] = summarize(values)
    result["kl_method"] = method
    result["num_examples"] = int(n)
    return result
