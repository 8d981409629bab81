"""Larochelle's fixed binarization of MNIST (``binarized_mnist_{train,valid,test}.amat``).

This is the benchmark most VAE papers report test log-likelihoods on (IWAE, VampPrior, ...), so
its own 50 000 / 10 000 / 10 000 split is used as is. The ``.amat`` files are text, one image per
line as 784 space-separated ``0``/``1``; they are parsed with numpy on the raw bytes (about a
second for the whole set) rather than with ``np.loadtxt`` (minutes).
"""

from pathlib import Path

import numpy as np

from ...errors import DataError
from ..base import RawData
from .files import read_bytes
from ..registry import DATASETS

__all__ = ["binarized_mnist", "read_amat"]

PIXELS = 784
_ALLOWED = np.zeros(256, dtype=bool)
_ALLOWED[list(b"01 \t\r\n")] = True


def read_amat(path, width=PIXELS):
    """Parse a binary ``.amat`` (or ``.amat.gz``) file into a bool array of shape ``(N, width)``.
    A row that does not hold exactly ``width`` values, or any character other than 0, 1 and
    whitespace, is a :class:`DataError` naming the file and line."""
    path = Path(path)
    raw = read_bytes(path)
    chars = np.frombuffer(raw, dtype=np.uint8)
    bad = np.flatnonzero(~_ALLOWED[chars])
    if bad.size:
        line = raw.count(b"\n", 0, int(bad[0])) + 1
        raise DataError(
            f"{path} line {line}: unexpected character {raw[bad[0]:bad[0] + 1]!r}; a binarized "
            f".amat file holds only 0/1 values separated by spaces"
        )
    lines = raw.rstrip().split(b"\n")
    if not lines or lines == [b""]:
        raise DataError(f"{path} is empty")
    for i, line in enumerate(lines):  # one C-level count per row; ~50 ms for 50 000 rows
        if line.count(b"0") + line.count(b"1") != width:
            n = line.count(b"0") + line.count(b"1")
            raise DataError(f"{path} line {i + 1} has {n} values, expected {width}")
    bits = chars[(chars == 48) | (chars == 49)] == 49
    return bits.reshape(len(lines), width)


def _find(data_dir, split):
    for folder in (data_dir / "binarized_mnist", data_dir):
        for name in (f"binarized_mnist_{split}.amat", f"binarized_mnist_{split}.amat.gz"):
            if (folder / name).is_file():
                return folder / name
    return None


@DATASETS.register("binarized-mnist")
def binarized_mnist(data_dir=None):
    """Larochelle's fixed binarized MNIST (no labels), 28x28 in {0, 1}, 50 000/10 000/10 000."""
    expected = "binarized_mnist/binarized_mnist_{train,valid,test}.amat[.gz]"
    if data_dir is None:
        raise DataError(
            "binarized-mnist has no standard download: set data.dir to a folder that holds "
            f"{expected}"
        )
    data_dir = Path(data_dir).expanduser()
    paths = {s: _find(data_dir, s) for s in ("train", "valid", "test")}
    missing = [s for s, p in paths.items() if p is None]
    if missing:
        names = ", ".join(
            str(data_dir / "binarized_mnist" / f"binarized_mnist_{s}.amat[.gz]") for s in missing
        )
        what = "does not exist" if not data_dir.is_dir() else "lacks them"
        raise DataError(f"binarized-mnist files not found: expected {names} ({data_dir} {what})")
    x = {s: read_amat(p).reshape(-1, 1, 28, 28) for s, p in paths.items()}
    return RawData(x_train=x["train"], x_valid=x["valid"], x_test=x["test"])
