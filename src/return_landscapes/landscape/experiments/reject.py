"""``landscape reject``: post-update CVaR rejection (Algorithm 1 of the paper).

From one seed's checkpoint, training continues exactly as ``landscape train`` runs it
(the trainer's own jitted block: env step, replay insert, agent update). After every
``check_interval`` proposed updates the PURD of the new parameters is estimated
through the PURD engine (``samples`` perturbations, one episode each, fixed start
state) and the criterion compares it with the last kept point:

* ``cvar``: keep if the PURD's CVaR at ``alpha`` did not fall;
* ``ltp``: keep if its left-tail probability did not rise;
* ``none``: always keep (plain continued training, PURDs recorded for comparison).

A rejected proposal is undone exactly: the agent's parameters and optimizer states,
the replay rows it wrote, and the replay position and size are restored bit for bit.
The env and the training key go on (as the paper's code, whose simulator and random
generator do not rewind): restoring them too would propose the same update again
forever. With ``reject_env=fresh`` (the default, as the paper's code) each repeat
continues training in a freshly reset env whose starts (and restarts) have 0.1x the
training start-state noise; ``reject_env=checkpoint`` continues the checkpointed
training envs with the training noise.

Each check draws its own samples (``check_noise=fresh``, the default: the paper's
Algorithm 1, which re-estimates the PURD with fresh draws at every check; the root's
draws are the repeat's). With ``check_noise=common`` the sample keys are the same at
every check of a repeat (common random numbers): the same perturbation draws, and
for ``td3``/``sac`` minibatch rows that a key keeps after the buffer grows by one
insert (``replay.nested_rows``; each row changes with probability ``1/(N+1)``), so
two checks differ by the update, not by the draws, which changes which updates
pass.

After the last check, the repeat's final (kept) policy gets a held-out PURD of
``samples`` draws that no check used (``heldout_sample_keys``, the same for every
criterion's repeat of that index): the kept estimates were chosen by the criterion
for being high, so effects of rejection are measured on these.

Each repeat starts from the checkpoint with its own training key and writes one trace
file (``store/rejection.py``); finished repeats are skipped on a re-run.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes.conf import (
    Algo,
    CheckNoise,
    Criterion,
    RejectConfig,
    RejectEnv,
    as_plain_dict,
    is_imported,
    resolve,
)
from return_landscapes.envs.brax import reset_carry
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.checks import (
    check_finite,
    check_reads_finite,
    chosen_checkpoints,
    chosen_seeds,
    is_finished,
)
from return_landscapes.landscape.hotpath.engine import (
    Engine,
    perturbed_returns,
    plain_returns,
    seed_source,
)
from return_landscapes.landscape.hotpath.keys import (
    check_sample_keys,
    heldout_sample_keys,
    plain_key,
    repeat_training_key,
)
from return_landscapes.landscape.job import (
    LandscapeJob,
    announce,
    common_settings,
    make_engine,
    open_job,
    progress_bar,
    result_attrs,
    write_result,
)
from return_landscapes.landscape.stats import purd_statistics
from return_landscapes.landscape.stats.flat import flat_reason, is_noise
from return_landscapes.landscape.summary import Summary
from return_landscapes.store import rejection as rejection_store
from return_landscapes.tracking import log_row, require_wandb, tracking
from return_landscapes.training.families import training_start_noise
from return_landscapes.training.schedule import Block, agent_config
from return_landscapes.training.state import (
    Trainer,
    TrainState,
    restore_replay_rows,
    restore_without_replay_rows,
)
from return_landscapes.training.trainers import get_trainer

logger = logging.getLogger(__name__)

Accept = Callable[[dict, dict], bool]
"""``accept(proposed_stats, last_kept_stats) -> keep?`` on ``purd_statistics``."""

CRITERIA: dict[str, Accept] = {
    "cvar": lambda proposed, kept: proposed["cvar"] >= kept["cvar"],
    "ltp": lambda proposed, kept: _ltp_not_worse(proposed["ltp"], kept["ltp"]),
    "none": lambda proposed, kept: True,
}

TRACE_STATISTICS = ("mean", "std", "median", "mode", "ltp", "cvar")


def _ltp_not_worse(proposed: float, kept: float) -> bool:
    """LTP did not rise; an undefined LTP (mode <= 0) is worse than any defined."""
    if np.isnan(proposed):
        return bool(np.isnan(kept))
    return bool(np.isnan(kept) or proposed <= kept)


def _repeat_headline(trace) -> dict[str, float]:
    last = int(np.flatnonzero(trace["accepted"])[-1])
    row = {"kept_checks": int(np.sum(trace["accepted"][1:]))}
    for name in ("mean", "ltp", "cvar"):
        row[f"{name}_start"] = float(trace[name][0])
        row[f"{name}_end"] = float(trace[name][last])
        if f"heldout_{name}" in trace:
            row[f"{name}_heldout"] = float(trace[f"heldout_{name}"])
    return row


REPEAT_SUMMARY = Summary(
    ("criterion", "alpha", "checkpoint", "seed", "repeat"), _repeat_headline
)
"""A repeat's wandb row: its root and criterion, what it kept, the statistics at
the root and at the last kept check (kept estimates), and the held-out PURD's."""

FRESH_ENV_NOISE = 0.1  # reject_env=fresh: start-state noise, x the training noise
FRESH_ENV_TAG = 7  # folded into a repeat's training key for its fresh env's reset


def reject(config: RejectConfig | dict | None = None, **overrides) -> Path:
    """Run and store the repeats of a rejection experiment.

    Args:
      config: a ``RejectConfig`` (or a mapping of its keys).
      **overrides: its keys, e.g. ``run="runs/h", checkpoint=150000,
        criterion="cvar", max_steps=40, samples=1000, repeats=10``.

    Returns:
      The folder holding the repeats' trace files.

    Raises:
      LandscapeError: bad input; nothing stored is changed.
    """
    cfg = resolve(RejectConfig, config, **overrides)
    require_wandb(cfg)
    job = plan_rejection(cfg)
    out = rejection_store.rejection_path(
        job.run_dir, job.criterion, cfg.checkpoint, cfg.seed_index, 0
    ).parent
    announce(
        f"reject {job.criterion} from checkpoint {cfg.checkpoint} of seed "
        f"{cfg.seed_index}: {cfg.repeats} repeat(s) x {cfg.max_steps} proposed "
        f"update(s), a PURD of {cfg.samples} {job.perturbation.name} samples per "
        f"check: writing {out}",
        cfg.repeats - len(job.todo),
        "repeat(s)",
    )
    if not job.todo:
        return out
    engine = make_engine(job)
    root = root_state(job, engine)
    _warn_if_root_falls(job, engine, root)
    checks = 2 + -(-cfg.max_steps // cfg.check_interval)  # root, checks, held out
    bar = progress_bar(cfg.samples * checks * len(job.todo), cfg.progress, "reject")
    with bar, tracking(cfg, job.run_dir, "reject", as_plain_dict(cfg)):
        for repeat in job.todo:
            _, trace = run_repeat(job, engine, root, repeat, bar=bar)
            _write_repeat(job, repeat, trace)
            _report(repeat, trace)
            if repeat == job.todo[0]:
                _warn_if_root_is_flat(job, trace)
    return out


def _warn_if_root_falls(job: RejectJob, engine: Engine, root: TrainState) -> None:
    """One warning line, before any repeat, when the root policy falls early."""
    cfg = job.cfg
    params = engine.agent.actor_params(root.agent)
    key = plain_key(cfg.sample_seed, cfg.seed_index, cfg.checkpoint)[None]
    length = float(plain_returns(engine, params, key).length[0])
    reason = flat_reason(length, job.horizon)
    if reason:
        logger.warning(
            "warning: the root (seed %d, checkpoint %d): %s; its PURDs will not "
            "tell updates apart: choose a root whose episode lasts",
            cfg.seed_index,
            cfg.checkpoint,
            reason,
        )


def _warn_if_root_is_flat(job: RejectJob, trace: dict[str, np.ndarray]) -> None:
    """One warning line when the root's PURD has no spread beyond float noise."""
    returns = trace["purd_returns"][0]
    if len(returns) > 1 and is_noise(returns):
        logger.warning(
            "warning: the root (seed %d, checkpoint %d): its %d PURD samples all "
            "equal %.6g (spread is float noise): its landscape is flat",
            job.cfg.seed_index,
            job.cfg.checkpoint,
            len(returns),
            float(returns.mean()),
        )


# ------------------------------------------------------------------------ the job


@dataclasses.dataclass
class RejectJob(LandscapeJob):
    """A checked rejection request and the repeats still to compute."""

    criterion: str  # the store's folder name, e.g. "cvar_alpha_0.1"
    todo: list[int]


def plan_rejection(cfg: RejectConfig) -> RejectJob:
    """Check the request against the run; find the repeats still to compute."""
    base = open_job(cfg, cfg.perturb, check_fits=False)
    run_dir, algo = base.run_dir, base.algo
    if is_imported(base.run_cfg):
        raise LandscapeError(
            f"rejection continues training, and {run_dir} holds a policy imported "
            f"from {base.run_cfg.imported.source.value} parameters (no optimizer "
            "state or replay): use a run of 'landscape train'"
        )
    if Algo(algo) is Algo.ppo:
        raise LandscapeError(
            "rejection continues off-policy training, this run is ppo: use a td3 "
            "or sac run"
        )
    if cfg.checkpoint is None:
        have = ", ".join(map(str, chosen_checkpoints(None, run_dir)))
        raise LandscapeError(f"checkpoint= is required: choose one of {have}")
    chosen_checkpoints([cfg.checkpoint], run_dir)
    chosen_seeds([cfg.seed_index], base.run_cfg.seeds)
    _check_numbers(cfg)
    if base.perturbation.episode.moves_start:
        raise LandscapeError(
            "perturb=init_state does not change the policy, so it cannot judge an "
            f"update: choose {algo}, param_noise or action_noise"
        )
    random_steps = agent_config(base.run_cfg).random_start_steps
    if cfg.checkpoint < random_steps:
        raise LandscapeError(
            f"checkpoint {cfg.checkpoint} lies in the random-action phase (the first "
            f"{random_steps} steps): choose a later checkpoint"
        )
    criterion = rejection_store.criterion_name(
        Criterion(cfg.criterion).value, cfg.alpha, cfg.threshold
    )
    job = RejectJob(**base.base(), criterion=criterion, todo=[])
    for repeat in range(cfg.repeats):
        path = rejection_store.rejection_path(
            run_dir, criterion, cfg.checkpoint, cfg.seed_index, repeat
        )
        if not is_finished(path, _settings(job), cfg.overwrite, OLDER_SETTINGS):
            job.todo.append(repeat)
    if job.todo:  # training continues: every leaf and replay row is read
        check_reads_finite([(run_dir, cfg.checkpoint, cfg.seed_index)], replay=True)
    return job


def _check_numbers(cfg: RejectConfig) -> None:
    for name in ("samples", "repeats", "max_steps", "check_interval", "bins"):
        if getattr(cfg, name) < 1:
            raise LandscapeError(f"{name}={getattr(cfg, name)} must be at least 1")
    if not 0 < cfg.alpha <= 1:
        raise LandscapeError(f"alpha={cfg.alpha} must lie in (0, 1]")
    if not 0 <= cfg.threshold <= 1:
        raise LandscapeError(f"threshold={cfg.threshold} must lie in [0, 1]")


OLDER_SETTINGS = {"check_noise": CheckNoise.common.value, "heldout_samples": 0}
"""Traces written before these were recorded: common draws, no held-out PURD."""


def _settings(job: RejectJob) -> dict[str, Any]:
    """The settings a stored repeat must match to count as finished."""
    cfg = job.cfg
    return {
        "perturbation": job.perturbation.name,
        "scale": job.scale,
        "max_steps": cfg.max_steps,
        "check_interval": cfg.check_interval,
        "bins": cfg.bins,
        "reject_env": RejectEnv(cfg.reject_env).value,
        "check_noise": CheckNoise(cfg.check_noise).value,
        "heldout_samples": cfg.samples,
        **common_settings(job),
    }


# -------------------------------------------------------------------- the repeats


def root_state(job: RejectJob, engine: Engine) -> TrainState:
    """The checkpointed training state of the chosen seed, with a seed axis of 1."""
    cfg, parts = job.cfg, engine.parts
    state = restore_without_replay_rows(parts, job.run_cfg, job.run_dir, cfg.checkpoint)
    one = jax.tree.map(
        lambda x: jnp.asarray(x[cfg.seed_index : cfg.seed_index + 1]), state
    )
    seeds = [cfg.seed_index]
    check_finite(
        parts.agent.actor_params(one.agent), job.run_dir, cfg.checkpoint, seeds
    )
    rows = restore_replay_rows(parts, job.run_cfg, job.run_dir, cfg.checkpoint, seeds)
    data = jax.tree.map(jnp.asarray, rows)
    return one.replace(replay=one.replay.replace(data=data))


def continuing_trainer(job: RejectJob) -> Trainer:
    """The trainer a repeat continues with: the run's own (``reject_env=checkpoint``)
    or one whose env starts with ``FRESH_ENV_NOISE`` x the training start noise."""
    run_cfg = job.run_cfg
    noise = training_start_noise(run_cfg)
    if RejectEnv(job.cfg.reject_env) is RejectEnv.fresh and noise is not None:
        run_cfg = dataclasses.replace(
            run_cfg, reset_noise_scale=FRESH_ENV_NOISE * noise
        )
    return get_trainer(run_cfg)


def repeat_start(
    root: TrainState, sample_seed: int, repeat: int, fresh_env=None
) -> TrainState:
    """The root state with the repeat's own training key; with ``fresh_env``, its
    env carry is a fresh reset of that env (key from the repeat's training key)."""
    key = repeat_training_key(root.key[0], sample_seed, repeat)
    state = root.replace(key=key[None])
    if fresh_env is not None:
        carry = reset_carry(fresh_env, jax.random.fold_in(key, FRESH_ENV_TAG))
        state = state.replace(env=jax.tree.map(lambda x: x[None], carry))
    return state


def host_env_seed(job: RejectJob, state: TrainState, fresh: bool) -> int:
    """The env seed a repeat continues with on envs that step on the host (whose
    state a checkpoint cannot hold): drawn from the repeat's training key
    (``fresh``), or the seed training itself continued with after the checkpoint."""
    if fresh:
        key = jax.random.fold_in(state.key[0], FRESH_ENV_TAG)
        return int(jax.random.randint(key, (), 0, np.iinfo(np.int32).max))
    from return_landscapes.envs.mujoco import training_env_seed

    cfg = job.cfg
    return training_env_seed(job.run_cfg.seed, cfg.seed_index, cfg.checkpoint)


def check_keys(cfg: RejectConfig, repeat: int, check: int) -> jax.Array:
    """``(samples,)`` keys of check ``check`` of one repeat (0: the root), fresh
    or common to the repeat's checks as ``check_noise`` says."""
    fresh = CheckNoise(cfg.check_noise) is CheckNoise.fresh
    return check_sample_keys(
        cfg.sample_seed,
        cfg.seed_index,
        cfg.checkpoint,
        repeat,
        check,
        cfg.samples,
        fresh,
    )


def heldout_keys(cfg: RejectConfig, repeat: int) -> jax.Array:
    """``(samples,)`` keys of a repeat's held-out PURD (no check draws them)."""
    return heldout_sample_keys(
        cfg.sample_seed, cfg.seed_index, cfg.checkpoint, repeat, cfg.samples
    )


class Estimate(NamedTuple):
    """One PURD estimate of the current parameters."""

    returns: np.ndarray  # (samples,)
    statistics: dict[str, float]
    unperturbed_return: float


class CheckRow(NamedTuple):
    """One check of a repeat, as the trace stores it."""

    proposed: int  # updates proposed so far
    step: int  # env step of the kept parameters after the check
    accepted: bool  # whether the check kept the proposed updates
    estimate: Estimate  # the PURD estimate of the proposed parameters
    kept: int  # updates kept so far


def run_repeat(
    job: RejectJob,
    engine: Engine,
    root: TrainState,
    repeat: int,
    accept: Accept | None = None,
    bar=None,
) -> tuple[TrainState, dict[str, np.ndarray]]:
    """Run one repeat: propose, estimate, keep or undo, ``max_steps`` updates.

    Args:
      job: the checked request.
      engine: the PURD engine of the run and perturbation.
      root: ``root_state(job, engine)``; not modified.
      repeat: the repeat index (its training key and sample keys).
      accept: the keep rule; by default ``CRITERIA[cfg.criterion]``.
      bar: a progress bar to advance by samples.

    Returns:
      The final training state (seed axis of 1) and the trace: one row per check,
      row 0 the root (see ``_write_repeat`` for the arrays).
    """
    cfg = job.cfg
    accept = accept or CRITERIA[Criterion(cfg.criterion).value]
    trainer = continuing_trainer(job)
    fresh = RejectEnv(cfg.reject_env) is RejectEnv.fresh
    if trainer.seeded_envs is None:
        state = repeat_start(
            jax.tree.map(jnp.copy, root),
            cfg.sample_seed,
            repeat,
            trainer.env if fresh else None,
        )
    else:
        state = repeat_start(jax.tree.map(jnp.copy, root), cfg.sample_seed, repeat)
        state = trainer.seeded_envs(state, [host_env_seed(job, state, fresh)])
    step = cfg.checkpoint  # env steps behind the kept parameters
    kept = _estimate(job, engine, state, check_keys(cfg, repeat, 0), bar)
    rows = [CheckRow(0, step, True, kept, 0)]
    log_check(repeat, rows[0], kept, cfg.max_steps)
    proposed = 0
    while proposed < cfg.max_steps:
        count = min(cfg.check_interval, cfg.max_steps - proposed)
        snapshot = _snapshot(state, step, count)
        state, _ = trainer.run_block(state, Block(step, count, True))
        proposed += count
        keys = check_keys(cfg, repeat, len(rows))
        estimate = _estimate(job, engine, state, keys, bar)
        keep = bool(accept(estimate.statistics, kept.statistics))
        if keep:
            step, kept = step + count, estimate
        else:
            state = _restore(state, *snapshot)
        rows.append(CheckRow(proposed, step, keep, estimate, step - cfg.checkpoint))
        log_check(repeat, rows[-1], kept, cfg.max_steps)
        if bar is not None:
            bar.set_postfix(repeat=repeat, kept=sum(r.accepted for r in rows) - 1)
    heldout = _estimate(job, engine, state, heldout_keys(cfg, repeat), bar)
    return state, {**_trace(rows), **_heldout_arrays(heldout)}


def log_check(repeat: int, row: CheckRow, kept: Estimate, max_steps: int) -> None:
    """One log line, and one wandb row when wandb is on, per check: the PURD mean,
    LTP and CVaR of the last kept parameters (``reject/purd_*``: the curves the
    paper's code logged as "PURD mean/LTP/CVaR") and of the proposal
    (``reject/proposed_purd_*``); LTP as the trace stores it (0 where undefined)."""
    kept_text = _statistics_text(kept.statistics)
    if row.proposed == 0:
        logger.info("repeat %d, root: PURD %s", repeat, kept_text)
    else:
        logger.info(
            "repeat %d, %d/%d updates proposed, %s (%d kept): PURD %s; proposed: %s",
            repeat,
            row.proposed,
            max_steps,
            "kept" if row.accepted else "rejected",
            row.kept,
            kept_text,
            _statistics_text(row.estimate.statistics),
        )

    log_row(lambda: check_row(repeat, row, kept))


def check_row(repeat: int, row: CheckRow, kept: Estimate) -> dict[str, Any]:
    """The wandb row of one check (see ``log_check``)."""
    values = {
        "reject/repeat": repeat,
        "reject/proposed_updates": row.proposed,
        "reject/kept_updates": row.kept,
        "reject/accepted": row.accepted,
    }
    for prefix, estimate in (("", kept), ("proposed_", row.estimate)):
        for name in ("mean", "ltp", "cvar"):
            value = float(np.nan_to_num(estimate.statistics[name], nan=0.0))
            values[f"reject/{prefix}purd_{name}"] = value
    return values


def _statistics_text(stats: dict) -> str:
    ltp = "undefined" if np.isnan(stats["ltp"]) else f"{stats['ltp']:.3f}"
    return f"mean {stats['mean']:.1f}, LTP {ltp}, CVaR {stats['cvar']:.1f}"


def _estimate(job: RejectJob, engine: Engine, state: TrainState, keys, bar) -> Estimate:
    cfg, agent = job.cfg, engine.agent
    agent_state = jax.tree.map(lambda x: x[0], state.agent)
    rows = state.replay.data if job.perturbation.needs_replay else None
    source = seed_source(job.perturbation, agent_state, state, rows, 0, 0)
    stats = perturbed_returns(engine, source, job.scale, keys, cfg.chunk, bar)
    returns = np.asarray(stats.undiscounted_return)
    statistics = purd_statistics(returns, cfg.threshold, cfg.bins, cfg.alpha)
    plain = plain_returns(engine, agent.actor_params(state.agent), keys[:1])
    return Estimate(returns, statistics, float(plain.undiscounted_return[0]))


def _snapshot(state: TrainState, step: int, count: int):
    """What a proposal of ``count`` steps from ``step`` overwrites (host copies)."""
    capacity = state.replay.capacity
    positions = (step + np.arange(count)) % capacity

    def copy(x):
        return np.array(x, copy=True)

    return (
        jax.tree.map(copy, state.agent),
        jax.tree.map(lambda x: copy(x[:, positions]), state.replay.data),
        positions,
        copy(state.replay.position),
        copy(state.replay.size),
    )


@functools.partial(jax.jit, donate_argnums=0)
def _restore(state: TrainState, agent, rows, positions, position, size) -> TrainState:
    """Undo a proposal: agent, the replay rows it wrote, position and size."""
    data = jax.tree.map(
        lambda old, saved: old.at[:, positions].set(saved), state.replay.data, rows
    )
    replay = state.replay.replace(data=data, position=position, size=size)
    return state.replace(agent=agent, replay=replay)


def _trace(rows) -> dict[str, np.ndarray]:
    """The stored trace, one row per check (row 0: the root checkpoint).

    ``proposed_updates``: updates proposed so far; ``accepted``: whether the check
    kept them (row 0: true); ``kept_updates`` and ``env_step``: updates kept so far
    and the training step of the kept parameters after the check; ``purd_returns``
    ``(checks, samples)`` and its ``mean``, ``std``, ``median``, ``mode``, ``ltp``,
    ``cvar``: the PURD estimate of the proposed parameters (``ltp`` is stored as 0
    where it is undefined, i.e. where ``mode <= 0``); ``unperturbed_return``:
    their plain return.
    """
    trace = {
        "proposed_updates": np.array([r.proposed for r in rows], np.int64),
        "env_step": np.array([r.step for r in rows], np.int64),
        "accepted": np.array([r.accepted for r in rows], bool),
        "purd_returns": np.stack([r.estimate.returns for r in rows]),
        "unperturbed_return": np.array([r.estimate.unperturbed_return for r in rows]),
    }
    for name in TRACE_STATISTICS:
        trace[name] = np.array([r.estimate.statistics[name] for r in rows])
    trace["ltp"] = np.nan_to_num(trace["ltp"], nan=0.0)  # undefined where mode <= 0
    trace["kept_updates"] = np.array([r.kept for r in rows], np.int64)
    return trace


def _heldout_arrays(estimate: Estimate) -> dict[str, np.ndarray]:
    """The held-out PURD of a repeat's final policy, as the trace stores it:
    ``heldout_returns`` ``(samples,)``, ``heldout_<statistic>`` (LTP 0 where
    undefined, as in the trace) and ``heldout_unperturbed_return``."""
    arrays = {"heldout_returns": np.asarray(estimate.returns)}
    for name in TRACE_STATISTICS:
        arrays[f"heldout_{name}"] = np.asarray(estimate.statistics[name], np.float64)
    arrays["heldout_ltp"] = np.nan_to_num(arrays["heldout_ltp"], nan=0.0)
    arrays["heldout_unperturbed_return"] = np.asarray(estimate.unperturbed_return)
    return arrays


def _write_repeat(job: RejectJob, repeat: int, trace: dict[str, np.ndarray]) -> None:
    cfg = job.cfg
    attrs = result_attrs(
        job,
        "rejection",
        criterion=Criterion(cfg.criterion).value,
        alpha=float(cfg.alpha),
        threshold=float(cfg.threshold),
        checkpoint=cfg.checkpoint,
        seed=cfg.seed_index,
        repeat=repeat,
        scale_source=job.scale_source,
        **_settings(job),
    )
    path = rejection_store.rejection_path(
        job.run_dir, job.criterion, cfg.checkpoint, cfg.seed_index, repeat
    )
    write_result(path, trace, attrs, REPEAT_SUMMARY)


def _report(repeat: int, trace: dict[str, np.ndarray]) -> None:
    last = np.flatnonzero(trace["accepted"])[-1]
    logger.info(
        f"repeat {repeat}: kept {int(trace['accepted'][1:].sum())} of "
        f"{len(trace['accepted']) - 1} checks; PURD mean "
        f"{trace['mean'][0]:.1f} -> {trace['mean'][last]:.1f}, LTP "
        f"{trace['ltp'][0]:.3f} -> {trace['ltp'][last]:.3f}, CVaR "
        f"{trace['cvar'][0]:.1f} -> {trace['cvar'][last]:.1f} (kept estimates); "
        f"held out: mean {float(trace['heldout_mean']):.1f}, LTP "
        f"{float(trace['heldout_ltp']):.3f}, CVaR {float(trace['heldout_cvar']):.1f}"
    )
