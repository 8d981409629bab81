"""Every test starts from the same state: seeded RNGs, an empty param store, validation on."""

import pyro
import pytest
import torch


@pytest.fixture(autouse=True)
def _fresh_pyro_state():
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    pyro.enable_validation(True)
    torch.set_default_dtype(torch.float32)
    yield
    pyro.clear_param_store()
    torch.set_default_dtype(torch.float32)


@pytest.fixture
def float64():
    """Run an analytic check in double precision, so tolerances can be tight."""
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)
