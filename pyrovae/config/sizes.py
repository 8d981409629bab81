"""A config's sizes against this machine's memory, estimated from below before anything is
allocated (:func:`check_memory`)."""

from ..memory import require
from ..registry import Component
from .validation import config_components
from .values import MAX_INT, plain, toml_value

__all__ = ["check_memory"]


def _widths(value):
    """The layer widths of a ``hidden`` or ``channels`` option: a list of sizes, or one size."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, int) and not isinstance(v, bool) and v > 0]
    return []


#: examples per batch the memory estimate assumes at most: a larger batch_size may be cut to
#: the size of the training set, which the config does not know
_ESTIMATE_BATCH = 256


def check_memory(config):
    """Refuse, in one line (:func:`pyrovae.memory.require`), a config whose sizes this machine
    cannot hold, before anything is allocated. The estimate is from below, in float32 (4
    bytes a number): every layer of every network (the widths of its ``hidden`` and
    ``channels``, 3×3 kernels, at least one input and output), every latent size (``*_dim``) a
    layer of at least the narrowest width for its mean, its scale and the decoder, each
    parameter four times (its value, gradient and two optimizer moments); and the activations
    of a step: a batch of ``min(batch_size, 256)`` examples times the objective's
    ``num_particles`` times the widths, kept for the backward pass, or of a validation batch
    times ``eval_samples``. The message names the size whose reduction to 1 would save the
    most."""
    networks = []  # (path, widths, kernel area)
    for path, component in config_components(config):
        hidden = _widths(component.options.get("hidden"))
        channels = _widths(component.options.get("channels"))
        kernel = component.options.get("kernel_size", 3)
        area = kernel * kernel if isinstance(kernel, int) and 0 < kernel <= MAX_INT else 9
        if channels:  # the last convolution's maps (at least 1 x 1) feed the hidden layer
            networks.append((f"{path}.channels", [*channels, *hidden[:1]], area))
        if "hidden" in component.options:  # an empty one: the latents meet the data
            networks.append((f"{path}.hidden", hidden, 1))
    latents = []  # (path, size)
    for key, value in config.model.options.items():
        sizes = _widths(value) if (key.endswith("_dim") or key in ("features", "hidden")) else []
        latents += [(f"model.{key}", size) for size in sizes]
    train = config.train
    particles = train.objective.options.get("num_particles", 1)
    particles = particles if isinstance(particles, int) and particles > 0 else 1
    sizes = {"networks": networks, "latents": latents, "particles": particles,
             "eval_samples": train.eval_samples,
             "batch": min(train.batch_size, _ESTIMATE_BATCH),
             "eval_batch": min(train.eval_batch_size, _ESTIMATE_BATCH)}
    total = _estimate(**sizes)
    # the culprit: the size whose reduction to 1 saves the most
    suspects = {"train.objective.num_particles": dict(sizes, particles=1),
                "train.eval_samples": dict(sizes, eval_samples=1)}
    for i, (path, _, area) in enumerate(networks):
        suspects[path] = dict(sizes, networks=[*networks[:i], (path, [1], area),
                                               *networks[i + 1:]])
    for i, (path, _) in enumerate(latents):
        suspects[path] = dict(sizes, latents=[*latents[:i], (path, 1), *latents[i + 1:]])
    culprit = min(suspects, key=lambda path: _estimate(**suspects[path]))
    try:
        what = f"{culprit} = {toml_value(plain(_lookup(config, culprit)))}"
    except (AttributeError, KeyError, TypeError, ValueError):
        what = culprit
    require(total, what, f"give a smaller {culprit}")


def _estimate(networks, latents, particles, eval_samples, batch, eval_batch):
    """The bytes :func:`check_memory` estimates (see there)."""
    narrowest = min((min(w, default=1) for _, w, _ in networks), default=1)
    params = 0
    for _, widths, area in networks:
        chain = [1, *widths, 1]
        params += sum(a * b * area + b for a, b in zip(chain, chain[1:]))
    params += sum(3 * size * narrowest for _, size in latents)
    per_example = sum(sum(w) for _, w, _ in networks) + 3 * sum(size for _, size in latents)
    step = max(3 * particles * batch, eval_samples * eval_batch) * per_example
    return 4 * (4 * params + step)


def _lookup(config, dotted):
    """The value at ``dotted`` (``model.encoder.hidden``, ``train.objective.num_particles``)."""
    parts = dotted.split(".")
    value = getattr(config, parts[0])
    for part in parts[1:]:
        if isinstance(value, Component):
            value = value.options[part]
        elif isinstance(value, dict):
            value = value[part]
        else:
            value = getattr(value, part)
    return value
