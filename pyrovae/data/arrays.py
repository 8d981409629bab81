"""A user's own data in a ``.npy`` or ``.npz`` file.

Not a registry entry: :func:`~pyrovae.data.load_dataset` treats any name ending in ``.npy`` or
``.npz`` as a path. Accepted contents:

* ``.npy``: one array of examples (no labels);
* ``.npz``: key ``x`` (and optionally ``y``), or ``x_train`` (and optionally ``x_valid``,
  ``x_test`` and labels ``y_train``, ``y_valid``, ``y_test``).

Missing splits are carved out of train by the loader. Values: ``uint8`` is scaled by 1/255,
``bool`` becomes 0/1, float is kept. Shapes ``(N, D)``, ``(N, H, W)`` and ``(N, C, H, W)``.
"""

import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from .base import SPLITS, RawData

__all__ = ["is_array_file", "load_array_file"]

SUFFIXES = (".npy", ".npz")


def is_array_file(name):
    """Whether ``name`` names an array file rather than a registered data set."""
    return str(name).lower().endswith(SUFFIXES)


def _read(path):
    try:
        obj = np.load(path, allow_pickle=False)
        if isinstance(obj, np.ndarray):
            return {"x": obj}
        with obj:
            return {key: obj[key] for key in obj.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(
            f"cannot read {path} as a numpy .npy/.npz file ({type(e).__name__}: {e}); "
            "is it corrupt, or saved with pickled objects?"
        ) from None


def load_array_file(path):
    """Read ``path`` into :class:`~pyrovae.data.base.RawData`; see the module docstring."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"data file {path} does not exist")
    arrays = _read(path)
    keys = ", ".join(sorted(arrays)) or "none"
    if "x" in arrays and "x_train" in arrays:
        raise DataError(f"{path} holds both 'x' and 'x_train'; keep one (keys present: {keys})")
    if "x" in arrays:
        return RawData(x_train=arrays["x"], y_train=arrays.get("y"))
    if "x_train" not in arrays:
        raise DataError(
            f"{path} has no array 'x' or 'x_train' (keys present: {keys}); save the examples "
            "as np.savez(path, x=...) or np.savez(path, x_train=..., x_test=...)"
        )
    for split in SPLITS:
        if f"y_{split}" in arrays and f"x_{split}" not in arrays:
            raise DataError(f"{path} has 'y_{split}' but no 'x_{split}' (keys present: {keys})")
    return RawData(**{f"{v}_{s}": arrays.get(f"{v}_{s}") for s in SPLITS for v in "xy"})
