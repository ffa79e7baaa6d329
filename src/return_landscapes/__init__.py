"""return-landscapes: train agents, checkpoint them, map the return landscape.

The package root is light: ``import return_landscapes`` loads neither JAX, Hydra nor
matplotlib. Each public name is imported on first use (PEP 562), so
``from return_landscapes import load_purd`` needs numpy and h5py alone, while
``from return_landscapes import purd`` brings in JAX.
"""

from __future__ import annotations

import importlib
import sys
import types
from importlib import metadata
from typing import TYPE_CHECKING

from return_landscapes._xla import configure_xla as configure_xla
from return_landscapes.errors import LandscapeError as LandscapeError
from return_landscapes.logs import show_logs as show_logs

_POLICIES = "return_landscapes.landscape.experiments.policies"
_OTHER_PUBLIC = {
    "evaluate_policies": _POLICIES,
    "load_directions": "return_landscapes.direction_files",
    "policy_path": _POLICIES,
    "policy_purd": _POLICIES,
    "policy_surface": _POLICIES,
}
"""Public names that are not a command's function or loader."""


def _public() -> dict[str, str]:
    """Every public function's name -> its module: each command's function and its
    results' loaders (from the registry, ``conf/commands.py``), and the others."""
    from return_landscapes.conf.commands import COMMANDS

    names = dict(_OTHER_PUBLIC)
    for command in COMMANDS.values():
        references = [command.function] if command.public else []
        for reference in [*references, *command.loaders]:
            module, _, name = reference.partition(":")
            names[name] = module
    return names


try:
    __version__ = metadata.version("return-landscapes")
except metadata.PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "0+unknown"


def __getattr__(name: str):
    """Import a public function on first use; submodules as usual."""
    if name == "__all__":
        return ["LandscapeError", "configure_xla", "show_logs", *sorted(_public())]
    public = _public()
    if name in public:
        value = getattr(importlib.import_module(public[name]), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *_public()})


class _Root(types.ModuleType):
    """The package module; ``report`` stays the function when the ``report``
    subpackage is first imported (the import system would bind the subpackage)."""

    @property
    def report(self):
        from return_landscapes.report.build import report

        return report

    @report.setter
    def report(self, module) -> None:
        del module  # the subpackage stays in sys.modules["return_landscapes.report"]


sys.modules[__name__].__class__ = _Root


if TYPE_CHECKING:  # for type checkers and the API docs; tests/test_packaging.py keeps
    # these imports equal to _public()
    from return_landscapes.direction_files import load_directions
    from return_landscapes.landscape.experiments.interpolate import (
        interpolate,
    )
    from return_landscapes.landscape.experiments.line import line
    from return_landscapes.landscape.experiments.policies import (
        evaluate_policies,
        policy_path,
        policy_purd,
        policy_surface,
    )
    from return_landscapes.landscape.experiments.purd import purd
    from return_landscapes.landscape.experiments.reject import reject
    from return_landscapes.landscape.experiments.select import select
    from return_landscapes.landscape.experiments.surface import surface
    from return_landscapes.report.build import report
    from return_landscapes.store.interpolation import (
        load_interpolation,
    )
    from return_landscapes.store.line import load_line
    from return_landscapes.store.purd import load_purd
    from return_landscapes.store.rejection import load_rejection
    from return_landscapes.store.selection import load_selection
    from return_landscapes.store.surface import load_surface
    from return_landscapes.training.imported import import_policy
    from return_landscapes.training.loop import train
