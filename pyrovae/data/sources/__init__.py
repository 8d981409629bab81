"""Built-in data sources, one per module; importing this package registers them in
:data:`pyrovae.data.DATASETS`."""

from ..registry import DATASETS
from . import binarized_mnist, digits, fashion_mnist, mnist  # noqa: F401  (register)

__all__ = ["DATASETS"]
