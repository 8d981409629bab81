"""Reading a data file's bytes, gzipped or not, with one clear error if that fails."""

import gzip
import zlib
from pathlib import Path

from ...errors import DataError

__all__ = ["read_bytes"]


def read_bytes(path):
    """The bytes of ``path``, decompressed if its name ends in ``.gz``; an unreadable or
    corrupt file is a :class:`~pyrovae.errors.DataError` naming it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"cannot read {path}: {e}") from None
