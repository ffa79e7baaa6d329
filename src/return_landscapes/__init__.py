"""return-landscapes: train agents, checkpoint them, map the return landscape."""

from return_landscapes import _xla

_xla.configure()  # before anything imports JAX's backend

from return_landscapes.errors import LandscapeError  # noqa: E402
from return_landscapes.landscape.purd import purd  # noqa: E402
from return_landscapes.run import train  # noqa: E402
from return_landscapes.store import load_purd  # noqa: E402

__all__ = ["LandscapeError", "load_purd", "purd", "train"]
