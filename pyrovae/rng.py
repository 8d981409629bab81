"""Every random state that decides a training run's future, saved and restored whole.

A resumed run must continue exactly as the uninterrupted one would have: the same z draws, the
same batch order, the same dynamic binarization. Those come from torch's CPU generator (Pyro
samples with it), CUDA's generators, Python's and NumPy's generators (Pyro seeds all three) and
the batcher's own generator (:meth:`pyrovae.data.Batcher.state_dict`). :func:`get_state` packs
the global ones into plain tensors, numbers and tuples, which ``torch.load(weights_only=True)``
reads back.
"""

import random

import numpy as np
import torch

__all__ = ["get_state", "set_state"]


def get_state():
    """The global random states: torch (CPU and every CUDA device in use), Python, NumPy."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "random": random.getstate(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
    }


def set_state(state):
    """Restore what :func:`get_state` returned."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    version, internal, gauss = state["random"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached"]))
