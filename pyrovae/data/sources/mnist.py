"""MNIST from the four original IDX files in the torchvision folder layout."""

from ..registry import DATASETS
from .idx import download_torchvision, load_torchvision_layout

__all__ = ["mnist"]


@DATASETS.register("mnist")
def mnist(data_dir=None):
    """MNIST handwritten digits, 28x28 grey levels in [0, 1], 50 000/10 000/10 000 split."""
    if data_dir is None:
        data_dir = download_torchvision("MNIST", "MNIST")
    return load_torchvision_layout(data_dir, "MNIST")
