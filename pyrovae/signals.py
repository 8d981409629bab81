"""SIGTERM and SIGHUP handled like Ctrl-C: the command stops cleanly and its run stays resumable.

Ctrl-C raises ``KeyboardInterrupt`` in the main thread, which unwinds every ``with`` block on the
way out: a run directory's lock is released, a staging folder removed, and the last checkpoint
(written atomically) stays whole. A terminal that closes (SIGHUP), ``kill``, a batch scheduler
or torchrun stopping the job (SIGTERM) would by default end the process on the spot, with no
message and the lock left behind. Inside :func:`handle_termination` those signals raise
:class:`Terminated` instead, a ``KeyboardInterrupt`` subclass, so every handler written for Ctrl-C
(``except KeyboardInterrupt``, ``finally``, context managers) handles them the same way::

    with handle_termination():
        run_the_command()          # SIGTERM here raises Terminated("SIGTERM")

The previous handlers come back when the block ends. Python delivers signals to the main thread
only, so in any other thread the block changes nothing.
"""

import contextlib
import signal
import threading

__all__ = ["SIGNALS", "Terminated", "handle_termination"]

#: the signals turned into :class:`Terminated` (SIGHUP does not exist on Windows)
SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
                if s is not None)


class Terminated(KeyboardInterrupt):
    """The process received a termination signal (see :func:`handle_termination`).

    :ivar int signum: the signal's number (the conventional exit status is ``128 + signum``).
    :ivar str name: its name, e.g. ``"SIGTERM"``.
    """

    def __init__(self, signum):
        self.signum = int(signum)
        try:
            self.name = signal.Signals(self.signum).name
        except ValueError:
            self.name = f"signal {self.signum}"
        super().__init__(self.name)

    @property
    def exit_status(self):
        """``128 + signum``: what a shell reports for a process ended by the signal."""
        return 128 + self.signum


@contextlib.contextmanager
def handle_termination(signals=SIGNALS):
    """While the block runs (in the main thread), raise :class:`Terminated` on ``signals``.

    The first signal raises; any that follow while the block unwinds are ignored, so a second
    SIGTERM cannot interrupt the clean-up the first one started. The handlers in place before
    the block are restored when it ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []

    def handler(signum, frame):
        if received:  # already stopping: let the clean-up finish
            return
        received.append(signum)
        raise Terminated(signum)

    previous = {}
    try:
        for signum in signals:
            previous[signum] = signal.signal(signum, handler)
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)
