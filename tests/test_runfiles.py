import pytest

from pyrovae.errors import CheckpointError, PyroVAEError
from pyrovae.runfiles import load_run_config


def one_line(error):
    message = str(error.value)
    assert "\n" not in message and message
    return message


def test_corrupt_config_file(tmp_path):
    (tmp_path / "config.toml").write_text("[model\n")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_run_config(tmp_path)
    with pytest.raises(PyroVAEError, match="not a pyrovae run"):
        load_run_config(tmp_path / "..")
