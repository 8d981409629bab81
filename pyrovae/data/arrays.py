"""A user's own data in a ``.npy`` or ``.npz`` file.

Not a registry entry: :func:`~pyrovae.data.load_dataset` treats any name ending in ``.npy`` or
``.npz`` as a path. Accepted contents:

* ``.npy``: one array of examples (no labels);
* ``.npz``: key ``x`` (and optionally ``y``), or ``x_train`` (and optionally ``x_valid``,
  ``x_test`` and labels ``y_train``, ``y_valid``, ``y_test``); any other key is refused (a
  misspelt ``y_tset`` would otherwise be dropped without a word).

Missing splits are carved out of train by the loader. Values: ``uint8`` is scaled by 1/255,
``bool`` becomes 0/1, other numbers (any width or byte order, e.g. ``float16`` or big-endian
``>f8``) become float32. Shapes ``(N, D)``, ``(N, H, W)`` and images ``(N, C, H, W)`` with any
number of channels ``C``.

**Channels-last images.** A 4-d array ``(N, A, B, C)`` whose last axis is smaller than both
``A`` and ``B``, and whose axis 1 is above 4, is read as channels-last ``(N, H, W, C)`` (as
PIL, imageio and TensorFlow write them) and moved to channels-first ``(N, C, H, W)``:
``(N, 28, 28, 3)`` is 3-channel 28×28 images, ``(N, 64, 64, 13)`` 13 channels.
Everything else is channels-first as it stands: ``(N, 3, 32, 32)``, ``(N, 5, 6, 6)``, and
the ambiguous ``(N, 4, 4, 3)`` (axis 1 at most 4: up to 4 channels first) or
``(N, 8, 8, 8)``. An array the rule reads the wrong way round is saved the other way round
(``np.moveaxis``) or as ``(N, C, H, W)`` explicitly; the run's ``event_shape`` shows the
reading.

**Hostile files.** The header of every array is read first (``numpy.lib.format``), without
loading anything: Python objects (which need pickle) are refused, a header claiming more data
than the file holds is a truncated or forged file, and what the arrays would take in memory
(as stored, plus the float32 copy the loader makes) is checked against this machine's
(:func:`pyrovae.memory.require`) before a byte is allocated.
"""

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..memory import format_bytes, require
from .base import SPLITS, RawData

__all__ = ["channels_last", "is_array_file", "load_array_file"]

SUFFIXES = (".npy", ".npz")
#: the keys an .npz may hold, in either of its two forms
KEYS_XY = ("x", "y")
KEYS_SPLITS = tuple(f"{v}_{s}" for s in SPLITS for v in "xy")


def is_array_file(name):
    """Whether ``name`` names an array file rather than a registered data set."""
    return str(name).lower().endswith(SUFFIXES)


def channels_last(shape):
    """Whether examples of ``shape`` (without the first axis) are channels-last images
    ``(H, W, C)``: 3 axes, the last smaller than both others, the first above 4 (see the module
    docstring)."""
    return len(shape) == 3 and shape[0] > 4 and shape[2] < shape[0] and shape[2] < shape[1]


def _unreadable(path, e):
    return DataError(
        f"cannot read {path} as a numpy .npy/.npz file ({type(e).__name__}: {e}); "
        "is it corrupt, or not saved with np.save / np.savez?"
    )


def _header(f, where):
    """``(shape, dtype, data bytes)`` from the .npy header at ``f``'s position, checked:
    refused when it holds Python objects."""
    fmt = np.lib.format
    version = fmt.read_magic(f)
    # version 3.0 differs from 2.0 only in the header's text encoding (utf-8 for non-ASCII
    # field names of structured dtypes, which are refused below anyway)
    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, _, dtype = read(f)
    if dtype.hasobject:
        raise DataError(
            f"{where} holds Python objects (dtype {dtype}), which loading would unpickle; "
            "pyrovae reads numbers only: save a numeric array, e.g. np.asarray(x, dtype=np.float32)"
        )
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise DataError(
            f"{where} has a forged header: it claims shape {shape}, with negative lengths; "
            "save the array again with np.save / np.savez"
        )
    return shape, dtype, math.prod(shape) * dtype.itemsize


def _check_size(where, shape, dtype, nbytes, available):
    if nbytes > available:
        raise DataError(
            f"{where} is truncated or its header is forged: it claims shape {shape} of "
            f"{dtype} ({format_bytes(nbytes)}) but holds only {format_bytes(available)} of data; "
            "save the array again with np.save / np.savez"
        )


def _headers(path):
    """``{key: (shape, dtype, nbytes)}`` of every array in ``path``, from the headers alone."""
    with open(path, "rb") as f:
        start = f.read(4)
        f.seek(0)
        if start.startswith(b"PK"):  # a zip archive: an .npz, whatever its name
            return _zip_headers(path, f)
        if not start.startswith(b"\x93NUM"):
            raise DataError(
                f"cannot read {path} as a numpy .npy/.npz file: it starts with {start!r}, not "
                "a numpy header; is it corrupt, or not saved with np.save / np.savez?"
            )
        shape, dtype, nbytes = _header(f, str(path))
        available = path.stat().st_size - f.tell()
    _check_size(str(path), shape, dtype, nbytes, available)
    return {"x": (shape, dtype, nbytes)}


def _zip_headers(path, f):
    found = {}
    with zipfile.ZipFile(f) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            where = f"array '{key}' of {path}"
            if not info.filename.endswith(".npy"):
                raise DataError(
                    f"{path} holds a file '{info.filename}' that is not a numpy array; save "
                    "the data with np.savez(path, x=...) only"
                )
            with archive.open(info) as member:
                shape, dtype, nbytes = _header(member, where)
                used = member.tell()
            _check_size(where, shape, dtype, nbytes, info.file_size - used)
            found[key] = (shape, dtype, nbytes)
    return found


def _read(path):
    try:
        headers = _headers(path)
        numel = sum(math.prod(shape) for shape, _, _ in headers.values())
        stored = sum(nbytes for _, _, nbytes in headers.values())
        shapes = ", ".join(f"{k} {shape} {dtype}" for k, (shape, dtype, _) in headers.items())
        require(stored + 4 * numel, f"loading {path} ({shapes})",
                "use a smaller data set, or a machine with more memory", error=DataError)
        obj = np.load(path, allow_pickle=False)
        if isinstance(obj, np.ndarray):
            return {"x": obj}
        with obj:
            return {key: obj[key] for key in obj.files}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error,
            UnicodeDecodeError, SyntaxError) as e:
        raise _unreadable(path, e) from None


def _layout(x):
    """Channels-last images moved to channels-first (see the module docstring)."""
    if isinstance(x, np.ndarray) and x.ndim == 4 and channels_last(x.shape[1:]):
        return np.moveaxis(x, -1, 1)
    return x


def load_array_file(path):
    """Read ``path`` into :class:`~pyrovae.data.base.RawData`; see the module docstring."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"data file {path} does not exist")
    arrays = _read(path)
    keys = ", ".join(sorted(arrays)) or "none"
    if "x" in arrays and "x_train" in arrays:
        raise DataError(f"{path} holds both 'x' and 'x_train'; keep one (keys present: {keys})")
    if "x" not in arrays and "x_train" not in arrays:
        raise DataError(
            f"{path} has no array 'x' or 'x_train' (keys present: {keys}); save the examples "
            "as np.savez(path, x=...) or np.savez(path, x_train=..., x_test=...)"
        )
    accepted = KEYS_XY if "x" in arrays else KEYS_SPLITS
    unknown = sorted(set(arrays) - set(accepted))
    if unknown:
        raise DataError(
            f"{path} holds {'an array' if len(unknown) == 1 else 'arrays'} "
            f"{', '.join(repr(k) for k in unknown)} that pyrovae does not read next to "
            f"'{'x' if 'x' in arrays else 'x_train'}'; the keys are {', '.join(accepted)}: "
            "rename or remove the others"
        )
    if "x" in arrays:
        return RawData(x_train=_layout(arrays["x"]), y_train=arrays.get("y"))
    for split in SPLITS:
        if f"y_{split}" in arrays and f"x_{split}" not in arrays:
            raise DataError(f"{path} has 'y_{split}' but no 'x_{split}' (keys present: {keys})")
    return RawData(**{f"x_{s}": _layout(arrays.get(f"x_{s}")) for s in SPLITS},
                   **{f"y_{s}": arrays.get(f"y_{s}") for s in SPLITS})
