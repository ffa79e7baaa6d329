"""Log lines: library code logs through ``logging``; the command line shows them.

Every module logs to its own ``logging.getLogger(__name__)`` under the package's
``return_landscapes`` logger. ``show_logs()`` prints those records on stderr, one line
each, without breaking a progress bar; the ``landscape`` command calls it, and so can
a notebook or script that wants the command's messages.
"""

from __future__ import annotations

import logging
import sys

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
