"""The host side of ``landscape train``: run directory, resume, the block loop, logs.

``train(...)`` is the Python entry point; the command line calls it with the Hydra
config.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from return_landscapes import rundir as ckpt
from return_landscapes.conf import (
    Algo,
    TrainConfig,
    as_plain_dict,
    is_imported,
    resolve,
)
from return_landscapes.errors import LandscapeError
from return_landscapes.logs import progress_bar
from return_landscapes.metrics_log import MetricsLog, records_up_to, truncate_after
from return_landscapes.provenance import check_writable, package_versions
from return_landscapes.rundir import load_run_config
from return_landscapes.tracking import require_wandb
from return_landscapes.training.schedule import (
    checkpoint_steps,
    evaluation_keys,
    evaluation_steps,
    is_on_policy,
    plan_blocks,
    run_identity,
    total_steps,
)
from return_landscapes.training.state import (
    Trainer,
    TrainState,
    host,
    init_state,
    restore_state,
    without_replay_rows,
)
from return_landscapes.training.trainers import get_trainer
from return_landscapes.training.validate import validate

logger = logging.getLogger(__name__)


def train(
    config: TrainConfig | dict | None = None, *, stop_at: int | None = None, **overrides
) -> Path:
    """Train ``seeds`` agents of one algorithm on one env, vmapped, with checkpoints.

    Args:
      config: a ``TrainConfig`` (or a mapping of its keys); defaults if omitted.
      stop_at: stop once this checkpoint step is saved (to split a long run across
        time-limited jobs; ``resume=True`` continues it).
      **overrides: ``TrainConfig`` keys, e.g. ``env="hopper", algo="sac", seeds=4``.

    Returns:
      The run directory.

    Raises:
      LandscapeError: bad input, or an ``out`` directory that holds something else.
    """
    cfg = resolve(TrainConfig, config, **overrides)
    require_wandb(cfg)
    validate(cfg)
    if stop_at is not None and stop_at not in checkpoint_steps(cfg):
        raise LandscapeError(
            f"stop_at={stop_at} is not a checkpoint step: use one of "
            f"{checkpoint_steps(cfg)}"
        )
    run_dir = Path(cfg.out or f"runs/{cfg.env}-{Algo(cfg.algo).value}")
    if run_dir.exists() and not run_dir.is_dir():
        raise LandscapeError(f"out={run_dir} is a file: choose a folder for the run")
    check_writable(run_dir, "choose an out= you may write to")
    change = None
    if cfg.resume and (run_dir / ckpt.MANIFEST).is_file():
        check_resumable(run_dir)
        change = check_versions(run_dir, cfg)
    trainer = get_trainer(cfg)  # checks env and backend before anything is written
    with contextlib.ExitStack() as held:  # the run's lock, released on return
        start = prepare_run_dir(run_dir, cfg, trainer, held)
        if change is not None and start < total_steps(cfg):
            _record_version_change(run_dir, start, *change)
        return _train_from(cfg, trainer, run_dir, start, stop_at)


def check_resumable(run_dir: Path) -> None:
    """Read what a resume reads, before anything is built: the newest checkpoint's
    file, the metrics log and, for a run with a replay buffer, that its replay row
    files are there (a finished run's too: later landscape commands read them).
    One-line errors if damaged or missing; nothing is written."""
    done = ckpt.completed_checkpoints(run_dir)
    if done:
        ckpt.load_checkpoint_arrays(run_dir, done[-1])
        records_up_to(run_dir / ckpt.METRICS, done[-1], note=False)
        if _has_replay(load_run_config(run_dir)):
            ckpt.check_replay_rows_exist(run_dir, done[-1])


def _has_replay(run_cfg: TrainConfig) -> bool:
    """Whether the run of config ``run_cfg`` saved replay rows (TD3, SAC)."""
    return not is_on_policy(run_cfg) and not is_imported(run_cfg)


def check_versions(run_dir: Path, cfg: TrainConfig) -> tuple[dict, dict] | None:
    """Refuse to resume an unfinished run under other jax/jaxlib versions than its
    last part unless ``allow_version_change``; return ``(before, after)`` versions
    when they differ and that is allowed, else ``None``."""
    done = ckpt.completed_checkpoints(run_dir)
    if done and done[-1] >= total_steps(cfg):
        return None  # nothing left to train: nothing to lose
    before = ckpt.trained_versions(ckpt.read_manifest(run_dir))
    now = package_versions()
    after = {name: now[name] for name in before}
    if before == after:
        return None
    if not cfg.allow_version_change:
        raise LandscapeError(
            f"{run_dir} was trained under {_versions_text(before)}, this is "
            f"{_versions_text(after)}: resuming loses bit-identity with the run's "
            "earlier part; pass allow_version_change=true to continue anyway"
        )
    return before, after


def _versions_text(versions: dict) -> str:
    return ", ".join(f"{name} {version}" for name, version in versions.items())


def _record_version_change(run_dir: Path, step: int, before: dict, after: dict):
    ckpt.record_version_change(run_dir, step, before, after, list(sys.argv))
    logger.warning(
        "warning: %s continues from step %d under %s (trained under %s until "
        "then): not bit-identical to an unbroken run; recorded in its manifest",
        run_dir,
        step,
        _versions_text(after),
        _versions_text(before),
    )


def _train_from(cfg, trainer, run_dir: Path, start: int, stop_at) -> Path:
    if start >= total_steps(cfg):
        logger.info("%s: already trained to step %d", run_dir, start)
        return run_dir
    if start:
        state = restore_state(trainer, cfg, run_dir, start)
        # only once the checkpoint loaded: a failed resume changes nothing
        truncate_after(run_dir / ckpt.METRICS, start)
    else:
        state = init_state(trainer, cfg)
    logger.info(
        "training %d seed(s) of %s on %s: writing %s",
        cfg.seeds,
        Algo(cfg.algo).value,
        cfg.env,
        run_dir,
    )
    if start:
        logger.info("resuming from step %d", start)
    if trainer.restart_envs is not None:
        state = trainer.restart_envs(state, start)
    log = MetricsLog(run_dir / ckpt.METRICS, cfg, as_plain_dict(cfg))
    try:
        _loop(cfg, trainer, state, run_dir, start, stop_at, log)
    finally:
        log.close()
    return run_dir


def prepare_run_dir(
    run_dir: Path, cfg: TrainConfig, trainer: Trainer, held: contextlib.ExitStack
) -> int:
    """Check ``run_dir`` against ``cfg`` and lock it (the lock joins ``held``)
    before anything in it changes; return the step training starts from."""
    if (run_dir / ckpt.MANIFEST).is_file():
        if not cfg.resume:
            raise LandscapeError(
                f"{run_dir} already holds a run: pass resume=true to continue it, or "
                "choose another out="
            )
        ckpt.read_manifest(run_dir)
        _check_same_run(run_dir, cfg)
        held.enter_context(ckpt.run_lock(run_dir))
        done = ckpt.completed_checkpoints(run_dir)
        start = done[-1] if done else 0
        if not start:
            (run_dir / ckpt.METRICS).unlink(missing_ok=True)
        return start
    if run_dir.exists() and any(p.name != ckpt.LOCK for p in run_dir.iterdir()):
        raise LandscapeError(
            f"{run_dir} exists and is not a run directory: choose another out="
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    held.enter_context(ckpt.run_lock(run_dir))
    ckpt.atomic_write_text(run_dir / ckpt.CONFIG, OmegaConf.to_yaml(cfg))
    ckpt.write_manifest(run_dir, _manifest_fields(cfg, trainer))
    return 0


# Options that hold a schedule: lists of steps whose order and repeats mean nothing.
SCHEDULE_KEYS = ("checkpoints",)


def _check_same_run(run_dir: Path, cfg: TrainConfig) -> None:
    saved = _comparable(run_identity(load_run_config(run_dir)))
    current = _comparable(run_identity(cfg))
    differ = [k for k in current if saved.get(k) != current[k]]
    if differ:
        raise LandscapeError(
            f"{run_dir} holds a different run ({', '.join(differ)} differ): resume "
            "with its settings, or choose another out="
        )


def _comparable(identity: dict) -> dict:
    """A run identity with each schedule (``SCHEDULE_KEYS``) as a set: its steps
    sorted, once each."""
    return {
        key: sorted(set(value)) if key in SCHEDULE_KEYS and value is not None else value
        for key, value in identity.items()
    }


def _manifest_fields(cfg: TrainConfig, trainer: Trainer) -> dict:
    return {
        "env": cfg.env,
        "algo": Algo(cfg.algo).value,
        "backend": cfg.backend,
        "num_seeds": cfg.seeds,
        "seeds": list(range(cfg.seeds)),
        "base_seed": cfg.seed,
        "steps": total_steps(cfg),
        "checkpoint_steps": checkpoint_steps(cfg),
        "horizon": cfg.horizon,
        "observation_size": int(trainer.env.observation_size),
        "action_size": int(trainer.env.action_size),
    }


def _loop(cfg, trainer, state, run_dir, start, stop_at, log) -> None:
    checkpoints = set(checkpoint_steps(cfg))
    evaluations = set(evaluation_steps(cfg))
    previous_checkpoint = start
    if start == 0 and 0 in evaluations:
        _evaluate(cfg, trainer, state, 0, log)
    bar = progress_bar(total_steps(cfg), cfg.progress, "step", "train", start)
    pending = None  # the previous block's metrics, read while the next block runs
    for block in (b for b in plan_blocks(cfg) if b.start >= start):
        tic = time.perf_counter()
        state, metrics = trainer.run_block(state, block)
        if pending is not None:
            _log_block(log, bar, *pending)
        end = block.start + block.length
        pending = (end, block.length, metrics, tic)
        if end in evaluations or end in checkpoints:
            _log_block(log, bar, *pending)
            pending = None
        if end in evaluations:
            bar.set_postfix(eval_return=_evaluate(cfg, trainer, state, end, log))
        if end in checkpoints:
            rows = None
            if trainer.replay_rows is not None:
                rows = host(trainer.replay_rows(state, previous_checkpoint, end))
            ckpt.save_checkpoint(
                run_dir,
                end,
                host(without_replay_rows(state)),
                rows,
                previous_checkpoint,
            )
            previous_checkpoint = end
            if end == stop_at:
                break
            if trainer.restart_envs is not None:
                state = trainer.restart_envs(state, end)
    if pending is not None:
        _log_block(log, bar, *pending)
    bar.close()


def _log_block(log, bar, end, length, metrics, tic) -> None:
    metrics = host(metrics)
    seconds = time.perf_counter() - tic
    log.write(
        {"step": end, "kind": "train", **metrics, "steps_per_second": length / seconds}
    )
    bar.update(length)


def _evaluate(cfg, trainer: Trainer, state: TrainState, step: int, log) -> float:
    stats = host(trainer.evaluate(state, evaluation_keys(cfg, step)))
    log.write(
        {
            "step": step,
            "kind": "eval",
            "return": stats.undiscounted_return.mean(axis=1),
            "return_std": stats.undiscounted_return.std(axis=1),
            "discounted_return": stats.discounted_return.mean(axis=1),
            "length": stats.length.mean(axis=1),
        }
    )
    return float(np.mean(stats.undiscounted_return))
