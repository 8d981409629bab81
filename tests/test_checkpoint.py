import os

import pytest
import torch

import pyrovae as pv
from pyrovae.checkpoint import load_checkpoint, save_checkpoint
from pyrovae.errors import CheckpointError, PyroVAEError
from pyrovae.models.base import build_model
from pyrovae.runfiles import load_run_config, write_config


def one_line(error):
    message = str(error.value)
    assert "\n" not in message and message
    return message


def test_a_checkpoint_on_a_full_disk_is_one_line_not_a_torch_error(tmp_path, full_disk):
    """torch's zip writer turns a failing write into RuntimeError('enforce fail ...');
    save_checkpoint serializes to memory first so the OSError reaches atomic_write. The weights
    outgrow the 8 KiB file buffer, so torch's own writes would meet the full disk."""
    config = pv.load_config(None, ["model.z_dim=3", "model.encoder.hidden=[256]"])
    vae = build_model(config, (1, 4, 4))
    full_disk()
    with pytest.raises(PyroVAEError, match="No space left on device") as error:
        save_checkpoint(tmp_path, vae, config, event_shape=(1, 4, 4), num_classes=None, epoch=1)
    one_line(error)
    chain, cause = [], error.value
    while cause is not None:
        chain.append(type(cause))
        cause = cause.__cause__ or cause.__context__
    assert RuntimeError not in chain  # torch never wrote to the disk
    assert os.listdir(tmp_path) == []


def test_checkpoint_round_trip_and_refusals(tmp_path):
    config = pv.load_config(None, ["model.z_dim=3", "model.encoder.hidden=[8]"])
    vae = build_model(config, (1, 4, 4))
    write_config(tmp_path, config)
    save_checkpoint(tmp_path, vae, config, event_shape=(1, 4, 4), num_classes=None, epoch=5)
    loaded, state = load_checkpoint(tmp_path, load_run_config(tmp_path))
    assert state["epoch"] == 5
    for (name, a), (_, b) in zip(vae.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name

    other = pv.load_config(None, ["model.z_dim=4", "model.encoder.hidden=[8]"])
    with pytest.raises(CheckpointError, match="model.z_dim"):
        load_checkpoint(tmp_path, other)

    # weights that do not fit the config, with the config sections agreeing
    torch.save({**state, "state_dict": {"encoder.net.0.weight": torch.zeros(1)}},
               tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="does not match its config"):
        load_checkpoint(tmp_path, config)

    torch.save({"something": 1}, tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="not a pyrovae checkpoint"):
        load_checkpoint(tmp_path, config)
