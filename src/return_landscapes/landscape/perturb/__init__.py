"""Perturbations of a checkpoint's policy: the registry (``registry.py``), what they
do to evaluation episodes (``episode.py``), the built-in kinds (``builtin.py``,
registered on import) and Atari's host ``ppo`` update (``atari.py``)."""

from return_landscapes.landscape.perturb import builtin as builtin
from return_landscapes.landscape.perturb.registry import (
    MINIBATCH_SIZE,
    PERTURBATIONS,
    CheckpointSource,
    Perturbation,
    get_perturbation,
    make_perturb_stage,
    one_sample,
    register_perturbation,
)

__all__ = [
    "MINIBATCH_SIZE",
    "PERTURBATIONS",
    "CheckpointSource",
    "Perturbation",
    "get_perturbation",
    "make_perturb_stage",
    "one_sample",
    "register_perturbation",
]
