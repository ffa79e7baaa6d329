"""return-landscapes: train agents, checkpoint them, map the return landscape."""

from return_landscapes.errors import LandscapeError
from return_landscapes.run import train

__all__ = ["LandscapeError", "train"]
