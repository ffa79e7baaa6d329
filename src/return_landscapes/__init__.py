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

from return_landscapes._xla import configure_xla
from return_landscapes.errors import LandscapeError
from return_landscapes.logs import show_logs

_PUBLIC = {
    "evaluate_policies": "return_landscapes.landscape.policies",
    "import_policy": "return_landscapes.training.imported",
    "interpolate": "return_landscapes.landscape.interpolate",
    "line": "return_landscapes.landscape.line",
    "load_directions": "return_landscapes.direction_files",
    "load_interpolation": "return_landscapes.store",
    "load_line": "return_landscapes.store",
    "load_purd": "return_landscapes.store",
    "load_rejection": "return_landscapes.store",
    "load_surface": "return_landscapes.store",
    "policy_path": "return_landscapes.landscape.policies",
    "policy_purd": "return_landscapes.landscape.policies",
    "policy_surface": "return_landscapes.landscape.policies",
    "purd": "return_landscapes.landscape.purd",
    "reject": "return_landscapes.landscape.reject",
    "report": "return_landscapes.report.build",
    "surface": "return_landscapes.landscape.surface",
    "train": "return_landscapes.training.loop",
}

try:
    __version__ = metadata.version("return-landscapes")
except metadata.PackageNotFoundError:  # imported from a source tree, not installed
    __version__ = "0+unknown"

__all__ = [
    "LandscapeError",
    "configure_xla",
    "evaluate_policies",
    "import_policy",
    "interpolate",
    "line",
    "load_directions",
    "load_interpolation",
    "load_line",
    "load_purd",
    "load_rejection",
    "load_surface",
    "policy_path",
    "policy_purd",
    "policy_surface",
    "purd",
    "reject",
    "report",
    "show_logs",
    "surface",
    "train",
]


def __getattr__(name: str):
    """Import a public function on first use; submodules as usual."""
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})


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


if TYPE_CHECKING:
    from return_landscapes.direction_files import load_directions
    from return_landscapes.landscape.interpolate import interpolate
    from return_landscapes.landscape.line import line
    from return_landscapes.landscape.policies import (
        evaluate_policies,
        policy_path,
        policy_purd,
        policy_surface,
    )
    from return_landscapes.landscape.purd import purd
    from return_landscapes.landscape.reject import reject
    from return_landscapes.landscape.surface import surface
    from return_landscapes.report.build import report
    from return_landscapes.store import (
        load_interpolation,
        load_line,
        load_purd,
        load_rejection,
        load_surface,
    )
    from return_landscapes.training.imported import import_policy
    from return_landscapes.training.loop import train
