"""Files that survive a crash, and operating-system errors as one line.

Every file pyrovae writes goes through :func:`atomic_write`: a temporary name beside the target,
``fsync``, :func:`os.replace` over the target, ``fsync`` of the folder. A reader sees the old
file or the new one, never a part, and a crash never leaves a half-written file.

Files that belong together (an epoch's metrics row and checkpoints, a run's final reports) are
written as one :class:`Transaction` on their folder: each is staged whole under a hidden name
beside its target (``.<name>.<random>.staged``, ``fsync``-ed), then one small journal
(``.pyrovae.journal``, written atomically: the commit point) lists the renames, they are done,
the folder is ``fsync``-ed and the journal removed. A failure before the journal leaves every old
file byte-identical; a crash after it is finished by :func:`recover`, which rolls a journal
forward and deletes staged files no journal names. Inside :meth:`Transaction.staging`,
:func:`atomic_write` into the transaction's folder stages into it instead of replacing at once,
so writers that know nothing of transactions (a checkpoint, a figure) take part in one.

An ``OSError`` (disk full, read-only folder, name too long, ...) becomes one
:class:`~pyrovae.errors.PyroVAEError` line that says what happened and how to fix it
(:func:`os_error`).
"""

import contextlib
import contextvars
import errno
import hashlib
import json
import os
import re
import secrets
from pathlib import Path

from .errors import PyroVAEError

__all__ = [
    "JOURNAL",
    "Transaction",
    "atomic_write",
    "fsync_folder",
    "os_error",
    "recover",
    "reporting_os_errors",
    "short_name",
    "shown",
    "transaction",
]

# -- operating-system errors as one line ------------------------------------------------------

#: How to fix an OS error, by errno; ``{elsewhere}`` names the alternative output place.
OS_ERROR_HINTS = {
    errno.ENOSPC: "free some disk space or choose {elsewhere}",
    errno.EDQUOT: "free some space within your disk quota or choose {elsewhere}",
    errno.EROFS: "choose {elsewhere} on a writable file system",
    errno.EACCES: "check the folder's permissions or choose {elsewhere}",
    errno.EPERM: "check the folder's permissions or choose {elsewhere}",
    errno.ENAMETOOLONG: "choose a shorter name",
    errno.ENOENT: "check that its folder exists",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose {elsewhere}",
    errno.EISDIR: "a folder is in the way; choose {elsewhere}",
    errno.ELOOP: "the path has a loop of symbolic links; choose {elsewhere}",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n)",
    errno.ENFILE: "too many open files on this system; close some programs and retry",
    errno.EFBIG: "the file is too large for this file system; choose {elsewhere}",
    errno.EIO: "the disk reported an input/output error; check it or choose {elsewhere}",
}
DEFAULT_OS_ERROR_HINT = "check the path or choose {elsewhere}"


def os_error(e, doing, elsewhere="another output directory"):
    """The :class:`~pyrovae.errors.PyroVAEError` to raise for the ``OSError`` ``e``: one line
    ``cannot <doing>: <what happened>; <how to fix it>``.

    :param OSError e: the error (its ``strerror`` and ``errno`` are used; its ``filename`` is
        not, since it may be a temporary name the user never chose).
    :param str doing: what was being done, naming the user's path, e.g. ``"write out/x.pt"``.
    :param str elsewhere: the alternative the hint offers, e.g. ``"another -o"``.
    """
    what = e.strerror or str(e) or type(e).__name__
    hint = OS_ERROR_HINTS.get(e.errno, DEFAULT_OS_ERROR_HINT).format(elsewhere=elsewhere)
    return PyroVAEError(f"cannot {doing}: {what}; {hint}".replace("\n", " "))  # one line


@contextlib.contextmanager
def reporting_os_errors(doing, elsewhere="another output directory"):
    """Turn any ``OSError`` raised in the block into :func:`os_error`'s one-line error
    (chained, so ``__cause__`` keeps the original)."""
    try:
        yield
    except OSError as e:
        raise os_error(e, doing, elsewhere) from e


# -- names as they can be printed ------------------------------------------------------------


def shown(text):
    """``text`` as it can be printed: the bytes of a name that is not valid UTF-8 (decoded
    with ``surrogateescape``, as Python decodes such command lines and file names) as ``\\xff``."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate no byte decodes to
            return text.encode("utf-8", "backslashreplace").decode("utf-8")


# -- durable files ----------------------------------------------------------------------------


def fsync_folder(folder):
    """Make the entries of ``folder`` (a rename into it) durable. File systems that cannot
    sync a directory (some network ones) say EINVAL; then there is nothing more to do."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def short_name(name):
    """``name``, or a shortened form with a hash when hidden names built from it would pass the
    file system's 255-byte limit on a name."""
    if len(os.fsencode(name)) <= 200:
        return name
    return f"{name[:40]}~{hashlib.sha256(os.fsencode(name)).hexdigest()[:16]}"


def _unlink_quietly(path):
    with contextlib.suppress(OSError):
        os.unlink(path)


def atomic_write(path, write, elsewhere="another output directory"):
    """Call ``write(file_object)`` on a temporary file beside ``path``, then put it there.

    The file is flushed and ``fsync``-ed, renamed over ``path`` (readers see the old file or
    the new one, never a part), and the folder is ``fsync``-ed so the rename survives a crash.
    The file is created with mode ``0o666`` filtered by the umask (0644 under umask 022), like
    any file a program creates. On any error the temporary file is removed and ``path`` is
    untouched; an ``OSError`` becomes one :class:`~pyrovae.errors.PyroVAEError` line whose
    hint names ``elsewhere`` (e.g. ``"another -o"`` for ``pyrovae sample``).

    :returns: ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    active = _ACTIVE.get()
    if active is not None and active.holds(path):  # inside Transaction.staging(): stage it
        return active.write(path, write, elsewhere)
    with reporting_os_errors(f"write {path}", elsewhere):
        tmp = _write_temporary(path, write, "tmp")
        try:
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        fsync_folder(path.parent)
    return path


def _write_temporary(path, write, suffix):
    """``write(file_object)`` on a new hidden file beside ``path``, flushed and ``fsync``-ed;
    returns its path (removed again if anything fails)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = path.with_name(f".{short_name(path.name)}.{secrets.token_hex(4)}.{suffix}")
        try:
            fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


# -- transactions on a folder -----------------------------------------------------------------

#: the journal of a committed transaction whose renames may not all be done yet
JOURNAL = ".pyrovae.journal"
#: the names of staged files (a transaction's, its journal's own temporary)
STAGED = re.compile(r"\..+\.[0-9a-f]{8}\.staged")
#: the transaction whose folder atomic_write stages into now (Transaction.staging)
_ACTIVE = contextvars.ContextVar("pyrovae_transaction", default=None)


def _resolved(folder):
    return Path(os.path.realpath(folder))


class Transaction:
    """Files of one folder replaced together: after :meth:`commit` every one is new; after a
    failure before it (or :meth:`abort`) every one is as it was.

    ::

        tx = Transaction(run_dir)
        tx.write(run_dir / "metrics.csv", lambda f: f.write(data))
        with tx.staging():                       # atomic_write into run_dir stages into tx
            save_checkpoint(run_dir, ...)
        tx.commit()                              # the commit point: the journal

    :meth:`write` stages a file whole (``fsync``-ed) under a hidden name beside its target;
    staging a target again replaces its staged version. :meth:`commit` writes the journal
    atomically (the commit point), renames every staged file onto its target in the order they
    were first staged, ``fsync``-s the folder and removes the journal; a crash after the
    journal is finished by :func:`recover`. An ``OSError`` becomes one
    :class:`~pyrovae.errors.PyroVAEError` line naming the file (and ``elsewhere``).

    Use :func:`transaction` for a ``with`` block that commits on success and aborts on error.
    """

    def __init__(self, folder, elsewhere="another output directory"):
        self.folder = Path(folder)
        self.elsewhere = elsewhere
        self._where = _resolved(self.folder)
        self._staged = {}  # target name -> its staged temporary path, in staging order
        self.done = False

    def holds(self, path):
        """Whether ``path`` is a file of this transaction's folder."""
        return not self.done and _resolved(Path(path).parent) == self._where

    @property
    def names(self):
        """The names of the files staged so far, in order."""
        return list(self._staged)

    def write(self, path, write, elsewhere=None):
        """Stage ``write(file_object)`` as the new ``path`` (a file of this folder, or a bare
        name). Returns ``path`` as a :class:`~pathlib.Path`."""
        if self.done:
            raise RuntimeError("Transaction.write() after its commit or abort")
        path = Path(path)
        if not self.holds(path):
            path = self.folder / path.name if path.parent == Path(".") else path
            if not self.holds(path):
                raise ValueError(f"{path} is not in the transaction's folder {self.folder}")
        name = path.name
        with reporting_os_errors(f"write {path}", elsewhere or self.elsewhere):
            tmp = _write_temporary(self._where / name, write, "staged")
        old = self._staged.pop(name, None)
        if old is not None:
            _unlink_quietly(old)
        self._staged[name] = tmp
        return path

    @contextlib.contextmanager
    def staging(self):
        """Inside the block, :func:`atomic_write` into this folder stages into this
        transaction."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    def commit(self, last=()):
        """Replace every staged file's target, together. ``last``: names renamed after the
        others (``results.json``: a run is finished when it exists)."""
        if self.done:
            raise RuntimeError("Transaction.commit() after its commit or abort")
        order = [n for n in self._staged if n not in last] + [n for n in self._staged if n in last]
        if not order:
            self.done = True
            return
        renames = [[self._staged[n].name, n] for n in order]
        journal = self._where / JOURNAL
        data = json.dumps({"renames": renames}).encode()
        with reporting_os_errors(f"write {self.folder / order[0]}", self.elsewhere):
            tmp = None
            try:
                tmp = _write_temporary(journal, lambda f: f.write(data), "staged")
                os.replace(tmp, journal)  # the commit point
            except BaseException:
                if tmp is not None:
                    _unlink_quietly(tmp)
                self.abort()
                raise
            self.done = True
            _roll_forward(self._where, renames)
            fsync_folder(self._where)
            _unlink_quietly(journal)

    def abort(self):
        """Remove every staged file: the folder is as it was."""
        for tmp in self._staged.values():
            _unlink_quietly(tmp)
        self._staged.clear()
        self.done = True


@contextlib.contextmanager
def transaction(folder, elsewhere="another output directory", last=()):
    """A :class:`Transaction` on ``folder`` whose block stages (:meth:`Transaction.staging`):
    committed when the block ends normally, aborted when it raises."""
    tx = Transaction(folder, elsewhere)
    try:
        with tx.staging():
            yield tx
    except BaseException:
        tx.abort()
        raise
    tx.commit(last=last)


def _roll_forward(folder, renames):
    for tmp, name in renames:
        if os.path.exists(folder / tmp):  # not yet renamed
            os.replace(folder / tmp, folder / name)


def recover(folder):
    """Finish what a crash left in ``folder``: a committed transaction's journal is rolled
    forward (each staged file still there renamed onto its target), then every staged file no
    journal names (an uncommitted transaction's) is deleted. A journal that cannot be read was
    never a commit point (it is written atomically; this one is not pyrovae's): it is removed
    with the staged files. Call it holding the folder's lock (no transaction of another
    process may be under way). Returns whether anything was left to finish or remove."""
    folder = _resolved(folder)
    journal = folder / JOURNAL
    found = os.path.lexists(journal)
    if found:
        renames = _renames(journal)
        if renames:
            _roll_forward(folder, renames)
            fsync_folder(folder)
        os.unlink(journal)
    with os.scandir(folder) as entries:
        leftovers = [e.name for e in entries
                     if STAGED.fullmatch(e.name) and e.is_file(follow_symlinks=False)]
    for name in leftovers:
        _unlink_quietly(folder / name)
    if found or leftovers:
        fsync_folder(folder)
    return found or bool(leftovers)


def _renames(journal):
    """The ``[staged name, target name]`` pairs of a journal; ``None`` when it is not one of
    pyrovae's (unreadable, or a name that is not a plain name in the folder)."""
    try:
        renames = json.loads(Path(journal).read_bytes())["renames"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    plain = all(
        isinstance(pair, list) and len(pair) == 2 and STAGED.fullmatch(str(pair[0]))
        and all(isinstance(n, str) and n not in ("", ".", "..") and os.path.basename(n) == n
                and n != JOURNAL for n in pair)
        for pair in renames
    ) if isinstance(renames, list) else False
    return renames if plain else None
