"""Give freed heap memory back to the operating system during long evaluations.

A 5 000-sample bound allocates and frees tensors of 10-30 MB thousands of times. glibc's
allocator raises its mmap threshold after such frees and then serves them from the heap, which
fragments: on a full MNIST test set the resident size was seen to climb past 15 GB although the
live tensors stay under 100 MB. ``malloc_trim(0)`` returns the free heap pages; calling it every
couple of seconds keeps the resident size flat at about 1% of the time.
"""

import ctypes
import ctypes.util
import time

__all__ = ["release_free_memory"]

_libc = None
_last = 0.0


def _malloc_trim():
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        try:
            _libc = ctypes.CDLL(name) if name else False
        except OSError:
            _libc = False
        if _libc is not False and not hasattr(_libc, "malloc_trim"):  # not glibc
            _libc = False
    if _libc is not False:
        _libc.malloc_trim(0)


def release_free_memory(every_seconds=2.0):
    """Call ``malloc_trim(0)`` (glibc only; elsewhere a no-op) at most every ``every_seconds``."""
    global _last
    now = time.monotonic()
    if now - _last >= every_seconds:
        _last = now
        _malloc_trim()
