import errno
import os

import pytest

from pyrovae.errors import PyroVAEError
from pyrovae.files import atomic_write, os_error


def one_line(error):
    message = str(error.value)
    assert "\n" not in message and message
    return message


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


def test_a_full_disk_is_one_line_and_leaves_no_temporary(tmp_path, full_disk):
    path = atomic_write(tmp_path / "metrics.csv", lambda f: f.write(b"old"))
    full_disk()
    with pytest.raises(PyroVAEError) as error:
        atomic_write(path, lambda f: f.write(b"new"))
    assert one_line(error) == (
        f"cannot write {path}: No space left on device; free some disk space or choose "
        "another output directory"
    )
    assert error.value.__cause__.errno == errno.ENOSPC
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["metrics.csv"]


def test_os_error_lines():
    e = OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
    assert str(os_error(e, "write out/x", elsewhere="another -o")) == (
        f"cannot write out/x: {os.strerror(errno.EDQUOT)}; free some space within your disk "
        "quota or choose another -o"
    )
    assert str(os_error(OSError(12345, "odd"), "write x")) == (
        "cannot write x: odd; check the path or choose another output directory"
    )
    assert str(os_error(OSError("plain"), "write x")).startswith("cannot write x: plain; ")
