"""scikit-learn's bundled 8x8 digits: a tiny labelled image set that needs no download.

Useful for smoke tests and quick experiments; it has no fixed split, so
:func:`~pyrovae.data.load_dataset` splits it with ``split_seed``.
"""

import numpy as np

from ..base import RawData
from ..registry import DATASETS

__all__ = ["digits"]


@DATASETS.register("digits")
def digits(data_dir=None):
    """scikit-learn's bundled 1 797 8x8 handwritten digits, grey levels in [0, 1], 10 classes."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None]  # 0..16 -> [0, 1], (N, 1, 8, 8)
    return RawData(x_train=x, y_train=bunch.target.astype(np.int64))
