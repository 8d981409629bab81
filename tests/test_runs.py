import errno
import fcntl
import hashlib
import os
import stat

import pytest
import torch

import pyrovae as pv
from pyrovae.models.base import build_model
from pyrovae.errors import CheckpointError, PyroVAEError
from pyrovae import runs
from pyrovae.runs import (
    RunDirectory,
    atomic_write,
    load_checkpoint,
    load_run_config,
    os_error,
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


def names(folder):
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
    assert names(tmp_path) == ["run"]  # no staging directory, no lock file


def test_failing_fresh_run_leaves_nothing_not_even_the_folders_it_made(tmp_path):
    with pytest.raises(KeyError):
        with RunDirectory(tmp_path / "a" / "b" / "run") as run:
            (run.path / "config.toml").write_text("x")
            raise KeyError
    assert names(tmp_path) == []


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "rename-aside"])
def test_overwrite_replaces_the_old_run_whole(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(runs, "_exchange", lambda a, b: False)
    target = old_run(tmp_path)
    with RunDirectory(target, overwrite=True) as run:
        (run.path / "config.toml").write_text("new = 1\n")
        assert (target / "stale.png").exists()  # the old run is intact until the commit
        assert run.commit() == target and run.path == target and run.committed
        (run.path / "metrics.csv").write_text("epoch\n1\n")
    assert names(target) == ["config.toml", "metrics.csv"]  # nothing of the old run remains
    assert (target / "config.toml").read_text() == "new = 1\n"
    assert names(tmp_path) == ["run"]


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
    assert names(tmp_path) == ["a", "b"]


def test_an_empty_directory_is_taken_and_refusals_leave_no_lock(tmp_path):
    (tmp_path / "empty").mkdir()
    with RunDirectory(tmp_path / "empty") as run:
        (run.path / "x").write_text("1")
    assert names(tmp_path / "empty") == ["x"]

    with pytest.raises(PyroVAEError, match="already exists and is not empty.*--overwrite"):
        with RunDirectory(tmp_path / "empty"):
            pass
    (tmp_path / "file").write_text("")
    with pytest.raises(PyroVAEError, match="is a file; choose a directory"):
        with RunDirectory(tmp_path / "file", overwrite=True):
            pass
    assert names(tmp_path) == ["empty", "file"]


def test_a_target_filled_meanwhile_is_refused_at_commit(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(PyroVAEError, match="filled by another program") as error:
        with RunDirectory(target) as run:
            (run.path / "new").write_text("1")
            target.mkdir()
            (target / "theirs").write_text("2")
    one_line(error)
    assert names(target) == ["theirs"]
    assert names(tmp_path) == ["run"]


def test_a_second_run_into_the_same_target_is_refused_while_the_first_holds_it(tmp_path):
    target = old_run(tmp_path)
    before = fingerprint(target)
    with RunDirectory(target, overwrite=True) as first:
        with pytest.raises(PyroVAEError) as error:
            with RunDirectory(target, overwrite=True):
                pass
        assert one_line(error) == (
            f"{target} is being written by another pyrovae run (pid {os.getpid()}); wait "
            "for it to finish or choose another --out"
        )
        assert first.path.is_dir() and fingerprint(target) == before
        (first.path / "x").write_text("1")
    assert names(target) == ["x"]
    with RunDirectory(target, overwrite=True):  # free again once the first has left
        pass


def test_a_lock_file_replaced_while_locking_is_locked_again(tmp_path, monkeypatch):
    """A run that leaves unlinks its lock file; one that opened that file just before must not
    believe it holds the lock, or a third run could lock the new file at the same time."""
    real_flock = fcntl.flock
    lock = tmp_path / ".run.lock"
    calls = []

    def flock_after_the_holder_left(fd, op):
        if not calls:
            os.unlink(lock)
            lock.write_text("")  # the next run's lock file
        calls.append(fd)
        return real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock_after_the_holder_left)
    with RunDirectory(tmp_path / "run") as run:
        assert len(calls) == 2
        assert os.fstat(run._lock_fd).st_ino == lock.stat().st_ino


def test_staging_directories_of_killed_runs_are_removed(tmp_path):
    stale = tmp_path / ".run.999999-deadbeef.staging"
    (stale / "sub").mkdir(parents=True)
    other = tmp_path / ".run.x.1-abcdef01.staging"  # the target run.x's, not run's
    other.mkdir()
    with RunDirectory(tmp_path / "run"):
        pass
    assert names(tmp_path) == [".run.x.1-abcdef01.staging", "run"]


def full_disk(monkeypatch):
    """Files opened by atomic_write write to /dev/full: every flushed write says ENOSPC."""
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    real_fdopen = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        os.close(fd)
        return real_fdopen(os.open("/dev/full", os.O_WRONLY), mode, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", fdopen)


def test_a_full_disk_is_one_line_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = atomic_write(tmp_path / "metrics.csv", lambda f: f.write(b"old"))
    full_disk(monkeypatch)
    with pytest.raises(PyroVAEError) as error:
        atomic_write(path, lambda f: f.write(b"new"))
    assert one_line(error) == (
        f"cannot write {path}: No space left on device; free some disk space or choose "
        "another --out"
    )
    assert error.value.__cause__.errno == errno.ENOSPC
    assert path.read_bytes() == b"old"
    assert names(tmp_path) == ["metrics.csv"]


def test_a_checkpoint_on_a_full_disk_is_one_line_not_a_torch_error(tmp_path, monkeypatch):
    """torch's zip writer turns a failing write into RuntimeError('enforce fail ...');
    save_checkpoint serializes to memory first so the OSError reaches atomic_write. The weights
    outgrow the 8 KiB file buffer, so torch's own writes would meet the full disk."""
    config = pv.load_config(None, ["model.z_dim=3", "model.encoder.hidden=[256]"])
    vae = build_model(config, (1, 4, 4))
    full_disk(monkeypatch)
    with pytest.raises(PyroVAEError, match="No space left on device") as error:
        save_checkpoint(tmp_path, vae, config, event_shape=(1, 4, 4), num_classes=None, epoch=1)
    one_line(error)
    chain, cause = [], error.value
    while cause is not None:
        chain.append(type(cause))
        cause = cause.__cause__ or cause.__context__
    assert RuntimeError not in chain  # torch never wrote to the disk
    assert names(tmp_path) == []


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


def test_os_error_lines():
    e = OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
    assert str(os_error(e, "write out/x", elsewhere="another -o")) == (
        f"cannot write out/x: {os.strerror(errno.EDQUOT)}; free some space within your disk "
        "quota or choose another -o"
    )
    assert str(os_error(OSError(12345, "odd"), "write x")) == (
        "cannot write x: odd; check the path or choose another --out"
    )
    assert str(os_error(OSError("plain"), "write x")).startswith("cannot write x: plain; ")


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


def test_corrupt_config_file(tmp_path):
    (tmp_path / "config.toml").write_text("[model\n")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_run_config(tmp_path)
    with pytest.raises(PyroVAEError, match="not a pyrovae run"):
        load_run_config(tmp_path / "..")
