"""Optional dependencies of env families, imported when a family is first used.

envpool steps the Atari games and Gymnasium's MuJoCo tasks; it is built for Linux
x86-64 only, so it is an extra (``pip install "return-landscapes[envpool]"``): Brax
training and every landscape command on Brax envs and Gymnasium envs run without it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from return_landscapes.errors import LandscapeError

ENVPOOL_EXTRA = "envpool"


def has_envpool() -> bool:
    """Whether envpool imports here."""
    try:
        import_envpool("envpool")
    except LandscapeError:
        return False
    return True


def import_envpool(envs: str) -> ModuleType:
    """envpool, or one line naming the extra that installs it.

    Args:
      envs: what needs it, for the message (``"env=mujoco:<Task>-v5"``).
    """
    try:
        return importlib.import_module("envpool")
    except ImportError as err:
        missing = isinstance(err, ModuleNotFoundError) and err.name == "envpool"
        problem = "is not installed" if missing else f"fails to import ({err})"
        raise LandscapeError(
            f"{envs} needs envpool, which {problem}: pip install "
            f'"return-landscapes[{ENVPOOL_EXTRA}]" (Linux x86-64 only; Brax envs '
            "and gym:<id> need no envpool)"
        ) from None
