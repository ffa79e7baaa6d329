"""return-landscapes: train agents, checkpoint them, map the return landscape."""

from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.purd import purd
from return_landscapes.run import train
from return_landscapes.store import load_purd

__all__ = ["LandscapeError", "load_purd", "purd", "train"]
