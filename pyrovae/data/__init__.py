"""Data: loading, splitting, validating and batching the data sets pyrovae trains on.

* :func:`load_dataset` turns a name (a registered source, or a ``.npy``/``.npz`` path) into a
  validated :class:`DataSet` of three :class:`Split` s, optionally binarized.
* :data:`DATASETS` is the registry of sources (``digits``, ``mnist``, ``fashion-mnist``,
  ``binarized-mnist``); add your own with ``@DATASETS.register("name")``.
* :class:`Batcher` is the in-memory mini-batch iterator the training loop uses, with dynamic
  binarization built in.
"""

from . import sources  # noqa: F401  (registers the built-in sources)
from .base import DataSet, Split
from .batcher import Batcher
from .load import binarize, load_dataset
from .registry import DATASETS

__all__ = ["Batcher", "DATASETS", "DataSet", "Split", "binarize", "load_dataset"]
