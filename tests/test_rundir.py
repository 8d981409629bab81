import errno
import hashlib
import os
import stat

import pytest

import pyrovae as pv
from pyrovae.errors import PyroVAEError
from pyrovae.files import atomic_write
from pyrovae.rundir import RunDirectory
from pyrovae.runfiles import write_config


def names(folder):
    """Every entry of ``folder``, hidden ones included. A run leaves an empty ``.<name>.lock``
    beside its directory: :mod:`filelock` keeps lock files, so that every run locks one file."""
    return sorted(os.listdir(folder))


def fingerprint(folder):
    """Every file under ``folder`` with its SHA-256 and mode: equal means byte-identical."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def old_run(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "config.toml").write_text("old = 1\n")
    (target / "stale.png").write_bytes(b"\x89PNG old")
    (target / "sub").mkdir()
    (target / "sub" / "deep.txt").write_text("old")
    return target


def one_line(error):
    message = str(error.value)
    assert "\n" not in message and message
    return message


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    saved = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(saved)


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_files_and_run_directories_follow_the_umask(tmp_path, umask, mask):
    umask(mask)
    with RunDirectory(tmp_path / "run") as run:
        atomic_write(run.path / "f.bin", lambda f: f.write(b"x"))
        assert stat.S_IMODE(run.path.stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((tmp_path / "run" / "f.bin").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o777 & ~mask


def test_atomic_write_and_commit_fsync_files_and_folders(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    with RunDirectory(tmp_path / "run") as run:
        path = atomic_write(run.path / "f.bin", lambda f: f.write(b"data"))
        assert path.stat().st_ino in synced  # the file's data
        assert run.path.stat().st_ino in synced  # its folder's entry
        synced.clear()
        run.commit()
    assert tmp_path.stat().st_ino in synced  # the rename of the run into its parent


def test_failing_run_before_commit_keeps_the_old_run_and_leaves_no_litter(tmp_path):
    target = old_run(tmp_path)
    before = fingerprint(target)
    with pytest.raises(KeyError):
        with RunDirectory(target, overwrite=True) as run:
            assert run.path != target and run.path.parent == tmp_path
            write_config(run.path, pv.load_config(None, []))
            raise KeyError("epoch 1 failed")
    assert fingerprint(target) == before
    assert names(tmp_path) == [".run.lock", "run"]  # no staging directory


def test_failing_fresh_run_leaves_nothing_not_even_the_folders_it_made(tmp_path):
    with pytest.raises(KeyError):
        with RunDirectory(tmp_path / "a" / "b" / "run") as run:
            (run.path / "config.toml").write_text("x")
            raise KeyError
    assert names(tmp_path) == []


def test_overwrite_replaces_the_old_run_whole(tmp_path):
    target = old_run(tmp_path)
    with RunDirectory(target, overwrite=True) as run:
        (run.path / "config.toml").write_text("new = 1\n")
        assert (target / "stale.png").exists()  # the old run is intact until the commit
        assert run.commit() == target and run.path == target and run.committed
        (run.path / "metrics.csv").write_text("epoch\n1\n")
    assert names(target) == ["config.toml", "metrics.csv"]  # nothing of the old run remains
    assert (target / "config.toml").read_text() == "new = 1\n"
    assert names(tmp_path) == [".run.lock", "run"]


def test_leaving_normally_commits_and_a_failure_after_commit_keeps_the_run(tmp_path):
    with RunDirectory(tmp_path / "a") as run:
        (run.path / "x").write_text("1")
    assert names(tmp_path / "a") == ["x"]

    with pytest.raises(KeyError):
        with RunDirectory(tmp_path / "b") as run:
            (run.path / "checkpoint.pt").write_text("epoch 1")
            run.commit()
            raise KeyError("epoch 2 failed")
    assert names(tmp_path / "b") == ["checkpoint.pt"]
    assert names(tmp_path) == [".a.lock", ".b.lock", "a", "b"]


def test_an_empty_directory_is_taken_and_refusals_change_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    with RunDirectory(tmp_path / "empty") as run:
        (run.path / "x").write_text("1")
    assert names(tmp_path / "empty") == ["x"]

    with pytest.raises(PyroVAEError, match="already exists and is not empty.*overwrite it"):
        with RunDirectory(tmp_path / "empty"):
            pass
    (tmp_path / "file").write_text("")
    with pytest.raises(PyroVAEError, match="is a file; choose a directory"):
        with RunDirectory(tmp_path / "file", overwrite=True):
            pass
    assert names(tmp_path) == [".empty.lock", ".file.lock", "empty", "file"]


def test_a_target_filled_meanwhile_is_refused_at_commit(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(PyroVAEError, match="filled by another program") as error:
        with RunDirectory(target) as run:
            (run.path / "new").write_text("1")
            target.mkdir()
            (target / "theirs").write_text("2")
    one_line(error)
    assert names(target) == ["theirs"]
    assert names(tmp_path) == [".run.lock", "run"]


def test_a_second_run_into_the_same_target_is_refused_while_the_first_holds_it(tmp_path):
    target = old_run(tmp_path)
    before = fingerprint(target)
    with RunDirectory(target, overwrite=True) as first:
        with pytest.raises(PyroVAEError) as error:
            with RunDirectory(target, overwrite=True):
                pass
        assert one_line(error) == (
            f"{target} is being written by another pyrovae run; wait for it to finish or "
            "choose another run directory"
        )
        assert first.path.is_dir() and fingerprint(target) == before
        (first.path / "x").write_text("1")
    assert names(target) == ["x"]
    with RunDirectory(target, overwrite=True):  # free again once the first has left
        pass


def test_a_failed_swap_puts_the_old_run_back(tmp_path, monkeypatch):
    """The old run is renamed aside, then the staged one into its place: when that second
    rename fails, the first is undone and the old run is where it was, byte for byte."""
    target = old_run(tmp_path)
    before = fingerprint(target)
    real_rename = os.rename

    def failing_second_rename(a, b):
        if str(a).endswith(".staging") and os.path.exists(b) is False and any(
                p.name.endswith(".old") for p in tmp_path.iterdir()):
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(b))
        return real_rename(a, b)

    monkeypatch.setattr(os, "rename", failing_second_rename)
    with pytest.raises(PyroVAEError, match="cannot move the run into") as error:
        with RunDirectory(target, overwrite=True) as run:
            (run.path / "config.toml").write_text("new = 1\n")
    one_line(error)
    assert fingerprint(target) == before
    assert names(tmp_path) == [".run.lock", "run"]


def test_a_run_directory_works_without_renameat2(tmp_path):
    """The transaction uses only os.rename/os.replace and filelock: nothing Linux-only."""
    import pyrovae.rundir as rundir

    source = open(rundir.__file__).read()
    assert "ctypes" not in source and "renameat2" not in source and "fcntl" not in source


def test_staging_directories_of_killed_runs_are_removed(tmp_path):
    stale = tmp_path / ".run.999999-deadbeef.staging"
    (stale / "sub").mkdir(parents=True)
    other = tmp_path / ".run.x.1-abcdef01.staging"  # the target run.x's, not run's
    other.mkdir()
    with RunDirectory(tmp_path / "run"):
        pass
    assert names(tmp_path) == [".run.lock", ".run.x.1-abcdef01.staging", "run"]


def test_a_read_only_folder_is_one_line_and_leaves_no_temporary(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root writes anyway: make the file system say so
            real_open = os.open

            def read_only_open(path, flags, *args, **kwargs):
                if flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR):
                    raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
                return real_open(path, flags, *args, **kwargs)

            monkeypatch.setattr(os, "open", read_only_open)
            expected = "on a writable file system"
        else:
            expected = "check the folder's permissions"
        with pytest.raises(PyroVAEError, match=expected) as error:
            atomic_write(folder / "f.bin", lambda f: f.write(b"x"))
        assert one_line(error).startswith(f"cannot write {folder / 'f.bin'}: ")
        with pytest.raises(PyroVAEError, match=expected) as error:
            with RunDirectory(folder / "run"):
                pass
        assert one_line(error).startswith(f"cannot create run directory {folder / 'run'}: ")
        monkeypatch.undo()
        assert names(folder) == []
    finally:
        folder.chmod(0o700)


def test_a_name_too_long_is_one_line_and_refused_before_any_work(tmp_path):
    long = "x" * 300
    with pytest.raises(PyroVAEError, match="File name too long; choose a shorter name$") as e:
        atomic_write(tmp_path / long, lambda f: f.write(b"x"))
    one_line(e)
    with pytest.raises(PyroVAEError, match="File name too long; choose a shorter name$") as e:
        with RunDirectory(tmp_path / "new" / long):
            pytest.fail("a run must not start on a name it cannot commit")
    assert one_line(e).startswith(f"cannot create run directory {tmp_path / 'new' / long}: ")
    assert names(tmp_path) == []
