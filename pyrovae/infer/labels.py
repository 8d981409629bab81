"""The accuracy of a model that infers labels: one whose guide has a discrete site ``y`` when
no label is given (M2, ADGM, SDGM, or a user's own semi-supervised model).

The prediction is argmax q(y|x), read off the guide's trace
(:func:`pyrovae.infer.traces.classify`); a kind may predict otherwise by overriding
``classify(x)``. The accuracy is reported with its binomial standard error over examples.
Latents the prediction draws (an ADGM's auxiliary a) are drawn by example
(:class:`~pyrovae.noise.IndexedNoise`), so the accuracy is the same on any number of ranks and
with any batch size.
"""

import torch

from ..noise import IndexedNoise, evaluation_key
from . import traces
from .elbo import summarize

__all__ = ["accuracy", "infers_labels"]


def infers_labels(module, x):
    """Whether the guide of ``module`` draws a discrete label site ``y`` for the examples ``x``
    when it is given none (traced on one example). A :attr:`conditional` model takes its
    label as given and infers none."""
    if getattr(module, "conditional", False):
        return False
    try:
        with _untouched(x), torch.no_grad():
            traces.classify(module, x[:1])
    except traces.ProgramError:
        return False
    return True


def _predict(module, x):
    classify = getattr(module, "classify", None)
    return classify(x) if classify is not None else traces.classify(module, x)


def _untouched(x):
    """torch's generators as they were after the block: the label site the guide samples
    (only its probabilities are read) draws from them."""
    return torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else [])


def _predict_at(module, x, key, offset):
    with _untouched(x), IndexedNoise(key, offset, plate=traces.data_plate(module),
                                     samples=traces.SAMPLE_PLATE):
        return _predict(module, x)


@torch.no_grad()
def accuracy(module, x, y, batch_size=1000, world=None, seed=None):
    """The fraction of ``x`` whose predicted label equals ``y``, and its standard error
    (``world`` shards the examples over data-parallel ranks; ``seed`` keys any draws, see
    :func:`~pyrovae.noise.evaluation_key`)."""
    n = x.shape[0]
    first = 0
    if world is not None:
        first = world.bounds(n)[0]
        x, y = world.shard(x), world.shard(y)
    key = evaluation_key(seed)
    correct = torch.cat([_predict_at(module, x[i : i + batch_size], key, first + i)
                         == y[i : i + batch_size]
                         for i in range(0, x.shape[0], batch_size)]
                        or [y[:0] == y[:0]]).double()
    if world is not None:
        correct = world.gather(correct, n)
    return summarize(correct)
