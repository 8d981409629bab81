"""Reading MNIST-style IDX files in the torchvision folder layout (shared by ``mnist`` and
``fashion-mnist``).

A small reader of our own (gzip + struct + ``numpy.frombuffer``) rather than torchvision's, so that
a file that is truncated or not IDX at all fails with a :class:`~pyrovae.errors.DataError` naming
the file, and so that reading needs nothing but numpy.
"""

import contextlib
import io
import os
import struct
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..base import RawData
from .files import read_bytes

__all__ = ["download_torchvision", "load_torchvision_layout", "read_idx"]

FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
VALID_SIZE = 10_000  # the last 10 000 training images are the conventional validation set


def read_idx(path, ndim):
    """Read an unsigned-byte IDX file (``.gz`` or plain) with ``ndim`` dimensions as a uint8
    array; anything malformed is a :class:`DataError` naming the file."""
    path = Path(path)
    raw = read_bytes(path)
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is not an IDX file: only {len(raw)} bytes")
    zero, dtype, dims = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08 or dims != ndim:
        raise DataError(
            f"{path} is not an unsigned-byte IDX file with {ndim} dimensions: bad magic number "
            f"0x{raw[:4].hex()} (expected 0x{0x0800 + ndim:08x}); the file may be corrupt"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    size = int(np.prod(shape))
    if len(raw) - header != size:
        raise DataError(
            f"{path} is corrupt: its header says shape {shape} ({size} bytes) but it holds "
            f"{len(raw) - header} bytes of data"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find(folders, stem):
    for folder in folders:
        for name in (stem, stem + ".gz"):  # the unpacked file is faster to read
            if (folder / name).is_file():
                return folder / name
    return None


def load_torchvision_layout(data_dir, folder):
    """Load the four IDX files of ``<data_dir>/<folder>/raw/`` (``.gz`` or unpacked).

    Splits: train = all but the last 10 000 training images, valid = the last 10 000 (for MNIST
    50 000 / 10 000), test = the official test file. When the training file has 10 000 images or
    fewer (small or home-made files) that convention cannot apply, and no valid split is returned:
    :func:`~pyrovae.data.load_dataset` then carves it out of train with ``valid_fraction``.
    """
    data_dir = Path(data_dir).expanduser()
    primary = data_dir / folder / "raw"
    if not data_dir.is_dir():
        raise DataError(
            f"data folder {data_dir} does not exist; data.dir must point at a torchvision-layout "
            f"folder holding {primary}/{{{','.join(FILES.values())}}}[.gz]"
        )
    folders = [primary, data_dir / "raw", data_dir]
    paths = {key: _find(folders, stem) for key, stem in FILES.items()}
    missing = [primary / (FILES[k] + "[.gz]") for k, p in paths.items() if p is None]
    if missing:
        raise DataError(
            f"{folder} files not found under {data_dir}; expected "
            + ", ".join(str(m) for m in missing)
        )
    arrays = {k: read_idx(p, 3 if k.startswith("x") else 1) for k, p in paths.items()}
    for split in ("train", "test"):
        nx, ny = len(arrays[f"x_{split}"]), len(arrays[f"y_{split}"])
        if nx != ny:
            raise DataError(
                f"{paths['x_' + split]} has {nx} images but {paths['y_' + split]} has {ny} labels"
            )
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise DataError(
            f"train images are {arrays['x_train'].shape[1:]} but test images are "
            f"{arrays['x_test'].shape[1:]} in {primary}"
        )
    x, y = arrays["x_train"][:, None], arrays["y_train"].astype(np.int64)
    raw = RawData(x_train=x, y_train=y, x_test=arrays["x_test"][:, None],
                  y_test=arrays["y_test"].astype(np.int64))
    if len(x) > VALID_SIZE:
        cut = len(x) - VALID_SIZE
        raw.x_train, raw.x_valid, raw.y_train, raw.y_valid = x[:cut], x[cut:], y[:cut], y[cut:]
    return raw


def cache_dir():
    """Where downloads go: ``$PYROVAE_CACHE`` or ``~/.cache/pyrovae``."""
    return Path(os.environ.get("PYROVAE_CACHE", "~/.cache/pyrovae")).expanduser()


def download_torchvision(cls_name, folder):
    """Make sure ``<cache>/<folder>/raw`` holds the IDX files, downloading them with
    ``torchvision.datasets.<cls_name>`` if needed; returns the cache folder."""
    root = cache_dir()
    if all(_find([root / folder / "raw"], stem) for stem in FILES.values()):
        return root
    try:
        import torchvision

        # torchvision prints a line per mirror and file tried; the user gets one line instead
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            getattr(torchvision.datasets, cls_name)(root=str(root), download=True)
    except Exception as e:  # no network, a mirror down, a bad checksum: all the same to the user
        reason = " ".join(str(e).split())[:200]
        raise DataError(
            f"could not download {folder} into {root} ({type(e).__name__}: {reason}); there is "
            f"probably no network: set data.dir to a torchvision-layout folder "
            f"that holds {folder}/raw/{{{','.join(FILES.values())}}}[.gz]"
        ) from None
    return root
