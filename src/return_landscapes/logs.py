"""Log lines: library code logs through ``logging``; the command line shows them.

Every module logs to its own ``logging.getLogger(__name__)`` under the package's
``return_landscapes`` logger. ``show_logs()`` prints those records on stderr, one line
each, without breaking a progress bar; the ``landscape`` command calls it, and so can
a notebook or script that wants the command's messages.

``progress_bar`` is the progress display of long work: a tqdm bar on a terminal,
plain log lines now and then where stderr is a file (SLURM logs).
"""

from __future__ import annotations

import logging
import sys
import time

PACKAGE_LOGGER = "return_landscapes"


class ProgressSafeHandler(logging.Handler):
    """Writes each record as a line on the current ``sys.stderr``, above any tqdm
    progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm.auto import tqdm

        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # logging must never raise into the computation
            self.handleError(record)


def show_logs(level: int = logging.INFO) -> None:
    """Print the package's log records of ``level`` and above on stderr (once)."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    logger.setLevel(level)
    if not any(isinstance(h, ProgressSafeHandler) for h in logger.handlers):
        handler = ProgressSafeHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.propagate = False


# ----------------------------------------------------------------------- progress

PROGRESS_LINE_SECONDS = 60.0
"""Seconds between the plain progress lines written where no bar is shown."""


def progress_bar(
    total: int,
    enabled: bool | None,
    unit: str,
    what: str,
    initial: int = 0,
    interval: float = PROGRESS_LINE_SECONDS,
):
    """The progress display of long work (``progress=`` of every command).

    ``enabled=True`` shows a tqdm bar on stderr, ``False`` nothing. ``None`` (the
    default) decides by itself: a bar when stderr is a terminal, else (a SLURM log,
    a pipe) a plain log line every ``interval`` seconds, as ``ProgressLines``
    writes it. Either object has tqdm's ``update``, ``set_postfix``,
    ``set_postfix_str`` and ``close`` and is a context manager.
    """
    if enabled is None and not stderr_is_terminal():
        return ProgressLines(total, unit, what, initial, interval)
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit=unit,
        desc=what,
        disable=enabled is False,
        dynamic_ncols=True,
        file=sys.stderr,
    )


def stderr_is_terminal() -> bool:
    """Whether the current ``sys.stderr`` is a terminal (not a file or pipe)."""
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # no stream, or a closed one
        return False


class ProgressLines:
    """Progress as occasional log lines, for logs no one watches live::

        train: 150,000/300,000 steps (50%), 1,234 steps/s, 2m 02s left; eval_return=812

    A line when ``interval`` seconds have passed since the last one (none for work
    that finishes sooner), and one at the end of work that wrote any.
    """

    def __init__(
        self,
        total: int,
        unit: str,
        what: str,
        initial: int = 0,
        interval: float = PROGRESS_LINE_SECONDS,
        clock=time.monotonic,
    ):
        self.total, self.unit, self.what = total, unit, what
        self.n = self.initial = initial
        self.interval, self.clock = interval, clock
        self.started = self.last = clock()
        self.postfix = ""
        self.lines, self.last_n = 0, initial

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.clock() - self.last >= self.interval:
            self._write()

    def set_postfix(self, ordered_dict=None, refresh=True, **values) -> None:
        values = {**(ordered_dict or {}), **values}
        self.postfix = ", ".join(f"{k}={_short(v)}" for k, v in values.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def close(self) -> None:
        if self.lines and self.last_n != self.n:
            self._write()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def line(self) -> str:
        """The progress line as of now."""
        now = self.clock()
        done = self.n - self.initial
        rate = done / max(now - self.started, 1e-9)
        text = f"{self.what}: {self.n:,}/{self.total:,} {self.unit}s"
        if self.total:
            text += f" ({100 * self.n / self.total:.0f}%)"
        text += f", {_short(rate)} {self.unit}s/s"
        if rate > 0 and self.n < self.total:
            text += f", {_duration((self.total - self.n) / rate)} left"
        return f"{text}; {self.postfix}" if self.postfix else text

    def _write(self) -> None:
        logging.getLogger(__name__).info(self.line())
        self.last, self.last_n = self.clock(), self.n
        self.lines += 1


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
