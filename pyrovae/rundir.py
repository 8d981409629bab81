"""A training run as a transaction on its directory.

A new run is built in a hidden staging directory beside its target and moved into place whole
by :meth:`RunDirectory.commit`, so the target never holds a mixture of two runs, and a run that
fails before its commit leaves nothing behind. An exclusive lock (:class:`filelock.FileLock`
on ``.<name>.lock`` beside the target) keeps two pyrovae runs from writing one target at a
time, on any operating system. Every rename is :func:`os.replace` or :func:`os.rename`, and the
folder is ``fsync``-ed after it, so what was committed survives a crash.

After its commit, and on a resume, a run's files are replaced in transactions
(:class:`~pyrovae.files.Transaction`, through :meth:`RunDirectory.transaction`: an epoch's
metrics row and checkpoints together, the final reports together), and opening a run for
writing first finishes or undoes what a crash left (:func:`~pyrovae.files.recover`, under the
lock); :func:`recover_run` does the same for a reader, when no run holds the lock.
:func:`check_target` makes the checks of entering without writing anything: every rank of a
torchrun launch makes them before any work, so all refuse a bad target alike.
"""

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import warnings
from pathlib import Path

import filelock

from . import distributed
from .errors import PyroVAEError
from .files import (
    JOURNAL,
    STAGED,
    Transaction,
    fsync_folder,
    recover,
    reporting_os_errors,
    short_name,
)

__all__ = ["RunDirectory", "check_target", "recover_run"]

#: how long :func:`check_target` waits for a lock under torchrun, where the ranks' own checks
#: take it for an instant each
RANKS_LOCK_WAIT = 2.0


class RunDirectory:
    """One training run as a transaction on its target directory.

    ::

        with RunDirectory("runs/mnist", overwrite=True) as run:
            write_config(run.path, config)       # written into a hidden staging directory
            ...                                  # first epoch, first checkpoint
            run.commit()                         # the staged run takes the target's place whole
            ...                                  # later epochs write into the target itself

    On enter the target is refused if it is a file, or a non-empty directory without
    ``overwrite``; the lock is taken (a run already writing the target is refused in one line);
    missing parent folders are created, and a fresh staging directory
    ``.<name>.<pid>-<random>.staging`` beside the target (mode 0777 less the umask, like
    ``mkdir``). Staging and replaced runs that a killed run left behind are removed.

    :meth:`commit` renames the staging directory onto the target when it is absent or empty.
    With ``overwrite`` and an old run there, the old run is first renamed aside
    (``.<name>.<pid>-<random>.old``), the staged one takes its name, and the old one is
    deleted; if the second rename fails, the first is undone, so the old run stays as it was.
    Between the two renames (microseconds, under the lock) the target is absent: a reader sees
    the old run, no run, or the new run, never a mixture.

    Leaving the block with an exception before :meth:`commit` deletes the staging directory
    and any parent folder it created: an old run stays byte-identical. After :meth:`commit` the
    committed run is kept as it is (its last checkpoint stays loadable). Leaving normally
    commits the pending files and the run if that has not happened yet. The lock file (empty)
    stays beside the target, as :mod:`filelock` keeps it, so that every waiter locks the same
    file.

    With ``resume=True`` the target is an existing run, continued in place: the lock is taken
    (``train --resume``) and what a crashed transaction left is finished or undone
    (:func:`~pyrovae.files.recover`).

    After the commit (and on a resume) files are replaced together through
    :meth:`transaction`: one pending :class:`~pyrovae.files.Transaction` on :attr:`path`, which
    :meth:`commit_files` commits; leaving the block with an exception aborts it, so the old
    files stay byte-identical.

    :param target: the run directory to create or replace.
    :param bool overwrite: replace a non-empty ``target`` (default ``False``: refuse it).
    :param bool resume: continue the existing run in ``target`` (default ``False``).
    """

    def __init__(self, target, overwrite=False, resume=False):
        self.target = Path(target)
        self.overwrite = overwrite
        self.resume = resume
        self.path = None  #: where files are written now: staging, then the target
        self.committed = False
        # Operations use the resolved path: a symlinked target keeps its link, and the
        # directory it points to is replaced.
        self._where = Path(os.path.realpath(self.target))
        self._stem = short_name(self._where.name)
        self._lock = filelock.FileLock(self._hidden("lock"), timeout=0)
        self._made = []  # parent folders this run created, deepest first
        self._staging = None
        self._pending = None  # the open Transaction of :meth:`transaction`

    # -- entering --------------------------------------------------------------------------

    def __enter__(self):
        if self.resume:  # an existing run, written in place under the lock
            with reporting_os_errors(f"lock run directory {self.target}"):
                if not self._where.is_dir():
                    raise PyroVAEError(f"run directory {self.target} does not exist")
                self._acquire()
                try:
                    recover(self._where)  # a crashed transaction: finished or undone
                except BaseException:
                    self._lock.release()
                    raise
            self.committed = True
            self.path = self.target
            return self
        try:
            with reporting_os_errors(f"create run directory {self.target}"):
                self._make_parents()
                self._acquire()
                self._refuse_existing()
                self._remove_leftovers()
                self._staging = self._hidden(f"{os.getpid()}-{secrets.token_hex(4)}.staging")
                os.mkdir(self._staging, 0o777)  # the kernel applies the umask
        except BaseException:
            self._close()
            raise
        self.path = self._staging
        return self

    def _hidden(self, tag):
        return self._where.with_name(f".{self._stem}.{tag}")

    def _make_parents(self):
        missing = []
        folder = self._where.parent
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            try:
                os.mkdir(folder, 0o777)
            except FileExistsError:  # made by someone else meanwhile: not ours to remove
                continue
            self._made.insert(0, folder)

    def _acquire(self):
        try:
            self._lock.acquire()
        except filelock.Timeout:
            raise PyroVAEError(
                f"{self.target} is being written by another pyrovae run; wait for it to "
                "finish or choose another run directory"
            ) from None

    def _refuse_existing(self):
        """Refuse a file or, without ``overwrite``, a non-empty directory. ``stat`` also refuses
        a name the file system cannot hold (ENAMETOOLONG) now rather than at the commit."""
        try:
            mode = os.stat(self._where).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(mode):
            raise PyroVAEError(f"run directory {self.target} is a file; choose a directory")
        with os.scandir(self._where) as entries:
            empty = next(entries, None) is None
        if not empty and not self.overwrite:
            raise PyroVAEError(
                f"run directory {self.target} already exists and is not empty; choose another "
                "run directory or overwrite it"
            )

    def _remove_leftovers(self):
        """Staging and replaced runs of this target that a killed run left (we hold the lock,
        so no live run owns one)."""
        pattern = re.compile(re.escape(f".{self._stem}.") + r"\d+-[0-9a-f]+\.(staging|old)")
        for entry in os.scandir(self._where.parent):
            if pattern.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)

    # -- transactions on the run's files ---------------------------------------------------

    def transaction(self):
        """The pending :class:`~pyrovae.files.Transaction` on :attr:`path` (opened by the first
        call since the last :meth:`commit_files`): stage files into it, then
        :meth:`commit_files`."""
        if self.path is None:
            raise RuntimeError("RunDirectory.transaction() outside its with block")
        if self._pending is None or Path(self._pending.folder) != Path(self.path):
            if self._pending is not None:
                self._pending.abort()
            self._pending = Transaction(self.path)
        return self._pending

    def commit_files(self, last=()):
        """Commit the pending transaction (nothing when none is open): every file staged since
        the last commit replaces its old version, together. ``last``: names renamed after the
        others."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.commit(last=last)

    # -- committing ------------------------------------------------------------------------

    def commit(self):
        """Put the staged run in the target's place, whole; from now on :attr:`path` is the
        target. Refuses (one line) a target that another program filled meanwhile, unless
        ``overwrite``.

        :returns: the target.
        """
        if self.committed:
            return self.target
        if self._staging is None:
            raise RuntimeError("RunDirectory.commit() outside its with block")
        old = None
        with reporting_os_errors(f"move the run into {self.target}"):
            try:
                os.rename(self._staging, self._where)  # target absent or an empty directory
            except OSError as e:
                if e.errno == errno.ENOTDIR:
                    raise PyroVAEError(
                        f"run directory {self.target} became a file while the run was "
                        "written; choose a directory"
                    ) from None
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                if not self.overwrite:
                    raise PyroVAEError(
                        f"run directory {self.target} was filled by another program while the "
                        "run was written; choose another run directory or overwrite it"
                    ) from None
                old = self._swap()
            self.committed = True
            self.path = self.target
            self._staging = None
            fsync_folder(self._where.parent)
        if old is not None:
            try:
                shutil.rmtree(old)
            except OSError as e:
                warnings.warn(
                    f"the run in {self.target} was replaced, but the old one could not be "
                    f"deleted from {old} ({e.strerror}); delete it by hand",
                    stacklevel=2,
                )
        return self.target

    def _swap(self):
        """Rename the old run aside and the staged one into its place (undone if the second
        rename fails); returns where the old one is now."""
        old = self._hidden(f"{os.getpid()}-{secrets.token_hex(4)}.old")
        os.replace(self._where, old)
        try:
            os.rename(self._staging, self._where)
        except BaseException:
            os.replace(old, self._where)
            raise
        return old

    # -- leaving ---------------------------------------------------------------------------

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.commit_files()  # files staged and not yet committed: theirs too
                if not self.committed:
                    self.commit()
        finally:
            self._close()
        return False

    def _close(self):
        """Abort a pending transaction, delete what an uncommitted run made (staging, created
        parents) and unlock."""
        if self._pending is not None:
            self._pending.abort()
            self._pending = None
        if not self.committed and self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
            self.path = None
        if self._lock.is_locked:
            self._lock.release()
        if not self.committed:
            if self._made:  # a parent folder we made holds only our lock file
                with contextlib.suppress(OSError):
                    os.unlink(self._hidden("lock"))
            for folder in self._made:
                with contextlib.suppress(OSError):
                    os.rmdir(folder)
            self._made = []


def check_target(target, overwrite=False, resume=False):
    """Make the checks :class:`RunDirectory` makes on entering, writing nothing: the same one
    line for a file in the way, a non-empty directory without ``overwrite`` (with ``resume``:
    a missing run) and a run directory another pyrovae run is writing.

    Every rank of a torchrun launch calls it before any work (rank 0 alone writes), so that all
    of them refuse a bad target with the same line instead of some starting to train. The lock
    is only tried when its file exists (a holder made it); under torchrun it waits up to
    :data:`RANKS_LOCK_WAIT` seconds, since the ranks' own checks hold it for an instant each.
    """
    run = RunDirectory(target, overwrite=overwrite, resume=resume)
    with reporting_os_errors(f"check run directory {run.target}"):
        if resume:
            if not run._where.is_dir():
                raise PyroVAEError(f"run directory {run.target} does not exist")
        else:
            run._refuse_existing()
        lock_file = run._hidden("lock")
        if not lock_file.exists():
            return
        lock = filelock.FileLock(lock_file,
                                 timeout=RANKS_LOCK_WAIT if distributed.launched() else 0)
        try:
            lock.acquire()
        except filelock.Timeout:
            run._acquire()  # raises the one line (the lock is still held)
        else:
            lock.release()


def recover_run(target):
    """For a reader of a run directory: finish or undo what a crashed transaction left in it
    (:func:`~pyrovae.files.recover`), when there is something and no run is writing it now;
    returns whether it did. A reader that cannot take the lock (a run writes there, or the
    folder is read-only) just reads: a committed transaction's renames take microseconds."""
    where = Path(os.path.realpath(target))
    try:
        with os.scandir(where) as entries:
            names = [e.name for e in entries]
    except OSError:
        return False
    if JOURNAL not in names and not any(STAGED.fullmatch(n) for n in names):
        return False
    lock = filelock.FileLock(where.with_name(f".{short_name(where.name)}.lock"),
                             timeout=RANKS_LOCK_WAIT if distributed.launched() else 0)
    try:
        lock.acquire()
    except (filelock.Timeout, OSError):
        return False
    try:
        return recover(where)
    except OSError:
        return False
    finally:
        lock.release()
