"""The tensors of the estimator tests are tiny: run them on one thread."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """The tensors here are tiny: one thread avoids thread hand-off costs (10x on a busy
    2-core machine)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
