"""Every write is a transaction (pyrovae.files.Transaction, RunDirectory.transaction): a
failure at any point of a resume (a full disk at any file, an error before the commit point)
leaves every file of the run byte-identical, a crash after the commit point is rolled forward,
and a crash before it rolled back; a figure that fails to draw never ends a run."""

import errno
import hashlib
import json
import os
import shutil

import pytest
import torch

import pyrovae
import pyrovae.files as files
import pyrovae.training.run_writers as run_writers
from pyrovae.cli import main
from pyrovae.errors import PyroVAEError
from pyrovae.files import JOURNAL, Transaction, atomic_write, recover, transaction
from pyrovae.rundir import RunDirectory, check_target, recover_run
from pyrovae.runfiles import read_metrics, read_results

TINY = ["--z-dim", "2", "--quiet", "--set", "model.encoder.hidden=[8]",
        "--set", "model.decoder.hidden=[8]", "--set", "train.final_iwae_k=0"]


def fingerprint(folder):
    """Every entry of ``folder`` (hidden ones included) with its SHA-256: equal means the
    same files, byte-identical, and no leftover."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def one_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err, err
    return err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 1-epoch run, trained once for the module (copy it before changing it)."""
    run = tmp_path_factory.mktemp("trained") / "run"
    assert main(["train", "--epochs", "1", "--out", str(run), *TINY]) == 0
    return run


@pytest.fixture
def run(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    (tmp_path / ".run.lock").touch()  # the lock file a run leaves beside it
    return copy


def failing_at(monkeypatch, name, times=1):
    """The ``times``-th staged write of a file called ``name`` fails as a full disk does, after
    writing part of it; returns the list the failures are counted in."""
    real = files._write_temporary
    seen, failed = [], []

    def write_temporary(path, write, suffix):
        if path.name == name:
            seen.append(path)
            if len(seen) == times:
                def full(f):
                    f.write(b"part of it")
                    failed.append(path)
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                return real(path, full, suffix)
        return real(path, write, suffix)

    monkeypatch.setattr(files, "_write_temporary", write_temporary)
    return failed


# -- a resume on a full disk -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["config.toml", "metrics.csv", "best.pt", "checkpoint.pt",
                                  JOURNAL])
def test_a_resume_that_cannot_write_a_file_leaves_every_file_byte_identical(
        run, monkeypatch, capsys, name):
    before, beside = fingerprint(run), sorted(os.listdir(run.parent))
    capsys.readouterr()
    failed = failing_at(monkeypatch, name)
    assert main(["train", "--resume", str(run), "--epochs", "3", "--quiet"]) == 2
    assert failed, f"{name} was never written"
    line = one_line(capsys)
    assert line.startswith("pyrovae: ") and "No space left on device" in line
    assert f"cannot write {run / (name if name != JOURNAL else 'config.toml')}" in line
    assert fingerprint(run) == before  # config.toml, metrics.csv, best.pt, ... as they were
    assert sorted(os.listdir(run.parent)) == beside
    monkeypatch.undo()
    assert main(["train", "--resume", str(run), "--epochs", "3", "--quiet"]) == 0
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2, 3]
    assert torch.load(run / "checkpoint.pt", weights_only=False)["epoch"] == 3
    assert read_results(run)["epochs_run"] == 3
    assert not [n for n in os.listdir(run) if n.startswith(".")]


def test_a_resume_on_a_full_disk_is_one_line_and_changes_nothing(run, full_disk, capsys):
    before = fingerprint(run)
    capsys.readouterr()
    full_disk()  # every file written from now on says ENOSPC
    assert main(["train", "--resume", str(run), "--epochs", "3", "--quiet"]) == 2
    assert one_line(capsys) == (f"pyrovae: error: cannot write {run / 'config.toml'}: No space "
                                "left on device; free some disk space or choose another "
                                "output directory")
    assert fingerprint(run) == before


def test_an_epoch_that_fails_after_an_earlier_one_keeps_the_earlier_one_whole(
        run, monkeypatch, capsys):
    """epoch 2 is committed (row, best.pt, checkpoint.pt and the new config.toml together);
    epoch 3's checkpoint cannot be written: the run is epoch 2's, whole, and resumes."""
    failing_at(monkeypatch, "checkpoint.pt", times=2)
    assert main(["train", "--resume", str(run), "--epochs", "3", "--quiet"]) == 2
    one_line(capsys)
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    assert state["epoch"] == 2 and [r["epoch"] for r in read_metrics(run)] == [1, 2]
    assert "epochs = 3" in (run / "config.toml").read_text()
    assert read_results(run)["epochs_run"] == 1  # the old reports: the run is not finished
    monkeypatch.undo()
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert read_results(run)["epochs_run"] == 3


def test_the_final_reports_on_a_full_disk_leave_the_trained_run_resumable(
        run, monkeypatch, capsys):
    (run / "results.json").unlink()  # training ended; its reports are missing
    before = fingerprint(run)
    failing_at(monkeypatch, "results.json")
    assert main(["train", "--resume", str(run), "--quiet"]) == 2
    assert "cannot write" in one_line(capsys)
    assert fingerprint(run) == before  # figures not replaced either
    monkeypatch.undo()
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert read_results(run)["epochs_run"] == 1


# -- journal: roll forward, roll back -----------------------------------------------------------

def old_folder(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(f"old {name}")
    return tmp_path


def killed_at_the_commit_point(monkeypatch, folder):
    """A transaction of a.txt, b.txt and a new c.txt killed right after its journal: the
    journal and the staged files are there, no rename is done."""
    def killed(folder, renames):
        raise KeyboardInterrupt

    monkeypatch.setattr(files, "_roll_forward", killed)
    tx = Transaction(folder)
    for name in ("a.txt", "b.txt", "c.txt"):
        tx.write(folder / name, lambda f, name=name: f.write(f"new {name}".encode()))
    with pytest.raises(KeyboardInterrupt):
        tx.commit()
    monkeypatch.undo()


def test_a_kill_after_the_journal_is_rolled_forward(tmp_path, monkeypatch):
    folder = old_folder(tmp_path)
    killed_at_the_commit_point(monkeypatch, folder)
    assert (folder / JOURNAL).exists()
    assert (folder / "a.txt").read_text() == "old a.txt"  # nothing renamed yet
    assert recover(folder) is True
    assert {p.name: p.read_text() for p in folder.iterdir()} == {
        "a.txt": "new a.txt", "b.txt": "new b.txt", "c.txt": "new c.txt"}


def test_a_kill_in_the_middle_of_the_renames_is_rolled_forward(tmp_path, monkeypatch):
    folder = old_folder(tmp_path)
    real = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:  # the journal, a.txt, then the kill
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        with transaction(folder):
            atomic_write(folder / "a.txt", lambda f: f.write(b"new a"))
            atomic_write(folder / "b.txt", lambda f: f.write(b"new b"))
    monkeypatch.undo()
    assert (folder / "a.txt").read_text() == "new a" and (folder / "b.txt").read_text() == \
        "old b.txt"  # a mixture, until recovered
    recover(folder)
    assert {p.name: p.read_text() for p in folder.iterdir()} == {"a.txt": "new a",
                                                                 "b.txt": "new b"}


def test_staged_files_without_a_journal_are_rolled_back(tmp_path):
    folder = old_folder(tmp_path)
    before = fingerprint(folder)
    tx = Transaction(folder)
    tx.write(folder / "a.txt", lambda f: f.write(b"new"))
    tx.write(folder / "c.txt", lambda f: f.write(b"new"))  # then a kill: no journal
    assert len(os.listdir(folder)) == 4
    assert recover(folder) is True
    assert fingerprint(folder) == before
    assert recover(folder) is False  # nothing left to do


def test_a_journal_that_is_not_pyrovaes_renames_nothing(tmp_path):
    folder = old_folder(tmp_path)
    (folder / ".x.0123abcd.staged").write_text("staged")
    (folder / JOURNAL).write_text(json.dumps({"renames": [[".x.0123abcd.staged", "../a.txt"]]}))
    recover(folder)
    assert sorted(os.listdir(folder)) == ["a.txt", "b.txt"]
    assert (folder / "a.txt").read_text() == "old a.txt"


def test_an_error_in_a_transaction_block_leaves_the_old_files(tmp_path):
    folder = old_folder(tmp_path)
    before = fingerprint(folder)
    with pytest.raises(RuntimeError):
        with transaction(folder):
            atomic_write(folder / "a.txt", lambda f: f.write(b"new"))
            assert (folder / "a.txt").read_text() == "old a.txt"  # staged, not replaced
            raise RuntimeError("a figure crashed")
    assert fingerprint(folder) == before
    with transaction(folder) as tx:
        atomic_write(folder / "a.txt", lambda f: f.write(b"new"))
        atomic_write(tmp_path.parent / "elsewhere.txt", lambda f: f.write(b"x"))  # not staged
    assert tx.names == ["a.txt"] and (folder / "a.txt").read_text() == "new"
    assert sorted(os.listdir(folder)) == ["a.txt", "b.txt"]
    os.unlink(tmp_path.parent / "elsewhere.txt")


def test_a_full_disk_at_the_journal_is_one_line_and_leaves_the_old_files(tmp_path, monkeypatch):
    folder = old_folder(tmp_path)
    before = fingerprint(folder)
    failing_at(monkeypatch, JOURNAL)
    with pytest.raises(PyroVAEError) as error:
        with transaction(folder):
            atomic_write(folder / "a.txt", lambda f: f.write(b"new"))
    assert str(error.value).startswith(f"cannot write {folder / 'a.txt'}: No space left")
    assert fingerprint(folder) == before


def test_a_resume_rolls_a_committed_journal_forward_before_reading(run, monkeypatch, capsys):
    """A kill between the commit point of epoch 2 and its renames: the resume first finishes
    epoch 2, then continues from it."""
    real = files._roll_forward
    monkeypatch.setattr(files, "_roll_forward",
                        lambda folder, renames: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert main(["train", "--resume", str(run), "--epochs", "3", "--quiet"]) != 0
    assert "interrupted" in capsys.readouterr().err  # as a kill: no rename was done
    monkeypatch.setattr(files, "_roll_forward", real)
    assert (run / JOURNAL).exists()
    assert torch.load(run / "checkpoint.pt", weights_only=False)["epoch"] == 1
    assert recover_run(run) is True  # what a reader does
    assert torch.load(run / "checkpoint.pt", weights_only=False)["epoch"] == 2
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2]
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert [r["epoch"] for r in read_metrics(run)] == [1, 2, 3]


def test_opening_a_run_for_a_resume_recovers_it(run):
    (run / ".metrics.csv.0123abcd.staged").write_bytes(b"uncommitted")
    with RunDirectory(run, resume=True):
        assert not (run / ".metrics.csv.0123abcd.staged").exists()


# -- the final reports -------------------------------------------------------------------------

def test_a_figure_that_crashes_is_skipped_with_a_warning_and_the_run_finishes(
        tmp_path, monkeypatch, capsys):
    def crash(*args, **kwargs):
        raise ValueError("Third dimension must be 3 or 4")

    monkeypatch.setattr(run_writers, "save_reconstructions", crash)
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--out", str(out), *TINY]) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warning == ["pyrovae: warning: reconstructions.png could not be drawn and was "
                       "skipped (ValueError: Third dimension must be 3 or 4); the run's other "
                       "files are complete"]
    results = read_results(out)
    assert results is not None and "reconstructions.png" not in results["files"]
    assert "samples.png" in results["files"] and (out / "samples.png").exists()
    assert not (out / "reconstructions.png").exists()


def test_a_kill_before_results_json_is_finished_by_a_resume(run, capsys):
    """A kill after the last checkpoint, before the reports' commit: a resume writes them."""
    whole = read_results(run)
    for name in ("results.json", "samples.png", "reconstructions.png"):
        (run / name).unlink()
    (run / ".samples.png.0123abcd.staged").write_bytes(b"half a figure")
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    again = read_results(run)
    assert {k: v for k, v in again.items() if k != "train_seconds"} == \
        {k: v for k, v in whole.items() if k != "train_seconds"}
    assert (run / "samples.png").exists() and not (run / ".samples.png.0123abcd.staged").exists()


# -- the output target, checked before any work -----------------------------------------------

def test_check_target_refuses_what_the_run_directory_refuses(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(PyroVAEError, match="already exists and is not empty"):
        check_target(tmp_path / "full")
    with pytest.raises(PyroVAEError, match="is a file"):
        check_target(tmp_path / "file")
    with pytest.raises(PyroVAEError, match="does not exist"):
        check_target(tmp_path / "none", resume=True)
    check_target(tmp_path / "full", overwrite=True)
    check_target(tmp_path / "new" / "deeper")
    with RunDirectory(tmp_path / "full", resume=True):
        with pytest.raises(PyroVAEError, match="is being written by another pyrovae run"):
            check_target(tmp_path / "full", resume=True)
    check_target(tmp_path / "full", resume=True)
    assert sorted(os.listdir(tmp_path)) == [".full.lock", "file", "full"]  # nothing written


def test_the_final_reports_rename_results_json_last(run, monkeypatch):
    """A run is finished when results.json exists: the reports' transaction renames it after
    the figures (and a resume's config.toml)."""
    (run / "results.json").unlink()
    real, renamed = os.replace, []

    def replace(src, dst):
        renamed.append(os.path.basename(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    reports = renamed[renamed.index(JOURNAL) + 1:]
    assert reports[-1] == "results.json" and "samples.png" in reports


def test_torchrun_refuses_a_non_empty_output_on_every_rank_before_any_work(tmp_path):
    """Every rank checks --out before loading data or joining the group: one line each (the
    first to exit makes torchrun stop the other), no traceback, the old file untouched."""
    import subprocess
    import sys

    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "pyrovae", "train", "--epochs", "1", "--out", str(out), *TINY],
        capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("pyrovae: error")]
    assert 1 <= len(errors) <= 2, done.stderr
    assert all("already exists and is not empty" in line for line in errors), errors
    # torchrun reports the failed launch with its own traceback; none comes from pyrovae's
    # code or from a process group (rank 1 used to start training and die in gloo)
    assert os.path.dirname(pyrovae.__file__) not in done.stderr, done.stderr
    assert "gloo" not in done.stderr.lower() and "c10d" not in done.stderr, done.stderr
    assert os.listdir(out) == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"


def test_a_run_directory_commits_its_pending_files_together_or_not_at_all(tmp_path):
    run = old_folder(tmp_path / "run")  # not a run; the transactions only need a folder
    before = fingerprint(run)
    with pytest.raises(RuntimeError):
        with RunDirectory(run, resume=True) as opened:
            opened.transaction().write(run / "a.txt", lambda f: f.write(b"new"))
            with opened.transaction().staging():
                atomic_write(run / "b.txt", lambda f: f.write(b"new"))
            raise RuntimeError("killed by a bug before the commit")
    assert fingerprint(run) == before
    with RunDirectory(run, resume=True) as opened:
        opened.transaction().write(run / "a.txt", lambda f: f.write(b"new a"))
        opened.transaction().write(run / "b.txt", lambda f: f.write(b"new b"))
        assert (run / "a.txt").read_text() == "old a.txt"  # staged until the commit
        opened.commit_files()
        assert (run / "a.txt").read_text() == "new a" and (run / "b.txt").read_text() == "new b"
        opened.transaction().write(run / "c.txt", lambda f: f.write(b"new c"))
    assert (run / "c.txt").read_text() == "new c"  # leaving normally commits what is pending
    assert sorted(os.listdir(run)) == ["a.txt", "b.txt", "c.txt"]
