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

Evaluation (the validation ELBO of every epoch, ``evaluate``, the importance-sampled bound)
draws by :class:`IndexedNoise` instead: every standard-normal number is a function of the
evaluation's key, the site, the example's *global* index, the draw's index among the K draws per
example and its place in the rest of the draw (:func:`indexed_normal`, a counter-based
generator: SplitMix64 on those indices, then the inverse normal CDF)::

    ε[k, n, j] = Φ⁻¹(u(mix(mix(mix(key + n·γ) + k·γ) + (j + 1)·γ)))

Nothing is drawn for the whole data set, so the cost is a few integer operations per number
wherever the example sits; and the numbers of example n are the same whatever cuts the examples
(the batch size, the image and sample chunks of the bound, the shard of a rank), so an
evaluation gives the same result on 1 or N ranks, with any batch size, up to float rounding.
The key comes from the seed torch's global generator was last seeded with
(``torch.initial_seed()``, e.g. ``pyro.set_rng_seed(seed)``), or is given; evaluation consumes
nothing of that generator.
"""

import math
import zlib

import torch
from pyro.poutine.messenger import Messenger
from torch.overrides import TorchFunctionMode

from .errors import ConfigError

__all__ = ["GivenNoise", "IndexedNoise", "KeyedNoise", "RecordedNoise", "evaluation_key",
           "indexed_normal", "keyed_normal", "mix64", "site_seed"]

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
                    if not self.noise.strict:  # evaluation: torch's generator, as before
                        return func(*args, **kwargs)
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
            if not self.noise.strict:
                return func(*args, **kwargs)
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

    #: refuse a site that draws other noise than standard normals (training); ``False``
    #: leaves such draws to torch's generator (:class:`IndexedNoise`)
    strict = True

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


# -- evaluation: noise indexed by example --------------------------------------------------------

_GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's increment (the golden ratio, odd)
_C1, _C2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _signed(value):
    """A 64-bit pattern as the int64 that holds it."""
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


def _shift(h, bits):
    """A logical right shift of int64 ``h`` (torch's ``>>`` is arithmetic)."""
    return (h >> bits) & ((1 << (64 - bits)) - 1)


def _mix(h):
    """SplitMix64's finalizer, element by element (int64 arithmetic wraps modulo 2**64)."""
    h = (h ^ _shift(h, 30)) * _signed(_C1)
    h = (h ^ _shift(h, 27)) * _signed(_C2)
    return h ^ _shift(h, 31)


def _along(axis, length, start, dims, device):
    """``start .. start + length`` as int64 laid along ``axis`` of ``dims`` axes."""
    shape = [1] * dims
    shape[axis] = length
    return torch.arange(start, start + length, dtype=torch.int64, device=device).view(shape)


def indexed_normal(key, shape, axis=None, offset=0, sample_axis=None, sample_offset=0,
                   dtype=None, device=None):
    """Standard-normal noise of ``shape`` whose every number is a function of ``key``, its
    example's global index (``offset`` + position on ``axis``), its draw's index
    (``sample_offset`` + position on ``sample_axis``) and its flat position over the other
    axes; see the module docstring. Any cut of the examples or the draws gives the same
    numbers for the same indices.

    Float32 numbers come from 24 random bits (tails to ±5.4), float64 from 52 (±8.2).
    """
    shape = tuple(int(d) for d in shape)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    device = torch.device("cpu") if device is None else torch.device(device)
    dims = len(shape)
    h = torch.tensor(_signed(key), dtype=torch.int64, device=device).view([1] * dims)
    if axis is not None:
        h = h + _along(axis, shape[axis], offset, dims, device) * _signed(_GAMMA)
    h = _mix(h)
    if sample_axis is not None:
        h = _mix(h + _along(sample_axis, shape[sample_axis], sample_offset, dims, device)
                 * _signed(_GAMMA))
    rest = [d for d in range(dims) if d not in (axis, sample_axis)]
    position = torch.zeros([1] * dims, dtype=torch.int64, device=device)
    stride = 1
    for d in reversed(rest):
        if shape[d] > 1:
            position = position + _along(d, shape[d], 0, dims, device) * stride
        stride *= shape[d]
    h = _mix_(torch.add(h, (position + 1) * _signed(_GAMMA)).expand(shape).contiguous())
    if dtype == torch.float64:
        bits, wide = 52, torch.float64
    else:
        bits, wide = 24, torch.float32
    # an odd integer in (-2**bits, 2**bits), exact in the float type: u symmetric in (-1, 1)
    h = _shift(h, 64 - bits).mul_(2).add_(1 - (1 << bits))
    v = h.to(wide).mul_(2.0 ** -bits)
    return v.erfinv_().mul_(math.sqrt(2)).to(dtype)


def _mix_(h):
    """:func:`_mix` in place on a contiguous tensor (the full-sized one: fewer temporaries)."""
    t = torch.empty_like(h)
    for bits, factor in ((30, _C1), (27, _C2), (31, None)):
        torch.bitwise_right_shift(h, bits, out=t).bitwise_and_((1 << (64 - bits)) - 1)
        h.bitwise_xor_(t)
        if factor is not None:
            h.mul_(_signed(factor))
    return h


def evaluation_key(seed=None):
    """The key of an evaluation's noise: from ``seed``, or (``None``) from the seed torch's
    global generator was last seeded with, which reads nothing from the generator."""
    return mix64(0x6576616C, torch.initial_seed() if seed is None else int(seed)) >> 1


class IndexedNoise(KeyedNoise):
    """Evaluation noise (see the module docstring): every reparameterized site's standard
    normals drawn by :func:`indexed_normal`, keyed by the site, the example's global index
    and the draw's index, so no cut of the examples changes them.

    :param int key: the evaluation's key (:func:`evaluation_key`).
    :param int offset: the global index of the first example of the batch.
    :param int sample_offset: the index of the first of the draws (the sample plate's rows)
        this pass makes per example (a bound drawing K samples in chunks counts on).
    :param str plate: the plate over the examples (default ``"data"``).
    :param str samples: the plate that vectorizes the draws per example (``None``: none).

    A site drawing other noise than standard normals, or noise without an axis over the
    examples, is left to torch's generator (:attr:`strict` is off).
    """

    strict = False

    def __init__(self, key, offset=0, sample_offset=0, plate="data", samples=None):
        super().__init__(key, 0, offset, None, plate)
        self.key, self.sample_offset, self.samples = int(key), int(sample_offset), samples
        self._sample = None  # (axis from the right, size) of the sample plate at this site

    def _pyro_sample(self, msg):
        frame = None
        if self.samples is not None:
            frame = next((f for f in msg["cond_indep_stack"] if f.name == self.samples), None)
        fn = msg["fn"]
        self._sample = (None if frame is None
                        else (getattr(fn, "event_dim", 0) - frame.dim, frame.size))
        super()._pyro_sample(msg)

    def draw(self, site, index, shape, axis, dtype, device):
        sample_axis = None
        if self._sample is not None:
            from_right, size = self._sample
            candidate = len(shape) - from_right
            if 0 <= candidate < len(shape) and candidate != axis and shape[candidate] == size:
                sample_axis = candidate
        key = mix64(self.key, zlib.crc32(site.encode()), index)
        return indexed_normal(key, shape, axis, self.offset, sample_axis, self.sample_offset,
                              dtype, device)
