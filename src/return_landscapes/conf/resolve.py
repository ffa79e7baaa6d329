"""Typed config objects from dicts, DictConfigs or dataclasses, old option names
accepted with a note."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import is_dataclass

from return_landscapes.conf.commands import command_of
from return_landscapes.conf.describe import option_names
from return_landscapes.conf.ranges import range_problem

logger = logging.getLogger(__name__)


def command_name(schema: type) -> str:
    """The ``landscape`` command a schema configures (its class name otherwise)."""
    command = command_of(schema)
    return schema.__name__ if command is None else command.name


def renamed_options(schema: type) -> dict[str, str]:
    """The old option names of ``schema``'s command still accepted: old -> new."""
    command = command_of(schema)
    return {} if command is None else dict(command.renamed)


def renames(schema: type, keys: Iterable[str]) -> dict[str, str]:
    """The old option names among ``keys`` mapped to their new names.

    Logs one ``note:`` line (a warning, so it reaches stderr) per old name. Raises
    ``LandscapeError`` if a key and its old name are both given. The command line
    and ``resolve`` both call this, so an old name means the same in both.
    """
    from return_landscapes.errors import LandscapeError

    keys = set(keys)
    found = {old: new for old, new in renamed_options(schema).items() if old in keys}
    command = command_name(schema)
    for old, new in found.items():
        if new in keys:
            raise LandscapeError(
                f"{old}= and {new}= are both given: {old}= is the old name of "
                f"{new}= for landscape {command}; pass {new}= only"
            )
        logger.warning(
            "note: %s= is deprecated for landscape %s, use %s=", old, command, new
        )
    return found


def _renamed(schema: type, values):
    """``values`` (a mapping or None) with old option names replaced by new ones."""
    if values is None or is_dataclass(values):
        return values
    found = renames(schema, values.keys())
    if not found:
        return values
    from omegaconf import DictConfig, OmegaConf

    if isinstance(values, DictConfig):
        values = OmegaConf.to_container(values)
    return {found.get(key, key): value for key, value in values.items()}


# ---------------------------------------------------------------------- resolution


def resolve(schema: type, config=None, **overrides):
    """A typed config object from a dataclass instance, a DictConfig or a dict.

    ``overrides`` are merged on top (nested nodes as dicts), so
    ``resolve(TrainConfig, env="ant", td3={"actor_lr": 1e-3})`` works. Old option
    names (a command's ``renamed``) are accepted with a note on stderr. Unknown keys and
    ill-typed values raise ``LandscapeError`` naming the valid choices, and a number
    outside the range its config class declares (``RANGES``) one naming the range.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from return_landscapes.errors import LandscapeError

    config = _renamed(schema, config)
    overrides = _renamed(schema, overrides)
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), config or {}, overrides)
        resolved = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        message = str(err).splitlines()[0]
        if "not in struct" in message or "Key '" in message:
            valid = ", ".join(option_names(schema))
            raise LandscapeError(f"{message}; valid keys: {valid}") from None
        raise LandscapeError(message) from None
    problem = range_problem(resolved)
    if problem:
        raise LandscapeError(problem)
    return resolved


def as_plain_dict(config) -> dict:
    """A config object as nested plain Python values (enums as their names)."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(
        OmegaConf.structured(config), enum_to_str=True, resolve=True
    )
