"""The run directory: resolved config, metrics, checkpoints and pictures of one training run.

::

    <run>/config.toml       the fully resolved config (every default filled in)
    <run>/metrics.csv       one row per epoch
    <run>/checkpoint.pt     the latest weights, written atomically every epoch
    <run>/samples.png       a grid of samples from the prior
    <run>/reconstructions.png   test images (odd rows) and their reconstructions (even rows)

A run is a transaction (:class:`RunDirectory`): it is built in a hidden staging directory beside
its target and moved into place whole by :meth:`RunDirectory.commit`, so the target never holds
a mixture of two runs, and a run that fails before its commit leaves nothing behind. Every file
is written by :func:`atomic_write` (temporary name, ``fsync``, rename, ``fsync`` of the folder),
so a crash never leaves a half-written file, and checkpoints are read with
``torch.load(weights_only=True)``. An operating-system error (disk full, read-only folder, name
too long, ...) becomes one :class:`~pyrovae.errors.PyroVAEError` line that says how to fix it
(:func:`os_error`).
"""

import contextlib
import csv
import ctypes
import errno
import fcntl
import functools
import hashlib
import io
import os
import pickle
import re
import secrets
import shutil
import stat
import tomllib
import warnings
from pathlib import Path

import tomli_w
import torch

from .config import config_from_dict, config_to_dict
from .errors import CheckpointError, ConfigError, PyroVAEError
from .plugins import PluginError

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "METRICS",
    "RunDirectory",
    "atomic_write",
    "load_checkpoint",
    "load_run_config",
    "open_run",
    "read_checkpoint",
    "canonical_config",
    "read_metrics",
    "run_files",
    "write_results",
    "os_error",
    "reporting_os_errors",
    "save_checkpoint",
    "write_config",
    "write_metrics",
]

CONFIG = "config.toml"
METRICS = "metrics.csv"
CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
RESULTS = "results.json"
#: the files of every run, in the order ``pyrovae train`` lists them (then the figures)
RUN_FILES = ("config.toml", "metrics.csv", "checkpoint.pt", "best.pt", "results.json")
FORMAT = "pyrovae-checkpoint"
#: the checkpoint format; 2 added the training state that ``train --resume`` needs; 3 the
#: global step count that keys the guide's noise (:mod:`pyrovae.noise`)
VERSION = 3

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


def os_error(e, doing, elsewhere="another --out"):
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
def reporting_os_errors(doing, elsewhere="another --out"):
    """Turn any ``OSError`` raised in the block into :func:`os_error`'s one-line error
    (chained, so ``__cause__`` keeps the original)."""
    try:
        yield
    except OSError as e:
        raise os_error(e, doing, elsewhere) from e


# -- durable files ----------------------------------------------------------------------------


def _fsync_folder(folder):
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


def _short(name):
    """``name``, or a shortened form with a hash when hidden names built from it would pass the
    file system's 255-byte limit on a name."""
    if len(os.fsencode(name)) <= 200:
        return name
    return f"{name[:40]}~{hashlib.sha256(os.fsencode(name)).hexdigest()[:16]}"


def _unlink_quietly(path):
    with contextlib.suppress(OSError):
        os.unlink(path)


def atomic_write(path, write, elsewhere="another --out"):
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
            tmp = path.with_name(f".{_short(path.name)}.{secrets.token_hex(4)}.tmp")
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
        _fsync_folder(path.parent)
    return path


# -- a run as a transaction -------------------------------------------------------------------

AT_FDCWD = -100
RENAME_EXCHANGE = 2  # renameat2 flag (Linux >= 3.15): swap two paths atomically


@functools.cache
def _renameat2():
    """libc's ``renameat2`` (glibc >= 2.28), or ``None`` where there is none."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def _exchange(a, b):
    """Swap the paths ``a`` and ``b`` in one step; ``False`` where the kernel, libc or file
    system cannot (then nothing was changed)."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


class RunDirectory:
    """One training run as a transaction on its target directory.

    ::

        with RunDirectory("runs/mnist", overwrite=True) as run:
            write_config(run.path, config)       # written into a hidden staging directory
            ...                                  # first epoch, first checkpoint
            run.commit()                         # the staged run takes the target's place whole
            ...                                  # later epochs write into the target itself

    On enter the target is refused if it is a file, or a non-empty directory without
    ``overwrite``; an exclusive lock (``flock`` on ``.<name>.lock`` beside the target) keeps two
    pyrovae runs from writing the same target; missing parent folders are created, and a fresh
    staging directory ``.<name>.<pid>-<random>.staging`` beside the target (mode 0777 less the
    umask, like ``mkdir``). Staging directories that a killed run left behind are removed.

    :meth:`commit` renames the staging directory onto the target (absent or empty), or with
    ``overwrite`` swaps the two atomically (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere the
    old run is renamed aside first) and deletes the old run. Readers therefore see the old run
    or the new one, never a mixture.

    Leaving the block with an exception before :meth:`commit` deletes the staging directory,
    the lock file and any parent folder it created: an old run stays byte-identical and nothing
    is left behind. After :meth:`commit` the committed run is kept as it is (its last checkpoint
    stays loadable). Leaving normally commits if that has not happened yet.

    With ``resume=True`` the target is an existing run, continued in place: only the lock is
    taken (``train --resume``), and files are replaced one by one, each atomically.

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
        self._stem = _short(self._where.name)
        self._lock_path = self._where.with_name(f".{self._stem}.lock")
        self._lock_fd = None
        self._made = []  # parent folders this run created, deepest first
        self._staging = None

    # -- entering --------------------------------------------------------------------------

    def __enter__(self):
        if self.resume:  # an existing run, written in place under the lock
            with reporting_os_errors(f"lock run directory {self.target}"):
                if not self._where.is_dir():
                    raise PyroVAEError(f"run directory {self.target} does not exist")
                self._lock()
            self.committed = True
            self.path = self.target
            return self
        try:
            with reporting_os_errors(f"create run directory {self.target}"):
                self._make_parents()
                self._lock()
                self._refuse_existing()
                self._remove_stale_staging()
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

    def _lock(self):
        """Hold an exclusive ``flock`` on the lock file. A previous holder unlinks the file as
        it leaves, so after acquiring, the file must still be the one at the path (same inode);
        otherwise open the new one and try again."""
        while True:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                os.close(fd)
                pid = f" (pid {holder})" if holder.isdigit() else ""
                raise PyroVAEError(
                    f"{self.target} is being written by another pyrovae run{pid}; wait for it "
                    "to finish or choose another --out"
                ) from None
            except BaseException:
                os.close(fd)
                raise
            try:
                current = os.stat(self._lock_path)
            except FileNotFoundError:
                current = None
            held = os.fstat(fd)
            if current is not None and (current.st_ino, current.st_dev) == (
                held.st_ino,
                held.st_dev,
            ):
                break
            os.close(fd)
        self._lock_fd = fd
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)

    def _refuse_existing(self):
        """Refuse a file or, without ``overwrite``, a non-empty directory. ``stat`` also refuses
        a name the file system cannot hold (ENAMETOOLONG) now rather than at the commit."""
        try:
            mode = os.stat(self._where).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(mode):
            raise PyroVAEError(f"--out {self.target} is a file; choose a directory")
        with os.scandir(self._where) as entries:
            empty = next(entries, None) is None
        if not empty and not self.overwrite:
            raise PyroVAEError(
                f"run directory {self.target} already exists and is not empty; choose another "
                "--out or pass --overwrite"
            )

    def _remove_stale_staging(self):
        """Staging directories of this target that a killed run left (we hold the lock, so no
        live run owns one)."""
        pattern = re.compile(re.escape(f".{self._stem}.") + r"\d+-[0-9a-f]+\.staging")
        for entry in os.scandir(self._where.parent):
            if pattern.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)

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
                        f"--out {self.target} became a file while the run was written; "
                        "choose a directory"
                    ) from None
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                if not self.overwrite:
                    raise PyroVAEError(
                        f"run directory {self.target} was filled by another program while the "
                        "run was written; choose another --out or pass --overwrite"
                    ) from None
                old = self._swap()
            self.committed = True
            self.path = self.target
            self._staging = None
            _fsync_folder(self._where.parent)
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
        """Put the staged run in place of the old one; returns where the old one is now."""
        if _exchange(self._staging, self._where):
            return self._staging  # the old run now has the staging name
        old = self._hidden(f"{os.getpid()}-{secrets.token_hex(4)}.old")
        os.rename(self._where, old)
        try:
            os.rename(self._staging, self._where)
        except BaseException:
            os.rename(old, self._where)
            raise
        return old

    # -- leaving ---------------------------------------------------------------------------

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None and not self.committed:
                self.commit()
        finally:
            self._close()
        return False

    def _close(self):
        """Delete what an uncommitted run made (staging, created parents) and unlock."""
        if not self.committed and self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
            self.path = None
        if self._lock_fd is not None:
            _unlink_quietly(self._lock_path)  # unlinked while held: see _lock
            os.close(self._lock_fd)
            self._lock_fd = None
        if not self.committed:
            for folder in self._made:
                with contextlib.suppress(OSError):
                    os.rmdir(folder)
            self._made = []


def open_run(run_dir, device="cpu", data_dir=None, checkpoint="best"):
    """A trained run, ready to evaluate: ``(config, module, checkpoint_state, device)``.

    :param str device: where to put the module (``cpu``, ``cuda``, ``cuda:N``, ``auto``).
    :param data_dir: replaces the run's ``data.dir`` (the data moved since training).
    :param str checkpoint: ``"best"`` (``best.pt``, the best validation ELBO; the last epoch's
        ``checkpoint.pt`` for runs without one) or ``"last"``.
    """
    from .training import resolve_device

    config = load_run_config(run_dir)
    if data_dir is not None:
        config.data.dir = str(data_dir)
    device = resolve_device(device)
    name = BEST if checkpoint == "best" and (Path(run_dir) / BEST).exists() else CHECKPOINT
    module, state = load_checkpoint(run_dir, config, device, name=name)
    module.eval()
    return config, module, state, device


def write_results(run_dir, result):
    """``results.json``: the run's summary (see :meth:`pyrovae.training._Session.results`), as strict
    JSON (NaN and infinities become ``null``)."""
    import json

    from .compare import jsonable

    text = (json.dumps(jsonable(result), indent=2) + "\n").encode()
    return atomic_write(Path(run_dir) / RESULTS, lambda f: f.write(text))


def run_files(run_dir):
    """The names of the files a run wrote: ``results.json``'s ``files`` (the run's own files
    and its kind's figures, as they were written), or for a run without it those of
    :data:`RUN_FILES` that exist."""
    import json

    try:
        with open(Path(run_dir) / RESULTS) as f:
            files = json.load(f).get("files")
    except (OSError, ValueError, AttributeError):
        files = None
    if not isinstance(files, list):
        files = [name for name in RUN_FILES if (Path(run_dir) / name).exists()]
    return [str(name) for name in files]


def write_config(run_dir, config):
    text = tomli_w.dumps(config_to_dict(config)).encode()
    return atomic_write(Path(run_dir) / CONFIG, lambda f: f.write(text))


def load_run_config(run_dir):
    """The resolved config of a run directory; its own code (``[plugins]``, a model file) is
    imported first, and refused in one line if it has changed or gone."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise PyroVAEError(f"run directory {run_dir} does not exist")
    path = run_dir / CONFIG
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise PyroVAEError(f"{run_dir} is not a pyrovae run: {CONFIG} is missing") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is corrupt: {' '.join(str(e).split())}") from None
    except OSError as e:
        raise os_error(e, f"read {path}", elsewhere="a readable run") from None
    try:
        return config_from_dict(raw, where=str(path))
    except PluginError as e:  # the run's own code: changed, gone, or failing to import
        raise PluginError(f"{run_dir}: {e}") from None
    except ConfigError as e:
        raise CheckpointError(f"{path} is not a valid pyrovae config: {e}") from None


def write_metrics(run_dir, rows):
    """Write all epoch rows (dicts) to ``metrics.csv``: one column per key seen in any row (in
    order of appearance, the wall time last), an empty cell where a row lacks it (the
    validation columns of epochs without validation). Floats are written with ``repr``, so
    :func:`read_metrics` gives back exactly the numbers written."""
    buffer = io.StringIO()
    fields = list(dict.fromkeys(key for row in rows for key in row))
    if "epoch_seconds" in fields:
        fields.append(fields.pop(fields.index("epoch_seconds")))
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    return atomic_write(Path(run_dir) / METRICS, lambda f: f.write(data))


def read_metrics(run_dir):
    """The rows of a run's ``metrics.csv``: numbers as ``int``/``float``, empty cells dropped,
    other text kept (e.g. ``valid_kl_method``); ``[]`` if there is no such file."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    with reporting_os_errors(f"read {path}"), open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    parsed = []
    for row in rows:
        out = {}
        for key, text in row.items():
            if text in ("", None):
                continue
            try:
                out[key] = int(text)
            except ValueError:
                try:
                    out[key] = float(text)
                except ValueError:
                    out[key] = text
        parsed.append(out)
    return parsed


def save_checkpoint(run_dir, module, config, *, event_shape, num_classes, epoch, optimizer=None,
                    training=None, name=None):
    """Atomically save the weights together with what is needed to rebuild the module.

    :param dict training: for ``checkpoint.pt``, everything else that decides the run's future
        (the trainer's, the batches' and the random states), read by ``train --resume``.
    :param str name: the file name (default ``checkpoint.pt``; ``best.pt`` for the best).
    """
    from . import __version__

    state = {
        "format": FORMAT,
        "version": VERSION,
        "pyrovae": __version__,
        "config": config_to_dict(config),
        "event_shape": list(event_shape),
        "num_classes": num_classes,
        "epoch": int(epoch),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
    }
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if training is not None:
        state["training"] = training
    # Serialized in memory first: torch's zip writer turns a failing write (a full disk) into
    # an opaque RuntimeError and may leave a torn file; one write of bytes raises a plain
    # OSError that atomic_write reports.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getbuffer()
    return atomic_write(Path(run_dir) / (name or CHECKPOINT), lambda f: f.write(data))


def canonical_config(raw):
    """A saved config dict as this version of pyrovae reads it: defaults of options added since
    filled in, so a checkpoint is compared with its config.toml key by key (a dict it cannot
    read any more is returned as it was, and then differs)."""
    try:
        return config_to_dict(config_from_dict(raw))
    except PyroVAEError:
        return raw


#: what every pyrovae checkpoint holds
REQUIRED = ("config", "event_shape", "state_dict", "epoch")


def read_checkpoint(path):
    """The dict saved in a checkpoint file, read with ``torch.load(weights_only=True)``.

    Refuses, in one line each: a missing or unreadable file, one that needs pickled Python
    code (which pyrovae never executes), a corrupt file, and a file that is not a pyrovae
    checkpoint or lacks one of :data:`REQUIRED`.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} is missing; the run has not finished an epoch")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as e:
        raise os_error(e, f"read {path}", elsewhere="a readable run") from None
    except pickle.UnpicklingError as e:
        if "unsupported global" in str(e).lower():  # a class or function to be imported
            raise CheckpointError(
                f"{path} contains pickled Python objects, which pyrovae will not execute (they "
                "can run arbitrary code); a checkpoint written by pyrovae train holds tensors "
                "and plain values only"
            ) from None
        raise CheckpointError(f"{path} is corrupt or not a checkpoint (UnpicklingError); "
                              "retrain the run") from None
    except Exception as e:  # torch raises many types for a corrupt file
        raise CheckpointError(
            f"{path} is corrupt or not a checkpoint ({type(e).__name__}); retrain the run"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a pyrovae checkpoint")
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise CheckpointError(
            f"{path} is missing {', '.join(repr(k) for k in missing)}; it was not written by "
            "pyrovae train (or was edited); retrain the run"
        )
    return state


def load_checkpoint(run_dir, config, device="cpu", name=None):
    """Rebuild the module of a run from its config and load its weights.

    Refuses a checkpoint that is missing, corrupt, not a pyrovae checkpoint, or whose model
    section or weights do not match ``config`` (see :func:`read_checkpoint`).

    :param str name: the file (default ``checkpoint.pt``; ``best.pt`` for the best epoch).
    :returns: ``(module, checkpoint_dict)``.
    """
    from .models.base import build_model

    path = Path(run_dir) / (name or CHECKPOINT)
    state = read_checkpoint(path)
    saved_model = canonical_config(state["config"]).get("model")
    current_model = config_to_dict(config)["model"]
    if saved_model != current_model:
        keys = sorted(
            k
            for k in set(saved_model or {}) | set(current_model)
            if (saved_model or {}).get(k) != current_model.get(k)
        )
        raise CheckpointError(
            f"{path} does not match {Path(run_dir) / CONFIG}: model settings differ in "
            f"{', '.join('model.' + k for k in keys)}; restore the run's config or retrain"
        )
    module = build_model(config, tuple(state["event_shape"]), state.get("num_classes"))
    try:
        module.load_state_dict(state["state_dict"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise CheckpointError(f"{path} does not match its config: {detail}") from None
    return module.to(device), state
