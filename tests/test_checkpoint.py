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


def test_config_differences_name_the_leaf_keys_and_skip_the_allowed_ones():
    from pyrovae.checkpoint import READABLE, config_differences
    from pyrovae.config import config_to_dict

    config = pv.load_config(None, ["model.z_dim=3"])
    saved = config_to_dict(config)
    edited = pv.load_config(None, ["model.z_dim=3", "data.split_seed=7",
                                   "model.encoder.hidden=[9]", "train.epochs=99",
                                   "train.device=auto", "output.dir=elsewhere"])
    assert config_differences(saved, config) == []
    assert config_differences(saved, edited, READABLE) == ["data.split_seed",
                                                           "model.encoder.hidden"]
    assert "train.epochs" in config_differences(saved, edited)  # allowed only when said


def test_a_reader_refuses_an_edited_split_in_python(tmp_path):
    """pv.load_run and load_checkpoint, not only the command line, compare the whole config."""
    config = pv.load_config(None, ["model.z_dim=3", "model.encoder.hidden=[8]"])
    vae = build_model(config, (1, 4, 4))
    write_config(tmp_path, config)
    save_checkpoint(tmp_path, vae, config, event_shape=(1, 4, 4), num_classes=None, epoch=1)
    edited = pv.load_config(None, ["model.z_dim=3", "model.encoder.hidden=[8]",
                                   "data.binarize=none"])
    with pytest.raises(CheckpointError, match="data.binarize") as error:
        load_checkpoint(tmp_path, edited)
    one_line(error)
    write_config(tmp_path, edited)
    with pytest.raises(CheckpointError, match="data.binarize"):
        pv.load_run(tmp_path, data=False)


@pytest.mark.parametrize("field,value,named", [
    ("event_shape", "abc", "event_shape"),
    ("event_shape", [1, -4, 4], "event_shape"),
    ("epoch", -1, "epoch"),
    ("epoch", True, "epoch"),
    ("num_classes", 0, "num_classes"),
])
def test_damaged_reader_fields_are_refused_naming_the_field(tmp_path, field, value, named):
    from pyrovae.checkpoint import read_checkpoint

    config = pv.load_config(None, ["model.z_dim=3", "model.encoder.hidden=[8]"])
    vae = build_model(config, (1, 4, 4))
    save_checkpoint(tmp_path, vae, config, event_shape=(1, 4, 4), num_classes=None, epoch=1)
    state = read_checkpoint(tmp_path / "checkpoint.pt")
    torch.save({**state, field: value}, tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match=named) as error:
        read_checkpoint(tmp_path / "checkpoint.pt")
    assert "damaged" in one_line(error)
