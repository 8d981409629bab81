"""Gradient noise of a training objective: variance and signal-to-noise ratio over draws.

For a fixed batch x, each call of ``objective.differentiable_loss(model, guide, x)`` draws fresh
z and gives a stochastic gradient g = ∇_θ (loss / B). Over D independent draws g_1..g_D of the
gradient of a parameter group with P coordinates, this module reports

* ``variance`` = (1/P) Σ_i Var(g_i) = tr Cov(g) / P, the mean per-coordinate variance (unbiased,
  ddof = 1);
* ``snr`` = ‖E g‖ / √(tr Cov g), the signal-to-noise ratio of the whole group (Rainforth et al.,
  2018 use the per-coordinate ``|E g_i| / σ_i``; the group version stays defined for coordinates
  whose gradient is always zero);
* ``mean_norm`` = ‖E g‖.

Comparing ``trace`` (Monte Carlo KL) with ``meanfield`` (closed-form KL) shows what the analytic
KL buys: both have the same expected gradient (tested against the closed form of a
linear-Gaussian VAE); the analytic one usually has less variance for the encoder. The decoder's
gradient does not involve the KL, so with the same seed it is the same for both.
"""

import math

import pyro
import torch

from ..params import OwnParameters
from .traces import parameter_groups

__all__ = ["gradient_draws", "gradient_noise", "noise_statistics"]


def _loss(model, objective, x, y):
    if hasattr(model, "loss"):
        return model.loss(objective, x, y)
    args = (x,) if y is None else (x, y)
    return objective.differentiable_loss(model.model, model.guide, *args)


def gradient_draws(model, objective, x, draws, groups=None, y=None):
    """D independent gradients of ``objective``'s loss per example on the batch ``x``, for the
    ELBO itself (β = 1, whatever β the run trained with).

    :param model: a model kind, whose :meth:`~pyrovae.models.base.LatentVariableModel.loss`
        is differentiated, or any module with Pyro programs ``model``/``guide`` (the
        objective's ``differentiable_loss`` of the two); the groups are its top-level modules
        (:func:`pyrovae.infer.traces.parameter_groups`) unless ``groups`` are given.
    :returns: ``{group: tensor (draws, P)}``, float64.
    """
    if groups is None:
        groups = parameter_groups(model)
    params = [p for group in groups.values() for p in group]
    if not params:  # nothing to differentiate (a model without trainable parameters)
        return {}
    out = {name: [] for name in groups}
    for _ in range(draws):
        with OwnParameters():
            loss = _loss(model, objective, x, y) / x.shape[0]
        grads = iter(torch.autograd.grad(loss, params, allow_unused=True))
        for name, group in groups.items():
            flat = [torch.zeros_like(p) if g is None else g for p, g in zip(group, grads)]
            out[name].append(torch.cat([g.reshape(-1) for g in flat]).double())
    return {name: torch.stack(rows) for name, rows in out.items()}


def noise_statistics(samples):
    """``{"variance", "snr", "mean_norm"}`` of gradient draws ``(D, P)`` (see module docs)."""
    mean = samples.mean(0)
    total_variance = samples.var(0, unbiased=True).sum()
    norm = mean.norm()
    snr = (norm / total_variance.sqrt()).item() if total_variance > 0 else math.inf
    return {"variance": (total_variance / samples.shape[1]).item(), "snr": snr,
            "mean_norm": norm.item()}


def gradient_noise(model, objective, x, draws=20, seed=0, y=None):
    """Noise statistics of ``objective``'s gradient per parameter group on the batch ``x``.

    :param int draws: independent gradient draws D (default 20; needs ≥ 2).
    :param int seed: Pyro RNG seed for the draws (default 0).
    :returns: ``{group: {"variance", "snr", "mean_norm"}}``.
    """
    if draws < 2:
        raise ValueError(f"draws must be at least 2 to estimate a variance, got {draws}")
    pyro.set_rng_seed(seed)
    samples = gradient_draws(model, objective, x, draws, y=y)
    return {name: noise_statistics(s) for name, s in samples.items()}
