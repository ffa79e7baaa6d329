"""Checked input of the landscape commands: one-line errors before any work.

Which run, checkpoints and seeds; episode options; whether a perturbation fits the
run; finite parameters; whether a stored result may be skipped.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from return_landscapes import rundir, store
from return_landscapes.agents.protocols import ActorAgent
from return_landscapes.conf import TrainConfig, is_atari, is_host_env, is_imported
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.perturb import PERTURBATIONS, Perturbation


def open_run(run: str | None, option: str = "run") -> tuple[Path, TrainConfig]:
    """The run directory and its training config; one-line errors if it is not one."""
    if not run:
        raise LandscapeError(
            f"{option}= is required: pass the out= directory of a 'landscape train' run"
        )
    run_dir = Path(run)
    rundir.read_manifest(run_dir)
    return run_dir, rundir.load_run_config(run_dir)


def chosen_checkpoints(requested: list[int] | None, run_dir: Path) -> list[int]:
    """The requested checkpoint steps (all by default), checked against the run."""
    have = rundir.completed_checkpoints(run_dir)
    if not have:
        raise LandscapeError(f"{run_dir} has no checkpoint yet: train it first")
    if requested is None:
        return have
    missing = [s for s in requested if s not in have]
    if missing:
        raise LandscapeError(
            f"{run_dir} has no checkpoint at step(s) {missing} (it has: "
            f"{', '.join(map(str, have))}): pick some of those"
        )
    return sorted(set(requested))


def chosen_seeds(requested: list[int] | None, num_seeds: int) -> list[int]:
    """The requested seed indices (all by default), checked against the run."""
    if requested is None:
        return list(range(num_seeds))
    bad = [s for s in requested if not 0 <= s < num_seeds]
    if bad:
        raise LandscapeError(
            f"seed(s) {bad} not in this run: it has seeds 0 to {num_seeds - 1}"
        )
    return sorted(set(requested))


def check_episode_options(
    scale: float | None, horizon: int | None, gamma: float, chunk: int | None
) -> None:
    """Raise a one-line error for a bad scale, horizon, discount or chunk size."""
    if scale is not None and (not math.isfinite(scale) or scale < 0):
        raise LandscapeError(f"scale={scale} must be a finite number >= 0")
    if chunk is not None and chunk <= 0:
        raise LandscapeError(f"chunk={chunk} must be at least 1 (or unset)")
    if horizon is not None and horizon <= 0:
        raise LandscapeError(f"horizon={horizon} must be at least 1 (or unset)")
    if not 0 <= gamma <= 1:
        raise LandscapeError(f"gamma={gamma} must lie in [0, 1]")


def policy_only_perturbations() -> list[str]:
    """The perturbations that need a run's policy alone (no optimizer state,
    replay or env states): those an imported run supports."""
    return sorted(
        p.name
        for p in PERTURBATIONS.values()
        if p.needs is ActorAgent and not (p.needs_replay or p.needs_env_states)
    )


def check_perturbation_fits(perturbation: Perturbation, run_cfg) -> None:
    """Refuse an update on an imported run (a policy without optimizer state or
    replay), and a perturbation whose episode effect cannot apply to the run's env
    (``EpisodeEffect.refusal``: ``init_state`` on an env without start-state noise,
    action noise on discrete actions, per-step parameter noise on host episodes)."""
    if is_imported(run_cfg) and perturbation.name not in (policy_only_perturbations()):
        source = run_cfg.imported.source.value
        again = (
            " (or import the SB3 TD3 or SAC again with replay=, the file "
            "model.save_replay_buffer wrote)"
            if source == "sb3" and perturbation.name.startswith(("td3", "sac"))
            else ""
        )
        raise LandscapeError(
            f"perturb={perturbation.name} needs the optimizer state, replay or env "
            f"states of a trained run, and this run holds a policy imported from "
            f"{source} parameters: pass perturb= one of "
            f"{', '.join(policy_only_perturbations())}{again}"
        )
    refusal = perturbation.episode.refusal(perturbation.name, run_cfg)
    if refusal:
        raise LandscapeError(refusal)


def check_perturbation_off_checkpoints(perturbation: Perturbation, run_cfg) -> None:
    """Refuse a perturbation that cannot start from a point between checkpoints.

    On host-stepped envs (Atari games, MuJoCo tasks, Gymnasium envs) the ``ppo``
    perturbation steps the envs on the host from a checkpoint's policy; paths and
    surfaces evaluate mixed parameter sets inside one program.
    """
    if is_host_env(run_cfg.env) and perturbation.needs_env_states:
        raise LandscapeError(
            f"perturb={perturbation.name} steps {run_cfg.env}'s envs on the host "
            "from a checkpoint, not from points between checkpoints: use "
            "perturb=param_noise for PURDs off the checkpoints, or samples=0"
        )


class EpisodeOptions(NamedTuple):
    """How Atari evaluation episodes act and start (defaults: deterministic)."""

    sampled_actions: bool = False  # sample actions instead of the greedy ones
    per_sample_env_seeds: bool = False  # each sample its own no-op start


def episode_options(cfg, run_cfg) -> EpisodeOptions:
    """The Atari episode options of a command's config; refused on other envs."""
    options = EpisodeOptions(cfg.sampled_actions, cfg.per_sample_env_seeds)
    if any(options) and not is_atari(run_cfg.env):
        raise LandscapeError(
            "sampled_actions and per_sample_env_seeds apply to Atari runs only: for "
            f"{run_cfg.env} use perturb=action_noise or perturb=init_state"
        )
    return options


def option_settings(options: EpisodeOptions, run_cfg) -> dict[str, bool]:
    """The episode options a stored Atari result records (none for Brax runs)."""
    return options._asdict() if is_atari(run_cfg.env) else {}


def check_finite(
    tree, run_dir, step: int, seeds: list[int], what: str = "actor parameters"
) -> None:
    """Refuse a checkpoint's ``tree`` (leading axis: ``seeds``) holding NaN or
    infinity in any floating-point leaf."""
    finite = np.ones(len(seeds), bool)
    for leaf in jax.tree.leaves(tree):
        values = np.asarray(leaf)
        if np.issubdtype(values.dtype, np.floating) and values.size:
            finite &= np.isfinite(values).reshape(len(seeds), -1).all(axis=1)
    if not finite.all():
        bad = [s for s, ok in zip(seeds, finite, strict=True) if not ok]
        raise LandscapeError(
            f"{run_dir} checkpoint {step} has non-finite {what} for seed(s) {bad}: "
            "the run diverged there or the file is damaged; choose other seeds or "
            "steps"
        )


def check_params_finite(tree, name: str = "params") -> None:
    """Refuse a parameter set given to the policy API that holds NaN or infinity,
    naming its first such leaf (host arrays: nothing is compiled)."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        values = np.asarray(leaf)
        if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
            raise LandscapeError(
                f"{name}{jax.tree_util.keystr(path)} holds non-finite values (NaN or "
                "inf): pass a finite parameter set (a diverged policy has no "
                "landscape)"
            )


def check_stored_finite(
    run_dir: Path, todo: dict[int, list[int]], replay: bool
) -> None:
    """Refuse, before any compute, the checkpoints of ``todo`` (step -> seeds) whose
    stored arrays hold NaN or infinity for those seeds, or fewer seeds than the run
    has: every leaf of the training state and, with ``replay``, every replay row
    written up to the checkpoint (a missing replay file is refused too)."""
    todo = {step: seeds for step, seeds in todo.items() if seeds}
    num_seeds = rundir.load_run_config(run_dir).seeds
    for step, seeds in todo.items():
        path = rundir.checkpoint_path(run_dir, step)
        arrays = rundir.load_checkpoint_arrays(run_dir, step)
        _check_seed_count(arrays, num_seeds, path)
        check_finite(_seed_rows(arrays, seeds), run_dir, step, seeds, "training state")
    if not (replay and todo):
        return
    seeds = sorted({s for chosen in todo.values() for s in chosen})
    rundir.check_replay_rows_exist(run_dir, max(todo))
    for path in rundir.replay_rows_paths(run_dir, max(todo)):
        arrays = rundir.load_stored_arrays(path)
        _check_seed_count(arrays, num_seeds, path)
        step = int(path.stem.split("_")[-1])
        check_finite(_seed_rows(arrays, seeds), run_dir, step, seeds, "replay rows")


def check_reads_finite(reads: list[tuple[Path, int, int]], replay: bool) -> None:
    """The one check of every landscape command before it compiles: each ``(run
    directory, checkpoint, seed)`` it reads holds its seeds and finite numbers
    (``check_stored_finite``; with ``replay``, the replay rows up to it too)."""
    by_run: dict[Path, dict[int, set[int]]] = {}
    for run_dir, step, seed in reads:
        by_run.setdefault(Path(run_dir), {}).setdefault(step, set()).add(seed)
    for run_dir, steps in by_run.items():
        todo = {step: sorted(seeds) for step, seeds in sorted(steps.items())}
        check_stored_finite(run_dir, todo, replay)


def _check_seed_count(arrays: dict[str, np.ndarray], num_seeds: int, path) -> None:
    """Refuse a stored file whose arrays hold fewer seeds than the run has."""
    held = [a.shape[0] for a in arrays.values() if a.ndim]
    if held and min(held) < num_seeds:
        raise LandscapeError(
            f"{path} holds {min(held)} seed(s), the run's config.yaml says "
            f"{num_seeds}: it belongs to another run; restore this run's own file"
        )


def _seed_rows(arrays: dict[str, np.ndarray], seeds: list[int]) -> list[np.ndarray]:
    return [a[np.array(seeds)] for a in arrays.values() if a.ndim]


def check_finite_returns(returns, step: int, seed: int) -> None:
    """Refuse to store a PURD whose returns are not all finite."""
    bad = int(np.size(returns) - np.isfinite(returns).sum())
    if bad:
        raise LandscapeError(
            f"checkpoint {step} seed {seed}: {bad} of {np.size(returns)} returns are "
            "not finite (the perturbed policies or the env diverged): nothing stored "
            "for it; try a smaller scale="
        )


def _stored(attrs: dict[str, Any], key: str) -> str:
    """A stored setting as the error shows it; ``unset`` for an older result."""
    return str(attrs[key]) if key in attrs else "unset (an older version)"


def same_setting(stored: Any, asked: Any) -> bool:
    """Whether a stored setting is the asked one by value: lists, tuples and numpy
    arrays element by element (a stored one is JSON text), numpy scalars, ints and
    floats as numbers, ``None`` as the empty text it is stored as."""
    if asked is None:
        return stored in (None, "")
    if isinstance(stored, str) and isinstance(asked, list | tuple | np.ndarray | dict):
        try:
            stored = json.loads(stored)
        except ValueError:
            return False
    return _by_value(stored) == _by_value(asked)


def _by_value(value: Any) -> Any:
    if isinstance(value, list | tuple | np.ndarray):
        return tuple(_by_value(v) for v in value)
    if isinstance(value, dict):
        return {k: _by_value(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def is_finished(
    path: Path,
    settings: dict[str, Any],
    overwrite: bool,
    older: dict[str, Any] | None = None,
) -> bool:
    """Whether the result at ``path`` exists and may be skipped.

    A stored result computed with other ``settings`` is an error (naming them), never
    silently mixed with new ones or replaced without ``overwrite=true``. ``older``
    gives the value a setting had in results written before it was recorded.
    """
    if overwrite or not path.is_file():
        return False
    stored = {**(older or {}), **store.read_result(path).attrs}
    differ = {k: v for k, v in settings.items() if not same_setting(stored.get(k), v)}
    if differ:
        shown = ", ".join(f"{k}={_stored(stored, k)}" for k in differ)
        asked = ", ".join(f"{k}={v}" for k, v in differ.items())
        raise LandscapeError(
            f"{path} was computed with {shown}: pass overwrite=true to replace it, or "
            f"use those settings (asked: {asked})"
        )
    return True
