"""The one exception type that user-facing code raises for bad input."""


class LandscapeError(Exception):
    """A problem the user can fix; its message is one line naming the problem and fix.

    The command line prints it as ``error: <message>`` and exits non-zero, without a
    traceback.
    """
