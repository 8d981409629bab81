"""Progress bars for long work: training epochs, importance-sampled bounds, comparisons, M1 codes.

One place decides when a bar is shown: on a terminal (stderr is a TTY) unless asked otherwise,
never when ``enabled`` is ``False`` (``--quiet``). Bars are :mod:`tqdm`'s, so they show a rate and
an estimate of the time left.
"""

import sys

from tqdm import tqdm  # the text bar: tqdm.auto would want ipywidgets in a notebook

__all__ = ["format_duration", "progress_bar", "shows_progress"]


def shows_progress(enabled=None):
    """Whether a bar is shown: ``enabled`` if it is ``True`` or ``False``, else whether stderr
    is a terminal."""
    if enabled is None:
        return sys.stderr.isatty()
    return bool(enabled)


def progress_bar(total, desc=None, unit="it", enabled=None, **kwargs):
    """A :class:`tqdm.tqdm` bar on stderr of ``total`` steps (a disabled one, which costs
    nothing, when :func:`shows_progress` says no). Use it as a context manager and call
    ``update(n)``."""
    return tqdm(total=total, desc=desc, unit=unit, disable=not shows_progress(enabled),
                dynamic_ncols=True, file=sys.stderr, **kwargs)


def format_duration(seconds):
    """A rough, readable duration for an estimate: ``"under 1 s"``, ``"35 s"``, ``"4 min"``,
    ``"1 h 20 min"`` (rounded to the second below a minute, to the minute above; ``"unknown"``
    for NaN or infinity)."""
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return "unknown"
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {seconds}")
    if round(seconds) < 1:
        return "under 1 s"
    if round(seconds) < 60:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
