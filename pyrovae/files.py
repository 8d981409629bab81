"""Files that survive a crash, and operating-system errors as one line.

Every file pyrovae writes goes through :func:`atomic_write`: a temporary name beside the target,
``fsync``, :func:`os.replace` over the target, ``fsync`` of the folder. A reader sees the old
file or the new one, never a part, and a crash never leaves a half-written file.

An ``OSError`` (disk full, read-only folder, name too long, ...) becomes one
:class:`~pyrovae.errors.PyroVAEError` line that says what happened and how to fix it
(:func:`os_error`).
"""

import contextlib
import errno
import hashlib
import os
import secrets
from pathlib import Path

from .errors import PyroVAEError

__all__ = ["atomic_write", "fsync_folder", "os_error", "reporting_os_errors", "short_name"]

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
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    with reporting_os_errors(f"write {path}", elsewhere):
        while True:
            tmp = path.with_name(f".{short_name(path.name)}.{secrets.token_hex(4)}.tmp")
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
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        fsync_folder(path.parent)
    return path


