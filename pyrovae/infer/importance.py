"""The importance-sampled bound on log p(x): the "test log-likelihood" of the VAE literature.

With the guide as proposal, z_k ~ q(z|x) independently for k = 1..K,

    L_K(x) = log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x).

Because the average of the weights is an unbiased estimate of p(x), Jensen's inequality gives
E[L_K(x)] ≤ log p(x); E[L_K] rises with K (Burda et al., 2016, theorem 1), L_1 is the ELBO, and
L_K → log p(x) as K → ∞ when q covers the posterior. If q(z|x) is the exact posterior, every
weight equals p(x) and L_K = log p(x) for any K. Papers report the mean of L_5000 over the test
set as the test log-likelihood.

The weights are derived from the traces of the model and guide
(:func:`pyrovae.infer.traces.log_weights`), so every model kind, a user's own model and any
registered prior, likelihood and guide works; enumerated sites (M2's label) are summed out
exactly inside each weight. The sums over K run in chunks
(:func:`~pyrovae.infer.logmeanexp.log_mean_exp`) so memory stays bounded for any K.

The draws are indexed by example and by sample (:class:`~pyrovae.noise.IndexedNoise`): z_k of
example n is a function of the evaluation's key, n's global index and k alone, so the bound is
the same however the images and samples are chunked and on any number of data-parallel ranks
(up to float rounding).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from ..noise import IndexedNoise, evaluation_key
from ..progress import format_duration, progress_bar
from ..registry import plural
from . import traces
from .arguments import estimator
from .elbo import summarize
from .logmeanexp import DEFAULT_MAX_ROWS, chunk_sizes, log_mean_exp

if TYPE_CHECKING:
    from ..distributed import World

__all__ = ["evaluate_log_likelihood", "importance_bound"]


@estimator("pyrovae.importance_bound")
@torch.no_grad()
def importance_bound(model: Any, x: torch.Tensor, num_samples: int,
                     max_rows: int = DEFAULT_MAX_ROWS, sample_chunk: int | None = None,
                     image_chunk: int | None = None, world: World | None = None,
                     y: torch.Tensor | None = None, seed: int | None = None) -> torch.Tensor:
    """L_K(x_n) for every example (float64, shape ``(N,)``), nats.

    :param model: a model kind (e.g. :class:`~pyrovae.models.VAE` or ``M2``).
    :param x: examples ``(N,) + event_shape``.
    :param int num_samples: K (e.g. 5000).
    :param int max_rows: decoder rows per call (default 8192; a model with enumerated sites
        decodes one row per value, M2 one per class, and gets proportionally fewer samples).
    :param int sample_chunk: samples per decoder call (default from ``max_rows``).
    :param int image_chunk: images per chunk (default from ``max_rows``).
    :param world: data-parallel ranks (:class:`~pyrovae.distributed.World`): each bounds its
        shard of the images and every rank gets all ``N`` bounds.
    :param y: the condition of each example for a conditional model (``model.given(labels)``),
        so the bound is on log p(x|y); ``None`` otherwise.
    :param int seed: keys the draws (:func:`~pyrovae.noise.evaluation_key`; default the seed
        torch's global generator was last seeded with, e.g. by ``pyro.set_rng_seed``).
    """
    return _bounds(model, x, num_samples, max_rows, sample_chunk, image_chunk, world, y,
                   seed=seed)


#: seconds of work timed before the announcement of :func:`evaluate_log_likelihood` (whole
#: image chunks, at least one)
PROBE_SECONDS = 0.5


def _synchronize(t):
    """Wait for the device work behind ``t`` (CUDA, MPS); nothing on the CPU."""
    if t.device.type == "cuda":
        torch.cuda.synchronize(t.device)
    elif t.device.type == "mps":
        torch.mps.synchronize()


@torch.no_grad()
def _bounds(model, x, num_samples, max_rows, sample_chunk, image_chunk, world, y, progress=False,
            log=None, seed=None):
    """:func:`importance_bound`, one image chunk at a time, with a progress bar over the
    examples (of this rank; rank 0's only) and, with ``log``, an announcement with the time
    estimated from the first chunks. The draws are indexed by example and sample, so no
    chunking changes a number (beyond float rounding)."""
    n = x.shape[0]
    rows = max_rows
    if n:
        traces.check_programs(model, x[:2], None if y is None else y[:2])
        rows = max(1, max_rows // traces.enumeration_size(model, x, y))
    main = world is None or world.is_main
    first = 0  # the global index of this rank's first example
    if world is not None:
        first = world.bounds(n)[0]
        x, y = world.shard(x), None if y is None else world.shard(y)
    auto_samples, auto_images = chunk_sizes(num_samples, x.shape[0], rows)
    sample_chunk, image_chunk = sample_chunk or auto_samples, image_chunk or auto_images
    key, plate = evaluation_key(seed), traces.data_plate(model)

    def bound(start):
        stop = start + image_chunk
        images = [first + start]  # the global index of the next image chunk's first example

        def sampler(xb, yb):
            offset, drawn = images[0], [0]
            images[0] += xb.shape[0]

            def draw(k):  # the samples drawn..drawn + k of every example of the chunk
                with IndexedNoise(key, offset, drawn[0], plate=plate,
                                  samples=traces.SAMPLE_PLATE):
                    log_w = traces.log_weights(model, xb, yb, k)
                drawn[0] += k
                return log_w

            return draw

        return log_mean_exp(sampler, x[start:stop], num_samples, rows, sample_chunk,
                            image_chunk, y=None if y is None else y[start:stop])

    starts = iter(range(0, x.shape[0], image_chunk))
    pieces, done = [], 0
    if log is not None and main:
        begin = time.perf_counter()
        for start in starts:  # whole chunks until PROBE_SECONDS of work are timed
            pieces.append(bound(start))
            _synchronize(pieces[-1])
            done += pieces[-1].shape[0]
            if time.perf_counter() - begin >= PROBE_SECONDS:
                break
        seconds = (time.perf_counter() - begin) * x.shape[0] / max(done, 1)
        ranks = f" on {world.size} ranks" if world is not None and world.size > 1 else ""
        duration = format_duration(seconds)
        log(f"importance-sampled bound on {plural(n, 'example')} with K = {num_samples} "
            f"sample{'s' * (num_samples != 1)} each"
            f"{ranks}: {'' if duration.startswith('under') else 'about '}{duration}")
    with progress_bar(x.shape[0], desc="importance-sampled bound", unit="example",
                      enabled=progress if main else False, initial=done) as bar:
        for start in starts:
            pieces.append(bound(start))
            bar.update(pieces[-1].shape[0])
    bounds = torch.cat(pieces) if pieces else log_mean_exp(None, x, num_samples)  # no examples
    return bounds if world is None else world.gather(bounds, n)


@estimator("pyrovae.evaluate_log_likelihood")
def evaluate_log_likelihood(model: Any, x: torch.Tensor, num_samples: int = 5000,
                            max_rows: int = DEFAULT_MAX_ROWS, world: World | None = None,
                            y: torch.Tensor | None = None, progress: bool | None = None,
                            log: Callable[[str], object] | None = None,
                            seed: int | None = None) -> dict[str, float]:
    """The test log-likelihood: mean of L_K over ``x`` with its standard error over examples.

    :param progress: a progress bar over the examples on stderr, with the time left
        (:func:`pyrovae.progress.progress_bar`): ``True``, ``False``, or ``None`` (the
        default) for one when stderr is a terminal. Only rank 0 of a ``world`` shows it.
    :param log: ``log(line)`` to announce the work before it runs, with its duration
        estimated from the first image chunks (whose results are kept), e.g. ``print``;
        ``None`` (the default) announces nothing. Only rank 0 of a ``world`` calls it. Neither
        option changes a number.
    :param int seed: keys the draws (default: the seed torch's global generator was last
        seeded with; see :func:`importance_bound`).
    :returns: ``{"log_likelihood", "log_likelihood_stderr", "iwae_k", "num_examples"}``; the
        standard error is the spread over examples / √N (it includes the sampling noise of L_K).
    """
    mean, stderr = summarize(_bounds(model, x, num_samples, max_rows, None, None, world, y,
                                     progress, log, seed))
    return {"log_likelihood": mean, "log_likelihood_stderr": stderr, "iwae_k": int(num_samples),
            "num_examples": int(x.shape[0])}
