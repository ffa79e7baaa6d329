"""Options as text a user can paste: quoted for the shell and for Hydra's parser."""

from __future__ import annotations

import re
import shlex

# What Hydra reads as a plain value, unquoted (ASCII letters, digits and a few marks)
PLAIN_VALUE = re.compile(r"[A-Za-z0-9_./+:@~-]+")


def command_option(name: str, value) -> str:
    """``name=value`` as one shell word that Hydra reads back as ``value``.

    A value Hydra would not take unquoted (spaces, non-ASCII letters, ``=``,
    brackets) is put in Hydra's double quotes, and the whole word in the shell's
    quotes where it needs them: ``run=runs/a``, ``'run="runs/héllo"'``.
    """
    text = str(value)
    if not PLAIN_VALUE.fullmatch(text):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return shlex.quote(f"{name}={text}")
