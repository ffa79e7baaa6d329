"""Env names across the families, and hints for a name that no family has.

A bare name is a Brax env; the other families have a prefix (``mujoco:``,
``atari:``, ``gym:``). A name from another library (``Hopper-v5``, ``Breakout``,
``BreakoutNoFrameskip-v4``) is matched to the names of every family by its stem, so
the error can say which name was meant.
"""

from __future__ import annotations

import re

from return_landscapes.constants import ATARI_PREFIX, GYM_PREFIX, MUJOCO_PREFIX
from return_landscapes.envs.optional import has_envpool
from return_landscapes.errors import LandscapeError


def stem(name: str) -> str:
    """A name without family prefix, ``ALE/``, version, ``NoFrameskip``, case and
    separators: ``atari:Breakout-v5``, ``BreakoutNoFrameskip-v4`` -> ``breakout``."""
    base = name.rsplit(":", 1)[-1].lower().removeprefix("ale/")
    base = re.sub(r"-v\d+$", "", base).replace("noframeskip", "")
    return re.sub(r"[^a-z0-9]", "", base)


def _gym_registry() -> dict:
    import gymnasium

    return dict(gymnasium.envs.registry)


def _envpool_names() -> list[str]:
    """The MuJoCo tasks and Atari games; without envpool, Gymnasium's MuJoCo v5
    tasks stand for the MuJoCo tasks (the error then names the extra)."""
    if not has_envpool():
        return [
            MUJOCO_PREFIX + env_id
            for env_id, spec in _gym_registry().items()
            if env_id.endswith("-v5") and "mujoco" in str(spec.entry_point)
        ]
    from return_landscapes.envs.atari import game_names
    from return_landscapes.envs.mujoco import task_names

    return task_names() + game_names()


def suggestions(name: str, brax_names: list[str]) -> list[str]:
    """The env names of any family that ``name`` may have meant, closest first:
    the same stem in another family, or a Gymnasium id as ``gym:<id>``."""
    target = stem(name)
    found = [n for n in _envpool_names() + brax_names if stem(n) == target]
    found.sort(key=lambda n: n.rsplit(":", 1)[-1] != name)  # exact id first
    if name in _gym_registry():
        found.append(GYM_PREFIX + name)
    return [n for n in found if n != name]


def families_line(brax_names: list[str]) -> str:
    """Every family's env names, in one clause."""
    line = (
        f"env names are a Brax env ({', '.join(brax_names)}), "
        f"{MUJOCO_PREFIX}<Task>-v5 (Gymnasium's MuJoCo tasks: Hopper-v5, Ant-v5, ...), "
        f"{ATARI_PREFIX}<Game>-v5 (Atari games: Breakout-v5, ...) or {GYM_PREFIX}<id> "
        "(any Gymnasium env)"
    )
    if not has_envpool():
        line += f"; {MUJOCO_PREFIX} and {ATARI_PREFIX} need the envpool extra"
    return line


def _either(names: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return names[-1] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def unknown_env(name: str, brax_names: list[str]) -> LandscapeError:
    """The one-line error of an env name no family has (``brax_names``: the Brax
    envs): what it may have meant, then every family's names."""
    meant = suggestions(name, brax_names)
    hint = f"did you mean {_either(meant)}? " if meant else ""
    return LandscapeError(f"unknown env '{name}': {hint}{families_line(brax_names)}")
