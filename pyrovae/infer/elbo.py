"""Per-example ELBO estimates for evaluation, with the KL analytic where it can be.

ELBO(x) = E_q[log p(x|z)] − Σ_sites KL(q ‖ p), in nats. The terms are derived from the traces
of the model and guide (:func:`pyrovae.infer.traces.elbo_terms`), for every model kind and any
user model: the reconstruction term is a Monte Carlo average over ``num_samples`` draws, each
latent site's KL the closed form where torch has one registered and the site qualifies, else
the Monte Carlo estimate E_q[log q − log p] from the same draws; enumerated sites are summed
exactly.

Evaluation draws its noise by example (:class:`~pyrovae.noise.IndexedNoise`): the latents of
example n are a function of the evaluation's key and n's index in the whole of ``x``, so the
result is the same on 1 or N data-parallel ranks and with any batch size, up to float rounding
(a test compares 2 ranks with one process to 1e-5).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch.distributions import kl_divergence

from ..noise import IndexedNoise, evaluation_key
from . import traces
from .arguments import estimator
from .traces import NoClosedForm, summary_method

if TYPE_CHECKING:
    from ..distributed import World

__all__ = ["NoClosedForm", "analytic_kl", "elbo_terms", "evaluate_elbo", "summarize"]


def analytic_kl(q, p):
    """KL(q || p) per example in closed form, or ``None`` when none is registered."""
    try:
        return kl_divergence(q, p)
    except NotImplementedError:
        return None


@estimator("pyrovae.elbo_terms")
def elbo_terms(model: Any, x: torch.Tensor, num_samples: int = 1, kl: str = "auto",
               y: torch.Tensor | None = None) -> tuple[dict[str, torch.Tensor], str]:
    """Per-example ELBO terms of ``x`` (batch ``(B,)``) for any model/guide pair, derived from
    their traces (:func:`pyrovae.infer.traces.elbo_terms`).

    :param int num_samples: draws of the latents per example for the Monte Carlo parts.
    :param str kl: ``"auto"`` (closed form where valid), ``"analytic"`` (required) or
        ``"monte-carlo"``.
    :param y: the examples' conditions, for a conditional model (``model.given(labels)``).
    :returns: ``(terms, kl_method)``: ``terms`` has ``"elbo"``, ``"reconstruction"``, ``"kl"``
        and ``"kl_<site>"`` per latent site (tensors of shape (B,)); ``kl_method`` is
        ``"analytic"``, ``"monte-carlo"`` or ``"mixed"`` (per site:
        :func:`pyrovae.infer.traces.elbo_terms`).
    """
    terms, methods = traces.elbo_terms(model, x, y, num_samples=num_samples, kl=kl)
    return terms, summary_method(methods)


def summarize(values):
    """Mean and standard error of the mean of a 1-D tensor."""
    n = values.numel()
    mean = values.mean().item()
    stderr = values.std().item() / math.sqrt(n) if n > 1 else float("nan")
    return mean, stderr


@estimator("pyrovae.evaluate_elbo")
@torch.no_grad()
def evaluate_elbo(model: Any, x: torch.Tensor, batch_size: int = 1000, num_samples: int = 1,
                  kl: str = "auto", world: World | None = None,
                  y: torch.Tensor | None = None, seed: int | None = None) -> dict[str, Any]:
    """Mean ELBO, reconstruction and KL over ``x`` in nats per example, with standard errors.

    Returns a dict with ``elbo``, ``reconstruction``, ``kl`` (means), ``*_stderr`` (standard
    errors over examples), ``kl_method`` (one word for all sites), ``kl_sites`` (per latent
    site: its mean KL, standard error and method) and ``num_examples``.

    :param world: data-parallel ranks (:class:`~pyrovae.distributed.World`): each evaluates its
        shard of ``x`` and the per-example values are gathered, so every rank returns the same
        summary of all of ``x``.
    :param y: the condition of each example for a conditional model (``model.given(labels)``):
        the ELBO is then a bound on log p(x|y); ``None`` otherwise.
    :param int seed: keys the draws (:func:`~pyrovae.noise.evaluation_key`; default the seed
        torch's global generator was last seeded with, e.g. by ``pyro.set_rng_seed``).
    """
    n = x.shape[0]
    if n:
        traces.check_programs(model, x[:2], None if y is None else y[:2])
    probe = (x[:1], None if y is None else y[:1])  # for an empty shard: the terms' names
    first = 0  # the global index of this rank's first example
    if world is not None:
        first = world.bounds(n)[0]
        x, y = world.shard(x), None if y is None else world.shard(y)
    noise_key = evaluation_key(seed)
    batches = [(i, x[i : i + batch_size], None if y is None else y[i : i + batch_size])
               for i in range(0, x.shape[0], batch_size)]
    parts, methods = {}, None
    for i, xb, yb in batches or [(0, *probe)]:
        with IndexedNoise(noise_key, first + i, samples=traces.SAMPLE_PLATE,
                          plate=traces.data_plate(model)):
            terms, methods = traces.elbo_terms(model, xb, yb, num_samples=num_samples, kl=kl)
        for key, value in terms.items():
            parts.setdefault(key, []).append(value if batches else value[:0])
    result = {}
    for key, chunks in parts.items():
        values = torch.cat(chunks).double()
        if world is not None:
            values = world.gather(values, n)
        result[key], result[f"{key}_stderr"] = summarize(values)
    sites = {}
    for name, method in methods.items():
        sites[name] = {"kl": result.pop(f"kl_{name}"), "kl_stderr": result.pop(f"kl_{name}_stderr"),
                       "method": method}
    result["kl_method"] = summary_method(methods)
    result["kl_sites"] = sites
    result["num_examples"] = int(n)
    return result
