"""Keyed noise: the guide's random draws as a function of (seed, step, site), cut by example.

Training draws z ~ q(z|x) by reparameterization, z = g(ε; x) with standard-normal ε. Drawn from
torch's global generator, ε depends on how the batch was cut: a process that holds rows 64..127
of a batch draws different numbers for them than one process holding all 128 rows. Here every
standard-normal draw of a sample site is made for the whole *global* batch, from a generator
seeded by a hash of (seed, training step, site name, draw number), and each process keeps the
rows of its own shard::

    g = Generator().manual_seed(hash(seed, step, site, draw))
    ε = randn(global shape, generator=g)[..., offset : offset + b, ...]   (on the example axis)

So the noise of a step is the same whether one process or N data-parallel ranks compute it, a
resumed run draws what the uninterrupted one would have (the step count is the key, not a
generator's state), and no generator state has to be saved or kept in step across ranks. The
noise tensors are small (batch × latent dimensions), so drawing the global one costs little.

:class:`KeyedNoise` is a Pyro messenger: around a loss computation it draws every
reparameterized, non-enumerated sample site with keyed noise (the site's own ``rsample`` runs,
with its ``Tensor.normal_`` draws replaced), and refuses, in one line, a site whose
distribution draws any other kind of noise.
"""

import zlib

import torch
from pyro.poutine.messenger import Messenger
from torch.overrides import TorchFunctionMode

from .errors import ConfigError

__all__ = ["GivenNoise", "KeyedNoise", "RecordedNoise", "keyed_normal", "mix64", "site_seed"]

_MASK64 = (1 << 64) - 1


def mix64(*values):
    """A 64-bit hash of non-negative integers (SplitMix64's finalizer, chained)."""
    h = 0x9E3779B97F4A7C15
    for value in values:
        h = (h ^ (int(value) & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        h = (h ^ (h >> 27)) * 0x94D049BB133111EB & _MASK64
        h ^= h >> 31
    return h


def site_seed(seed, step, site, draw=0):
    """The generator seed of the ``draw``-th standard-normal draw of site ``site`` at training
    step ``step`` (counted over the whole run) of a run seeded with ``seed``."""
    return mix64(seed, step, zlib.crc32(site.encode()), draw) >> 1  # manual_seed takes < 2**63


def keyed_normal(seed, shape, axis=None, offset=0, total=None, dtype=None, device=None):
    """Standard-normal noise of ``shape``: rows ``offset .. offset + shape[axis]`` on ``axis``
    of a draw of the global shape (``total`` rows there) from a generator seeded ``seed``.

    :param int axis: the axis over examples (``None``: none, e.g. a global latent: every
        process draws the same numbers).
    """
    shape = list(shape)
    full = list(shape)
    if axis is not None:
        full[axis] = shape[axis] if total is None else total
    device = torch.device("cpu") if device is None else torch.device(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    noise = torch.randn(full, generator=generator, dtype=dtype, device=device)
    if axis is not None and full[axis] != shape[axis]:
        noise = noise.narrow(axis, offset, shape[axis])
    return noise


#: torch functions that draw random numbers; inside a keyed site only ``Tensor.normal_`` on a
#: fresh tensor (how ``torch.distributions`` draws standard normals) is supported
_RANDOM = {
    torch.Tensor.uniform_, torch.Tensor.bernoulli_, torch.Tensor.exponential_,
    torch.Tensor.geometric_, torch.Tensor.cauchy_, torch.Tensor.log_normal_,
    torch.Tensor.random_, torch.rand, torch.rand_like, torch.randn, torch.randn_like,
    torch.randint, torch.randint_like, torch.randperm, torch.bernoulli, torch.multinomial,
    torch.normal, torch.poisson, torch._standard_gamma, torch._sample_dirichlet,
}


class _KeyedDraws(TorchFunctionMode):
    """Replaces ``Tensor.normal_()`` by keyed noise while one site's ``rsample`` runs."""

    def __init__(self, noise, site, axis_from_right, batch):
        super().__init__()
        self.noise, self.site = noise, site
        self.axis_from_right, self.batch = axis_from_right, batch
        self.draws = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.normal_ and len(args) == 1 and not kwargs:
            out = args[0]
            axis = None
            if self.axis_from_right is not None:
                axis = out.dim() - self.axis_from_right
                if not 0 <= axis < out.dim() or out.shape[axis] != self.batch:
                    raise ConfigError(
                        f"sample site '{self.site}' draws noise of shape {tuple(out.shape)}, "
                        "which has no axis over the examples; keyed (per-example) noise "
                        "cannot be drawn for it"
                    )
            draw = self.draws
            self.draws += 1
            with torch.no_grad():
                out.copy_(self.noise.draw(self.site, draw, tuple(out.shape), axis, out.dtype,
                                          out.device))
            return out
        if func in _RANDOM:
            raise ConfigError(
                f"sample site '{self.site}' draws noise with {getattr(func, '__name__', func)}, "
                "which keyed (per-example) noise does not cover; pyrovae's training draws "
                "standard-normal noise only (reparameterized Normal-based guides)"
            )
        return func(*args, **kwargs)


class KeyedNoise(Messenger):
    """Draw every reparameterized sample site with keyed noise (see the module docstring).

    :param int seed: the run's seed.
    :param int step: the training step, counted over the whole run.
    :param int offset: global position of this process's first example (default 0).
    :param int total: examples in the global batch (default: this process's).
    :param str plate: the name of the plate over examples (default ``"data"``).
    """

    def __init__(self, seed, step, offset=0, total=None, plate="data"):
        super().__init__()
        self.seed, self.step, self.offset, self.total = int(seed), int(step), int(offset), total
        self.plate = plate

    def draw(self, site, index, shape, axis, dtype, device):
        """The ``index``-th standard-normal draw of ``site``: keyed noise of ``shape``."""
        return keyed_normal(site_seed(self.seed, self.step, site, index), shape, axis,
                            self.offset, self.total, dtype, device)

    def _pyro_sample(self, msg):
        if msg["is_observed"] or msg["value"] is not None or msg["infer"].get("enumerate"):
            return
        fn = msg["fn"]
        if not getattr(fn, "has_rsample", False):
            return  # a discrete, non-enumerated site: left to torch's generator
        frame = next((f for f in msg["cond_indep_stack"] if f.name == self.plate), None)
        axis_from_right = None if frame is None else fn.event_dim - frame.dim
        batch = None if frame is None else frame.size
        with _KeyedDraws(self, msg["name"], axis_from_right, batch):
            msg["value"] = fn(*msg["args"], **msg["kwargs"])


class RecordedNoise(KeyedNoise):
    """:class:`KeyedNoise` that also records what it drew: ``(site, index, shape, axis, dtype)``
    per draw, in order, in :attr:`draws` (the plan of a compiled step's noise inputs)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.draws = []

    def draw(self, site, index, shape, axis, dtype, device):
        self.draws.append((site, index, shape, axis, dtype))
        return super().draw(site, index, shape, axis, dtype, device)


class GivenNoise(KeyedNoise):
    """:class:`KeyedNoise` whose draws are the given tensors, in order (a compiled step draws
    its noise outside the graph and passes it in, so the graph holds no random operation and
    the same seed gives the same numbers compiled or not)."""

    def __init__(self, tensors, plate="data"):
        super().__init__(0, 0, plate=plate)
        self.tensors = list(tensors)
        self.used = 0

    def draw(self, site, index, shape, axis, dtype, device):
        if self.used >= len(self.tensors) or tuple(self.tensors[self.used].shape) != shape:
            raise RuntimeError(f"site '{site}' draws noise the compiled step did not plan for")
        self.used += 1
        return self.tensors[self.used - 1]
