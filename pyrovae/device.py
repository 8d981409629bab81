"""Which device a run uses: ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto``.

The name is checked when a config is loaded (:func:`check_device_name`) and resolved to a
``torch.device`` that exists on this machine before any data is read (:func:`resolve_device`).
Other torch device types (``meta``, ``xpu``, ...) are refused: pyrovae is tested on the CPU and
written for CUDA.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["check_device_name", "resolve_device"]

_NAME = re.compile(r"(cpu|auto|mps|cuda(:\d+)?)")


def check_device_name(name, where=None):
    """Raise :class:`ConfigError` unless ``name`` is cpu, cuda, cuda:N, mps or auto.

    :param str where: what names it, for the message (e.g. ``"train.device"``)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"{f'{where}: ' if where else ''}unknown device {name!r}; use \"cpu\", \"cuda\", "
            '"cuda:N" (N = 0, 1, ...), "mps" or "auto"'
        )
    return name


def resolve_device(name: str) -> torch.device:
    """A ``torch.device`` for ``name`` that exists here (``"auto"``: CUDA when available)."""
    import torch

    check_device_name(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r}: CUDA is not available on this machine; use "
                              '"cpu"')
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ConfigError(f"device {name!r}: this machine has {count} CUDA device(s), "
                              f"cuda:0 to cuda:{count - 1}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name!r}: MPS is not available on this machine; use "
                          '"cpu"')
    return device
