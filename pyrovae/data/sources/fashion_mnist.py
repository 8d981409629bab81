"""Fashion-MNIST from the four IDX files in the torchvision folder layout."""

from ..registry import DATASETS
from .idx import download_torchvision, load_torchvision_layout

__all__ = ["fashion_mnist"]


@DATASETS.register("fashion-mnist")
def fashion_mnist(data_dir=None):
    """Fashion-MNIST clothing images, 28x28 grey levels in [0, 1], 50 000/10 000/10 000 split."""
    if data_dir is None:
        data_dir = download_torchvision("FashionMNIST", "FashionMNIST")
    return load_torchvision_layout(data_dir, "FashionMNIST")
