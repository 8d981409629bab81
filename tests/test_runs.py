import pytest
import torch

import pyrovae as pv
from pyrovae.errors import CheckpointError, PyroVAEError
from pyrovae.runs import (
    atomic_write,
    load_checkpoint,
    load_run_config,
    prepare_run_dir,
    save_checkpoint,
    write_config,
)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "f.bin"
    atomic_write(path, lambda f: f.write(b"old"))

    def broken(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temporary left behind


def test_prepare_run_dir(tmp_path):
    run = prepare_run_dir(tmp_path / "a" / "b")
    assert run.is_dir()
    (run / "x").write_text("1")
    with pytest.raises(PyroVAEError, match="already exists"):
        prepare_run_dir(run)
    assert prepare_run_dir(run, overwrite=True) == run
    (tmp_path / "file").write_text("")
    with pytest.raises(PyroVAEError, match="is a file"):
        prepare_run_dir(tmp_path / "file")


def test_checkpoint_round_trip_and_refusals(tmp_path):
    config = pv.load_config(None, ["model.z_dim=3", "model.encoder.hidden=[8]"])
    vae = pv.VAE.from_config(config, (1, 4, 4))
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


def test_corrupt_config_file(tmp_path):
    (tmp_path / "config.toml").write_text("[model\n")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_run_config(tmp_path)
    with pytest.raises(PyroVAEError, match="not a pyrovae run"):
        load_run_config(tmp_path / "..")
