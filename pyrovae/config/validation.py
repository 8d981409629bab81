"""A whole config checked against the registries and its model kind: every component's name
and options, the kind's own options (its ``build`` keywords), and the keys that only go
together (``data.labels`` with a kind that learns from labels, paired batches)."""

import copy
import dataclasses

from ..data.arrays import is_array_file
from ..errors import ConfigError
from ..plugins import activate
from ..registries import by_kind
from ..registry import Component
from .values import as_component, check_type, check_values, plain

__all__ = ["activate_code", "config_components", "model_kind", "validate"]


def model_kind(config):
    """The model class of ``model.kind``: a registered kind (an unknown one: did-you-mean) or a
    model of the user's own, loaded from its file or module."""
    return by_kind()["model"].get(config.model.kind)


def activate_code(config, imports_only=False):
    """The config's own code, before any of its names is resolved: recorded files checked,
    ``plugins.imports`` imported, files' digests recorded (:func:`pyrovae.plugins.activate`);
    ``imports_only``: not yet the model file (``model.kind`` may still change)."""
    activate(config.plugins, None if imports_only else config.model.kind)


def _component_fields(config):
    for section_field in dataclasses.fields(config):
        section = getattr(config, section_field.name)
        for f in dataclasses.fields(section):
            if "registry" in f.metadata:
                yield f"{section_field.name}.{f.name}", section, f


def validate(config):
    """A checked copy of ``config``: every component name and option checked, defaults filled
    in (``config`` itself is not changed)."""
    config = copy.deepcopy(config)
    activate_code(config)
    registries = by_kind()
    for path, section, f in _component_fields(config):
        registry = registries[f.metadata["registry"]]
        value = getattr(section, f.name)
        if f.metadata.get("many"):
            for i, component in enumerate(value):
                registry.get(component.name)
                component.options = plain(registry.check_options(
                    component.name, component.options, f"{path}[{i}]"))
        elif isinstance(value, Component):
            registry.get(value.name)
            value.options = plain(registry.check_options(value.name, value.options, path))
        else:
            registry.get(value)
    _validate_model(config, registries)
    for section_field in dataclasses.fields(config):  # before any name is used as a path
        section = getattr(config, section_field.name)
        for f in dataclasses.fields(section):
            check_values(f"{section_field.name}.{f.name}" if "options" not in f.metadata
                          else section_field.name, getattr(section, f.name))
    _check_channels(config)
    _check_optimizer(config, registries)
    if not is_array_file(config.data.name):
        registries["dataset"].get(config.data.name)
    for section_field in dataclasses.fields(config):
        section = getattr(config, section_field.name)
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if (not isinstance(value, Component) and "options" not in f.metadata
                    and not f.metadata.get("many")):
                check_type(f"{section_field.name}.{f.name}", value, f.default)
    model_cls = model_kind(config)
    _check_labels(config, model_cls, registries["model"])
    _check_paired(config, model_cls)
    model_cls.check_config(config)
    return config


def config_components(config):
    """``(path, Component)`` for every component of the config, the model's included."""
    for path, section, f in _component_fields(config):
        value = getattr(section, f.name)
        for i, component in enumerate(value if f.metadata.get("many") else [value]):
            if isinstance(component, Component):
                yield (f"{path}[{i}]" if f.metadata.get("many") else path), component
    for key, value in config.model.options.items():
        if isinstance(value, Component):
            yield f"model.{key}", value


def _check_channels(config):
    """A network's ``channels`` (the convolutions' output channels) must name at least one."""
    for path, component in config_components(config):
        channels = component.options.get("channels")
        if isinstance(channels, (list, tuple)) and not channels:
            raise ConfigError(f"{path}.channels is empty: a convolutional network needs at least "
                              f"one convolution; give its output channels, e.g. {path}.channels "
                              "= [32, 64]")


def _check_optimizer(config, registries):
    """Build the optimizer and its schedule on one scalar parameter, so that an option out of
    range (SGD's ``momentum = -1``, a ``gamma`` of 2) is refused when the config is read, not
    after the data are loaded. A ValueError or TypeError of a component's own constructor
    becomes one line naming it."""
    import torch

    train = config.train
    for path, spec, registry, context in (
        ("train.optimizer", train.optimizer, registries["optimizer"],
         lambda: {"params": [torch.zeros(1, requires_grad=True)], "lr": train.lr}),
        ("train.scheduler", train.scheduler, registries["scheduler"],
         lambda: {"optimizer": optimizer}),
    ):
        try:
            built = registry.build(spec.name, context(), **spec.options)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None
        except (ValueError, TypeError, ArithmeticError) as e:
            raise ConfigError(f"{path}: {spec.name}: {' '.join(str(e).split())}") from None
        except Exception:  # noqa: BLE001  a component of the user's own that needs real
            return  # parameters: its real build, when training starts, reports what is wrong
        if path == "train.optimizer":
            optimizer = built


def _check_labels(config, model_cls, models):
    """``data.labels`` (keep a few training labels) only for a kind that declares
    ``uses_labels`` and does not need every label (``needs_every_label``)."""
    n, kind = config.data.labels, config.model.kind
    if not n:
        return
    if getattr(model_cls, "needs_every_label", False):
        raise ConfigError(
            f"data.labels = {n} keeps only some labels, but the '{kind}' model is conditioned "
            "on the label of every example; set data.labels = 0 (or use model.kind = \"m2\" "
            "for semi-supervised learning)"
        )
    if not getattr(model_cls, "uses_labels", False):
        learners = [name for name in models.names() if ":" not in name
                    and getattr(models.get(name), "uses_labels", False)
                    and not getattr(models.get(name), "needs_every_label", False)]
        use = "m2" if "m2" in learners else (learners[0] if learners else "m2")
        raise ConfigError(
            f"data.labels = {n} keeps a few training labels, for a model that learns from them "
            f"({', '.join(learners)}); the '{kind}' model uses none: use model.kind = "
            f"\"{use}\", or set data.labels = 0"
        )


def _check_paired(config, model_cls):
    """``data.labelled_batch`` (paired batches) only for a kind that declares
    ``paired_batches``, and not together with ``data.labelled_every``."""
    n, kind = config.data.labelled_batch, config.model.kind
    if n and not getattr(model_cls, "paired_batches", False):
        raise ConfigError(
            f"data.labelled_batch = {n} pairs labelled with unlabelled examples in one batch, "
            f"which the '{kind}' model cannot take; use model.kind = \"adgm\" or \"sdgm\", or "
            "drop it (and use data.labelled_every)"
        )
    if n and not config.data.labels:
        raise ConfigError(
            f"data.labelled_batch = {n} pairs labelled with unlabelled examples, but data.labels "
            "= 0 keeps every label: there are no unlabelled ones; set data.labels = N, or drop "
            "it"
        )
    if n and config.data.labelled_every != 1:
        raise ConfigError(
            f"data.labelled_batch = {n} puts labels in every step, so data.labelled_every = "
            f"{config.data.labelled_every} has no use; drop one of them"
        )


def _validate_model(config, registries):
    """Check ``[model]``'s options against the kind's ``build`` keywords (unknown ones refused
    with did-you-mean, defaults filled in), its components against their registries and its
    plain values against the types of their defaults."""
    kind = config.model.kind
    model_cls = model_kind(config)
    accepted = registries["model"].options(kind)
    for key in config.model.options:
        owners = [n for n in registries["model"].names()  # registered kinds, not files
                  if ":" not in n and key in registries["model"].options(n)]
        if key not in accepted and owners:
            which = (owners[0] if len(owners) == 1
                     else f"{', '.join(owners[:-1])} and {owners[-1]}")
            raise ConfigError(
                f"model.{key} is an option of the {which} model{'s' * (len(owners) > 1)}, not "
                f"of '{kind}'; drop it or use model.kind = \"{owners[0]}\""
            )
    options = registries["model"].check_options(kind, config.model.options, "[model]")
    for key, value in options.items():
        path = f"model.{key}"
        if key in getattr(model_cls, "checked_options", ()):
            options[key] = plain(value)  # the kind's check_config checks it
        elif key in model_cls.components:
            registry = registries[model_cls.components[key]]
            component = as_component(path, value)
            registry.get(component.name)
            component.options = plain(
                registry.check_options(component.name, component.options, path)
            )
            options[key] = component
        else:
            default = registries["model"].options(kind)[key]
            options[key] = plain(check_type(path, value, default))
    config.model.options = options
