"""MuJoCo (envpool) throughput: TD3 training, PURD episodes, envpool's raw rate, naive.

Gymnasium's MuJoCo v5 tasks (``env=mujoco:<Task>-v5``) step on the host in envpool's
C++ threads. Measured in one process, JSON on stdout (progress on stderr):

* ``train``: TD3 training env-steps/s, every seed's steps counted, for each
  ``--seeds`` count: paper settings (256x256 nets, batch 256, 1M-row replay, one
  update per env step; ``random_start_steps=0`` so every block learns), the trainer
  driven block by block as the ``train`` command does; one warm-up block (compiles),
  then the median of ``--blocks`` blocks of ``--block-steps`` steps.
  ``envpool_ms_per_step`` is envpool's own step of the seeds' envs (random actions),
  to compare with ``ms_per_step``. ``brax``: the Brax trainer with the same settings
  on ``--brax-env`` (default ``hopper``), in the same process, its blocks alternating
  with the MuJoCo trainer's (so a change of the shared machine's load falls on both);
  ``over_brax`` the ratio of the two median rates and ``over_brax_by_block`` the
  ratio of each pair of blocks timed one after the other.
* ``purd``: the evaluation hot path of ``landscape purd`` for each ``--batches`` K,
  on ``make_mujoco_env(task, 0.0)`` (fixed start, its host stage ``HostEpisodes``),
  one chunk of K, horizon ``--horizon``. The K distinct parameter sets come from the
  ``td3`` perturbation stage (one actor update of lr 3e-4 on random replay rows) of
  one paper-size TD3 actor, per ``--policies``:

  - ``random``: a fresh initialisation. It falls within tens of steps, so episodes
    are short.
  - ``standing``: the same network with weights set so that it computes the PD
    controller ``tanh(-3 q - 0.3 dq)`` on the joint angles ``q`` (ReLU pairs pass
    ``x`` through the hidden layers): it holds Hopper upright for the whole horizon,
    the regime of a trained policy. (A zero-output actor does not: Hopper with
    zero actions falls at step 141.) Tasks laid out as Hopper and Walker2d only.
  - ``run``: with ``--run DIR``, seed 0's last checkpoint of a TD3 run on a MuJoCo
    task (the task is the run's).

  ``episode_steps_per_s`` counts the sum of episode lengths; ``stepped_steps_per_s``
  counts what the batch really stepped (K x the longest episode: ended envs keep
  stepping until every episode has ended). ``perturb_seconds`` is the perturbation
  stage alone (after a compile), ``samples_per_s`` the whole PURD (both stages).
  Where the time goes, per step of the batch, over ``--step-costs`` steps of the
  same actors and envs timed apart: ``forward_ms_per_step`` (the stage's jitted
  policy call on K observations, back to numpy), ``envpool_ms_per_step`` (the
  envpool step of the K envs) and ``other_ms_per_step`` (the rest of a step of the
  timed episodes: bookkeeping, and the machine's noise); ``limit_steps_per_s`` pays
  the first two in sequence, ``of_limit`` is the hot path against it.
* ``raw``: envpool's own batched stepping with random actions, ``envpool.make(task,
  env_type="gymnasium", num_envs=K, batch_size=K)``, no policy: the machine's limit.
  ``out_of_order_steps`` counts steps whose outputs did not come in env-id order.
* ``naive``: what one would write without the tool: ``gymnasium.make(task)``, one
  policy and one env, the jitted single-policy forward at every step, episodes one
  after another, for ``--naive-steps`` steps (the unperturbed actor of each regime).

Ratios: ``of_raw`` (stepped steps over raw, target >= 0.6) and ``over_naive``
(episode steps over naive, target >= 5). Rates are medians over ``--repeats`` timed
calls after a warm-up.

Usage:
    python benchmarks/mujoco_throughput.py                      # defaults, ~5-10 min
    python benchmarks/mujoco_throughput.py --skip-train --batches 4096 --repeats 3
    python benchmarks/mujoco_throughput.py --run runs/hopper-td3 --policies run
    python benchmarks/mujoco_throughput.py --task Walker2d-v5 --seeds 1 --batches 256
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes import configure_xla
from return_landscapes.agents.td3 import make_td3
from return_landscapes.conf import Algo, TD3Config, TrainConfig, is_mujoco, resolve
from return_landscapes.envs.mujoco import make_mujoco_env
from return_landscapes.errors import LandscapeError
from return_landscapes.evaluation import EvaluationSetup, make_episode_stage
from return_landscapes.landscape.hotpath.engine import policy_apply
from return_landscapes.landscape.hotpath.keys import sample_keys
from return_landscapes.landscape.perturb import (
    CheckpointSource,
    get_perturbation,
    make_perturb_stage,
)
from return_landscapes.pipeline import plan_chunks, run_chunks
from return_landscapes.replay import replay_init
from return_landscapes.training.schedule import Block
from return_landscapes.training.state import init_state
from return_landscapes.training.trainers import make_trainer

configure_xla()  # the landscape command's XLA settings, before JAX starts

REPLAY_ROWS = 10_000  # random rows the td3 perturbation samples its minibatch from
SCALE = 3e-4  # the td3 perturbation's learning rate
PD_GAINS = (3.0, 0.3)  # joint angle, joint velocity: holds Hopper-v5 upright


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------- training


def block_runner(env: str, seeds: int, block_steps: int, capacity: int):
    """A function that runs the next training block of a fresh TD3 run (paper
    settings, ``seeds`` seeds) and returns its seconds; its first call compiles."""
    cfg = resolve(
        TrainConfig,
        env=env,
        algo="td3",
        seeds=seeds,
        progress=False,
        td3={"random_start_steps": 0, "replay_capacity": capacity},
    )
    trainer = make_trainer(cfg)
    state = init_state(trainer, cfg)
    if trainer.restart_envs is not None:  # host envs: fresh ones, as at a checkpoint
        state = trainer.restart_envs(state, 0)
    run = {"state": state, "start": 0}

    def next_block() -> float:
        tic = time.perf_counter()
        state, metrics = trainer.run_block(
            run["state"], Block(run["start"], block_steps, True)
        )
        jax.block_until_ready((state.agent, state.replay, metrics))
        run["state"], run["start"] = state, run["start"] + block_steps
        return time.perf_counter() - tic

    return next_block


def train_rates(env: str, seeds: int, block_steps: int, seconds: list) -> dict:
    median = statistics.median(seconds)
    return {
        "env": env,
        "seeds": seeds,
        "block_steps": block_steps,
        "median_block_seconds": round(median, 3),
        "env_steps_per_s": round(seeds * block_steps / median, 1),
        "per_seed_env_steps_per_s": round(block_steps / median, 1),
        "ms_per_step": round(1000 * median / block_steps, 2),
    }


def train_case(envs: list[str], seeds: int, block_steps: int, blocks: int, capacity):
    """TD3 env-steps/s of ``seeds`` seeds on each env of ``envs``, paper settings,
    medians over ``blocks`` blocks after a compiling one; the envs' blocks
    alternate, so a change of the machine's load falls on every env alike."""
    runners = [block_runner(env, seeds, block_steps, capacity) for env in envs]
    for runner in runners:
        runner()  # compiles
    seconds = [[] for _ in envs]
    for _ in range(blocks):
        for runner, timed in zip(runners, seconds, strict=True):
            timed.append(runner())
    cases = [
        train_rates(env, seeds, block_steps, timed)
        for env, timed in zip(envs, seconds, strict=True)
    ]
    if len(envs) == 2:  # a pair's ratio, block by block: the load's drift cancels
        pairs = [b / a for a, b in zip(*seconds, strict=True)]
        cases[0]["over_brax_by_block"] = [round(r, 3) for r in pairs]
    return cases


# ------------------------------------------------------------------------- policies


def standing_actor(params, observation_size: int, action_size: int):
    """TD3 actor weights computing ``tanh(-kp q - kd dq)`` on the joints.

    Observations laid out as Hopper's and Walker2d's: ``[z, angle, q (A), vx, vz,
    vangle, dq (A)]``. Hidden unit pairs hold ``relu(x)`` and ``relu(-x)`` of each
    joint angle and velocity; the second layer passes them on; the output layer
    subtracts the pairs with the gains.
    """
    joints = action_size
    if observation_size != 2 * joints + 5:
        raise LandscapeError(
            f"the standing policy needs a Hopper-like observation (2 x {joints} + 5 "
            f"values), this task has {observation_size}: use --policies random"
        )
    mlp = params["params"]["MLP_0"]
    inputs = [2 + j for j in range(joints)] + [joints + 5 + j for j in range(joints)]
    width = 2 * len(inputs)
    if mlp["Dense_0"]["kernel"].shape[1] < width:
        raise LandscapeError(f"the standing policy needs {width} hidden units")
    first = np.zeros(mlp["Dense_0"]["kernel"].shape, np.float32)
    for unit, index in enumerate(inputs):
        first[index, 2 * unit] = 1.0
        first[index, 2 * unit + 1] = -1.0
    second = np.zeros(mlp["Dense_1"]["kernel"].shape, np.float32)
    second[np.arange(width), np.arange(width)] = 1.0
    last = np.zeros(mlp["Dense_2"]["kernel"].shape, np.float32)
    for unit in range(len(inputs)):
        gain = PD_GAINS[unit // joints]
        last[2 * unit, unit % joints] = -gain
        last[2 * unit + 1, unit % joints] = gain
    kernels = {"Dense_0": first, "Dense_1": second, "Dense_2": last}
    layers = {
        name: {"kernel": jnp.asarray(kernels[name]), "bias": jnp.zeros_like(x["bias"])}
        for name, x in mlp.items()
    }
    return {"params": {"MLP_0": layers}}


def random_replay(key, observation_size: int, action_size: int):
    """A replay buffer of ``REPLAY_ROWS`` random rows (the cost ignores values)."""
    replay = replay_init(REPLAY_ROWS, observation_size, action_size)
    rows = jax.tree.map(lambda x: jax.random.normal(key, x.shape, x.dtype), replay.data)
    return replay.replace(
        data=rows,
        position=jnp.zeros((), jnp.int32),
        size=jnp.asarray(REPLAY_ROWS, jnp.int32),
    )


def policy_source(kind: str, env, run: Path | None):
    """``(agent, CheckpointSource)`` of one regime: random, standing or run."""
    if kind == "run":
        return run_source(run)
    agent = make_td3(TD3Config(), env.observation_size, env.action_size)
    key = jax.random.PRNGKey(0)
    state = agent.init(key)
    if kind == "standing":
        actor = standing_actor(
            agent.actor_params(state), env.observation_size, env.action_size
        )
        state = state.replace(actor_params=actor, target_actor_params=actor)
    replay = random_replay(key, env.observation_size, env.action_size)
    return agent, CheckpointSource(state, replay)


def run_config(run: Path):
    """The config of ``--run``; one-line error unless a TD3 run on a MuJoCo task."""
    from return_landscapes.rundir import load_run_config

    cfg = load_run_config(run)
    algo = Algo(cfg.algo).value
    if not is_mujoco(cfg.env) or algo != "td3":
        raise LandscapeError(
            f"--run {run} is {algo} on {cfg.env}: give a TD3 run on mujoco:<Task>"
        )
    return cfg


def run_source(run: Path | None):
    """Seed 0's last checkpoint of a TD3 run on a MuJoCo task, with its replay."""
    from return_landscapes.landscape.hotpath.engine import checkpoint_source
    from return_landscapes.rundir import completed_checkpoints
    from return_landscapes.training.trainers import get_parts

    if run is None:
        raise LandscapeError("--policies run needs --run DIR (a TD3 MuJoCo run)")
    cfg = run_config(run)
    steps = completed_checkpoints(run)
    if not steps:
        raise LandscapeError(f"--run {run} has no completed checkpoint yet")
    parts = get_parts(cfg)
    source = checkpoint_source(
        parts, cfg, run, 0, steps[-1], get_perturbation("td3", "td3")
    )
    return parts.agent, source


# ----------------------------------------------------------------------------- PURD


def median_seconds(fn, repeats: int) -> tuple[float, list]:
    """Median seconds of ``repeats`` calls of ``fn()`` and their results."""
    seconds, results = [], []
    for _ in range(repeats):
        tic = time.perf_counter()
        results.append(jax.block_until_ready(fn()))
        seconds.append(time.perf_counter() - tic)
    return statistics.median(seconds), results


def perturbed_parameters(agent, source, count: int):
    """K perturbed actors (``td3``: one actor update each) and the stage's seconds."""
    stage = make_perturb_stage(get_perturbation("td3"), agent)
    shared = (source, jnp.float32(SCALE))
    keys = sample_keys(0, 0, 0, count)
    jax.block_until_ready(stage(shared, keys))  # compile
    seconds, (rows, *_) = median_seconds(lambda: stage(shared, keys), 1)
    return jax.tree.map(np.asarray, rows), seconds


def step_costs(stage, rows, steps: int) -> tuple[float, float]:
    """Seconds per step of the stage's jitted policy on K observations and of the
    envpool step of its K envs, the two timed apart over ``steps`` steps.

    Called on device arrays as ``run_chunks`` places them, so it also compiles
    everything the stage's first call would (the timed calls then compile nothing).
    The stage resets its envs at every call, so stepping them here changes nothing.
    """
    device = jax.devices()[0]
    params, keys = jax.device_put(rows, device)
    pool, observation = stage.env.episode_pool(keys, stage.setup.horizon)
    noise_keys = jax.vmap(jax.random.split)(keys)[:, 1]  # as the stage splits them
    noise = jax.device_put(jnp.float32(0.0), device)
    observation = observation.astype(np.float32)
    np.asarray(stage.choose(params, observation, noise_keys, 0, noise))  # compile
    forward = envpool = 0.0
    for t in range(steps):
        tic = time.perf_counter()
        action = stage.choose(params, observation, noise_keys, t, noise)
        action = np.asarray(action, np.float64)
        toc = time.perf_counter()
        observation = pool.step(action)[0].astype(np.float32)
        forward += toc - tic
        envpool += time.perf_counter() - toc
    return forward / steps, envpool / steps


def purd_case(
    env, agent, source, count: int, horizon: int, repeats: int, component_steps: int
) -> dict:
    """The evaluation hot path of K perturbed actors, one chunk of K."""
    rows, perturb_seconds = perturbed_parameters(agent, source, count)
    setup = EvaluationSetup(env, policy_apply(agent), horizon)
    stage = make_episode_stage(setup)
    shared = (jnp.float32(0.0),)
    plan = plan_chunks((stage,), shared, rows, count, count)
    forward, envpool = step_costs(stage, rows, component_steps)
    seconds, results = median_seconds(lambda: run_chunks(plan, shared, rows), repeats)
    lengths = np.concatenate([r.length for r in results])
    episode_steps = float(np.mean([r.length.sum() for r in results]))
    stepped = float(np.mean([count * r.length.max() for r in results]))
    returns = results[0].undiscounted_return
    return {
        "K": count,
        "horizon": horizon,
        "eval_seconds": round(seconds, 3),
        "episodes_per_s": round(count / seconds, 1),
        "episode_steps_per_s": round(episode_steps / seconds),
        "stepped_steps_per_s": round(stepped / seconds),
        "mean_length": round(float(lengths.mean()), 1),
        "min_length": int(lengths.min()),
        "max_length": int(lengths.max()),
        "mean_return": round(float(returns.mean()), 1),
        "perturb_seconds": round(perturb_seconds, 3),
        "samples_per_s": round(count / (seconds + perturb_seconds), 1),
        "forward_ms_per_step": round(1000 * forward, 3),
        "envpool_ms_per_step": round(1000 * envpool, 3),
        "other_ms_per_step": round(
            1000 * (seconds * count / stepped - forward - envpool), 3
        ),
    }


# ----------------------------------------------------------------- raw and naive


def raw_case(task: str, count: int, steps: int, repeats: int) -> dict:
    """envpool's batched stepping of K envs with random actions, no policy."""
    import envpool

    pool = envpool.make(task, env_type="gymnasium", num_envs=count, batch_size=count)
    pool.reset()
    rng = np.random.default_rng(0)
    shape = (steps, count, *pool.action_space.shape)
    actions = rng.uniform(-1.0, 1.0, shape)
    order = np.arange(count)
    unordered = []

    def run():
        late = 0
        for action in actions:
            info = pool.step(action)[-1]
            late += not np.array_equal(info["env_id"], order)
        unordered.append(late)

    run()  # warm-up
    seconds, _ = median_seconds(run, repeats)
    return {
        "K": count,
        "steps_per_s": round(count * steps / seconds),
        "ms_per_step": round(1000 * seconds / steps, 3),
        "out_of_order_steps": int(sum(unordered)),
    }


def naive_case(task: str, agent, source, steps: int) -> dict:
    """One Gymnasium env, one policy, a jitted forward per step, for ``steps``."""
    import gymnasium

    gym_env = gymnasium.make(task, reset_noise_scale=0.0)
    params = agent.actor_params(source.agent_state)
    forward = jax.jit(policy_apply(agent))
    observation, _ = gym_env.reset(seed=0)
    np.asarray(forward(params, observation.astype(np.float32)))  # compile
    episodes = 0
    tic = time.perf_counter()
    for _ in range(steps):
        action = np.asarray(forward(params, observation.astype(np.float32)))
        observation, _, terminated, truncated, _ = gym_env.step(
            action.astype(np.float64)
        )
        if terminated or truncated:
            episodes += 1
            observation, _ = gym_env.reset()
    seconds = time.perf_counter() - tic
    gym_env.close()
    return {
        "steps": steps,
        "episodes_ended": episodes,
        "steps_per_s": round(steps / seconds),
    }


def with_ratios(case: dict, raw: dict, naive: dict) -> dict:
    """The PURD case with the limit of its step costs and the ratios."""
    seconds = (case["forward_ms_per_step"] + case["envpool_ms_per_step"]) / 1000
    limit = case["K"] / seconds
    episode, stepped = case["episode_steps_per_s"], case["stepped_steps_per_s"]
    return case | {
        "limit_steps_per_s": round(limit),
        "of_raw": round(stepped / raw["steps_per_s"], 3),
        "episode_steps_of_raw": round(episode / raw["steps_per_s"], 3),
        "of_limit": round(stepped / limit, 3),
        "over_naive": round(episode / naive["steps_per_s"], 2),
    }


def policy_cases(args, env, kind: str, raw: dict) -> dict:
    """PURD at every K and the naive loop for one regime, with the ratios."""
    agent, source = policy_source(kind, env, args.run)
    naive = naive_case(env.task, agent, source, args.naive_steps)
    log(f"{kind}: naive {naive}")
    cases = []
    for count in args.batches:
        case = purd_case(
            env, agent, source, count, args.horizon, args.repeats, args.step_costs
        )
        cases.append(with_ratios(case, raw[count], naive))
        log(f"{kind}: purd {cases[-1]}")
    return {"naive": naive, "purd": cases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="Hopper-v5")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--block-steps", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--capacity", type=int, default=1_000_000)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument(
        "--brax-env", default="hopper", help="Brax env trained beside it, or none"
    )
    parser.add_argument("--batches", nargs="+", type=int, default=[256, 1024])
    parser.add_argument("--horizon", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=1, help="timed PURD calls")
    parser.add_argument(
        "--policies",
        nargs="+",
        default=["random", "standing"],
        choices=["random", "standing", "run"],
    )
    parser.add_argument("--run", type=Path, default=None, help="a TD3 MuJoCo run")
    parser.add_argument("--raw-steps", type=int, default=200)
    parser.add_argument("--naive-steps", type=int, default=5000)
    parser.add_argument(
        "--step-costs", type=int, default=50, help="steps timed for the step costs"
    )
    args = parser.parse_args()
    if args.run is not None and "run" not in args.policies:
        args.policies.append("run")
    name = f"mujoco:{args.task}"
    if args.run is not None:  # the run's task
        name = run_config(args.run).env
    elif "run" in args.policies:
        raise LandscapeError("--policies run needs --run DIR (a TD3 MuJoCo run)")
    env = make_mujoco_env(name, 0.0)  # one-line error for an unknown task
    out = {"device": str(jax.devices()[0]), "task": env.task}
    if not args.skip_train:
        out["train"] = []
        for seeds in args.seeds:
            envs = [name] + ([args.brax_env] if args.brax_env != "none" else [])
            case, *others = train_case(
                envs, seeds, args.block_steps, args.blocks, args.capacity
            )
            brax = others[0] if others else None
            case["envpool_ms_per_step"] = raw_case(env.task, seeds, 200, 3)[
                "ms_per_step"
            ]
            if brax is not None:  # the same trainer settings on Brax
                case["brax"] = brax
                case["over_brax"] = round(
                    case["env_steps_per_s"] / brax["env_steps_per_s"], 3
                )
            out["train"].append(case)
            log(f"train: {out['train'][-1]}")
    raw = {k: raw_case(env.task, k, args.raw_steps, 3) for k in args.batches}
    out["raw"] = list(raw.values())
    log(f"raw: {out['raw']}")
    out["policies"] = {}
    for kind in args.policies:
        out["policies"][kind] = policy_cases(args, env, kind, raw)
    out["peak_rss_gb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2
    )
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    try:
        main()
    except LandscapeError as error:
        sys.exit(f"error: {error}")
