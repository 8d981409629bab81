"""Shared pieces of the benchmark scripts: machine description, the hand-written PyTorch VAE
that pyrovae is measured against, and interleaved timing."""

import os
import platform
import statistics
import time

import pyro
import torch
import torch.nn.functional as F
from torch import nn


def machine():
    """One line describing what the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"torch {torch.__version__}, pyro {pyro.__version__}, "
        f"{torch.get_num_threads()} torch threads, {os.cpu_count()} cores ({cpu})"
    )


class HandVAE(nn.Module):
    """The same MLP VAE as pyrovae's default, written directly in PyTorch: the baseline.

    loss = −Σ_n [log p(x_n|z_n) + log p(z_n) − log q(z_n|x_n)]   (``mc_kl=True``, Trace_ELBO)
    loss = −Σ_n [log p(x_n|z_n) − KL(q || N(0, I))]              (``mc_kl=False``, meanfield)
    with a Bernoulli likelihood on logits and z = μ + σ ε, σ = softplus(·) + 1e-4.
    """

    def __init__(self, x_dim=784, hidden=400, z_dim=50, mc_kl=True):
        super().__init__()
        self.z_dim, self.mc_kl = z_dim, mc_kl
        self.enc = nn.Sequential(nn.Linear(x_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * z_dim))
        self.dec = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, x_dim))

    def loss(self, x):
        x = x.reshape(x.shape[0], -1)
        loc, raw = self.enc(x).split(self.z_dim, -1)
        scale = F.softplus(raw) + 1e-4
        eps = torch.randn_like(loc)
        z = loc + scale * eps
        rec = -F.binary_cross_entropy_with_logits(self.dec(z), x, reduction="sum")
        if self.mc_kl:
            log_q = (-0.5 * eps**2 - scale.log()).sum()
            log_p = (-0.5 * z**2).sum()
            kl = log_q - log_p  # the ½ log 2π terms cancel
        else:
            kl = 0.5 * (loc**2 + scale**2 - 1 - 2 * scale.log()).sum()
        return -(rec - kl)


def hand_step(model, optimizer):
    def step(x):
        loss = model.loss(x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def time_steps(step, batches):
    """Seconds to run ``step`` on every batch (synchronizing at the end only)."""
    start = time.perf_counter()
    for x in batches:
        last = step(x)
    last.item()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def interleaved(runs, repeats):
    """Run the callables of ``runs`` (name -> callable returning seconds) in turn, ``repeats``
    times (A, B, C, A, B, C, ...); return name -> list of times."""
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            times[name].append(run())
    return times


def median_ratio(times, a, b):
    """Median over repeats of the per-repeat ratio times[a] / times[b]."""
    return statistics.median(ta / tb for ta, tb in zip(times[a], times[b]))
