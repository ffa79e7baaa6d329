"""return-landscapes: train agents, checkpoint them, map the return landscape."""

from return_landscapes import _xla

_xla.configure()  # before anything imports JAX's backend

from return_landscapes.errors import LandscapeError  # noqa: E402
from return_landscapes.landscape.interpolate import interpolate  # noqa: E402
from return_landscapes.landscape.purd import purd  # noqa: E402
from return_landscapes.landscape.reject import reject  # noqa: E402
from return_landscapes.landscape.surface import surface  # noqa: E402
from return_landscapes.report.build import report  # noqa: E402
from return_landscapes.run import train  # noqa: E402
from return_landscapes.store import (  # noqa: E402
    load_interpolation,
    load_purd,
    load_rejection,
    load_surface,
)

__all__ = [
    "LandscapeError",
    "interpolate",
    "load_interpolation",
    "load_purd",
    "load_rejection",
    "load_surface",
    "purd",
    "reject",
    "report",
    "surface",
    "train",
]
