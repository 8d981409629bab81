"""Chunked, memory-bounded log-mean-exp of importance weights, per example.

Every Monte Carlo estimator of log p(x) here has the form

    log p̂(x_n) = log (1/K) Σ_{k=1..K} w_k(x_n),

with log weights that a *sampler* draws in batches. Holding all K·N weights (or the K·N decoder
outputs behind them) is impossible for K = 5 000 on a full test set, so :func:`log_mean_exp`
walks over chunks of images and, inside each, over chunks of samples, and keeps a running
log-sum-exp per example::

    s ← log(exp(s) + Σ_{k in chunk} exp(log w_k)) = logaddexp(s, logsumexp(chunk))

which is exact (up to rounding) whatever the chunking. The decoder sees a whole chunk at once,
shape ``(K_chunk, B_chunk, z_dim)``, so the work is a few large matrix products; the default
chunking puts about ``max_rows`` (samples × images) through the decoder per call, which is what
sets throughput and peak memory (``max_rows`` × decoder output size × a few floats).
"""

import math

import torch

from ..memory import release_free_memory

__all__ = ["DEFAULT_MAX_ROWS", "chunk_sizes", "log_mean_exp"]

#: samples × images per decoder call by default (near the fastest on a shared 2-core CPU for
#: a 784-400-50 MLP, see the README; 8k rows × 784 floats ≈ 25 MB per tensor)
DEFAULT_MAX_ROWS = 8192


def chunk_sizes(num_samples, num_examples, max_rows=DEFAULT_MAX_ROWS):
    """``(sample_chunk, image_chunk)`` with about ``max_rows`` rows per decoder call: as many
    samples per chunk as fit (up to K), then as many images as fit beside them."""
    sample_chunk = max(1, min(num_samples, max_rows))
    image_chunk = max(1, min(num_examples, max_rows // sample_chunk))
    return sample_chunk, image_chunk


@torch.no_grad()
def log_mean_exp(sampler, x, num_samples, max_rows=DEFAULT_MAX_ROWS, sample_chunk=None,
                 image_chunk=None, y=None):
    """log (1/K) Σ_k w_k(x_n) for every example n, in chunks.

    :param sampler: ``sampler(x_chunk, y_chunk)`` returns ``draw``, and ``draw(k)`` returns
        the log weights of ``k`` fresh samples for each example of the chunk, shape
        ``(k, B_chunk)``. (The split lets a sampler run per-image work, e.g. the encoder, once
        per image chunk.)
    :param x: examples, shape ``(N,) + event_shape``.
    :param int num_samples: K, the samples per example.
    :param int max_rows: samples × images per call of ``draw`` when the chunks are not given
        (default :data:`DEFAULT_MAX_ROWS`).
    :param int sample_chunk: samples per call of ``draw`` (default from ``max_rows``).
    :param int image_chunk: examples per chunk (default from ``max_rows``).
    :param y: the examples' conditions (labels of a conditional model), chunked with ``x``;
        ``None`` (``y_chunk`` is then ``None``) for unconditional models.
    :returns: a float64 tensor of shape ``(N,)``.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples}")
    auto_samples, auto_images = chunk_sizes(num_samples, x.shape[0], max_rows)
    sample_chunk = sample_chunk or auto_samples
    image_chunk = image_chunk or auto_images
    results = []
    for start in range(0, x.shape[0], image_chunk):
        draw = sampler(x[start : start + image_chunk],
                       None if y is None else y[start : start + image_chunk])
        total = None
        for done in range(0, num_samples, sample_chunk):
            log_w = draw(min(sample_chunk, num_samples - done)).double()
            chunk = torch.logsumexp(log_w, dim=0)
            total = chunk if total is None else torch.logaddexp(total, chunk)
        results.append(total - math.log(num_samples))
        release_free_memory()  # keeps the resident size flat over thousands of chunks
    if not results:  # no examples (e.g. an empty shard of a data-parallel rank)
        return x.new_zeros(0, dtype=torch.float64)
    return torch.cat(results)
