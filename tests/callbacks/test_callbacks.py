"""Training callbacks as the session runs them: an error in one is a one-line CallbackError
that names it, and the run keeps its last checkpoint."""

import pytest

from pyrovae.callbacks import Callback
from pyrovae.checkpoint import read_checkpoint
from pyrovae.config import load_config
from pyrovae.errors import CallbackError
from pyrovae.training.session import train


class Boom(Callback):
    """Raises after the first epoch."""

    name = "boom"

    def on_epoch_end(self, fit):
        if fit.epoch == 1:
            raise RuntimeError("the logger's server\nwent away")


def test_a_failing_callback_is_one_line_naming_it_and_keeps_the_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    config = load_config(overrides=["train.epochs=3", "model.z_dim=2", f"output.dir={run_dir}"])
    with pytest.raises(CallbackError) as e:
        train(config, progress=False, log=lambda *a: None, callbacks=[Boom()])
    message = str(e.value)
    assert "\n" not in message
    assert "'boom'" in message and "on_epoch_end" in message and "after epoch 1" in message
    assert "RuntimeError: the logger's server went away" in message
    assert read_checkpoint(run_dir / "checkpoint.pt")["epoch"] == 1
