import pytest

from pyrovae.errors import CheckpointError, PyroVAEError
from pyrovae.runfiles import load_run_config, read_metrics, write_metrics


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


def test_metrics_read_back_exactly(tmp_path):
    rows = [{"epoch": 1, "train_loss": 44.767727171104, "lr": 0.001, "epoch_seconds": 0.04},
            {"epoch": 2, "train_loss": 40.5, "valid_elbo": -41.25, "valid_kl_method": "analytic",
             "lr": 0.001, "epoch_seconds": 0.05}]
    write_metrics(tmp_path, rows)
    assert read_metrics(tmp_path) == rows
    (tmp_path / "metrics.csv").write_bytes(b"")
    assert read_metrics(tmp_path) == []  # empty: no rows yet


@pytest.mark.parametrize("content, message", [
    (bytes(range(256)), "byte 128 is not UTF-8 text"),
    ("epoch,train_loss\n1,\xe9\n".encode("latin-1"), "is not UTF-8 text"),
    (b"epch,train_loss\n1,2\n", "its header has no 'epoch' column"),
    (b"epoch,,lr\n1,2,3\n", "an empty or a repeated column name"),
    (b"epoch,lr,lr\n1,2,3\n", "an empty or a repeated column name"),
    (b"epoch,train_loss,lr\n1,2,3\n2,3", "row 3 has 2 values for 3 columns"),
    (b"epoch,train_loss\n1,2,3\n", "row 2 has 3 values for 2 columns"),
    (b"epoch,train_loss\n1.5,2\n", "row 2 has epoch '1.5', not a whole number above -1"),
    (b"epoch,train_loss\n-1,2\n", "row 2 has epoch '-1'"),
    (b"epoch,train_loss\n1,2\n1,3\n", "row 3 has epoch '1', not a whole number above 1"),
    (b"epoch,train_loss\n1,x\n", "row 2 has 'x' in the column train_loss"),
    (b'epoch,train_loss\n1,"2\n', "not CSV"),
])
def test_a_damaged_metrics_file_is_one_line(tmp_path, content, message):
    (tmp_path / "metrics.csv").write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as error:
        read_metrics(tmp_path)
    assert one_line(error).startswith(f"{tmp_path / 'metrics.csv'} is corrupt: ")
