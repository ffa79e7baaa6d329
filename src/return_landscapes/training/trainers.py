"""Trainers by config: ``make_trainer`` builds the trainer of the run's env family
(``families.py``: Brax, Atari or MuJoCo)."""

from __future__ import annotations

import json

from return_landscapes.caches import compiled_cache
from return_landscapes.conf import TrainConfig, is_imported
from return_landscapes.errors import LandscapeError
from return_landscapes.training.families import family_of
from return_landscapes.training.schedule import run_identity
from return_landscapes.training.state import Trainer, TrainingParts


def make_parts(cfg: TrainConfig, env=None) -> TrainingParts:
    """The env, the agent and the jitted ``init`` of a config; no training blocks.

    ``env`` replaces the Brax env named by ``cfg`` (any object with ``reset``,
    ``step``, ``observation_size`` and ``action_size`` in Brax's form). The env's
    family (``families.py``) builds them.
    """
    return family_of(cfg.env).parts(cfg, env)


def make_trainer(cfg: TrainConfig, env=None) -> Trainer:
    """Build the env, the agent and the jitted init / block / evaluation functions.

    ``env`` replaces the Brax env named by ``cfg`` (see ``make_parts``).
    """
    return trainer_from_parts(cfg, make_parts(cfg, env))


def trainer_from_parts(cfg: TrainConfig, parts: TrainingParts) -> Trainer:
    """The trainer of ``cfg`` around parts built before (its agent, env, init).

    An imported run (``cfg.imported``) has none: one-line error.
    """
    if is_imported(cfg):
        raise LandscapeError(
            f"the run of {cfg.env} holds a policy imported from "
            f"{cfg.imported.source.value} parameters, without the optimizer state "
            "and replay training needs: train and reject apply to runs of "
            "'landscape train'"
        )
    return family_of(cfg.env).trainer(cfg, parts)


_PARTS: dict[str, TrainingParts] = compiled_cache("training parts")


def get_parts(cfg: TrainConfig) -> TrainingParts:
    """``make_parts(cfg)``, reused across calls with the same run identity; the
    trainer's own parts if ``get_trainer`` built it already."""
    key = json.dumps(run_identity(cfg), sort_keys=True)
    if key in _TRAINERS:
        trainer = _TRAINERS[key]
        return TrainingParts(trainer.env, trainer.agent, trainer.init)
    if key not in _PARTS:
        _PARTS[key] = make_parts(cfg)
    return _PARTS[key]


_TRAINERS: dict[str, Trainer] = compiled_cache("trainers")


def get_trainer(cfg: TrainConfig) -> Trainer:
    """``make_trainer(cfg)``, reused across calls with the same run identity.

    Reuse keeps XLA's compiled blocks, so a second run of a config in one process
    (a resume, a sweep over output directories) starts without compiling again.
    """
    key = json.dumps(run_identity(cfg), sort_keys=True)
    if key not in _TRAINERS:
        _TRAINERS[key] = trainer_from_parts(cfg, _PARTS.get(key) or make_parts(cfg))
    return _TRAINERS[key]
