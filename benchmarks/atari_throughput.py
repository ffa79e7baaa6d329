"""Atari PPO throughput: envpool's raw rate, rollouts (host vs XLA), training, PURD.

Prints one JSON object:

* ``raw``: envpool steps/s with random actions at the training batch of each seed
  count (``seeds x num_envs`` envs): the limit of this machine;
* ``rollout``: a 128-step rollout of the Nature-CNN policy on that batch, the host
  loop (what training uses) against envpool's XLA interface inside one jitted scan;
* ``train``: training steps/s and frames/s (all seeds together) for each seed count,
  after one warm-up iteration;
* ``purd``: ``ppo`` perturbation samples/s (fresh experience, one step, one episode of
  at most ``--horizon`` steps) after a warm-up chunk;
* ``peak_rss_gb``: the process's peak resident memory; ``peak_device_gb``: the
  accelerator's peak bytes in use (absent on the CPU).

Usage: ``python benchmarks/atari_throughput.py --seeds 1 4 --iterations 3``.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes import configure_xla
from return_landscapes.conf import TrainConfig, resolve
from return_landscapes.envs.atari import frames, task_id, training_pool
from return_landscapes.landscape.hotpath.engine import get_engine, perturbed_returns
from return_landscapes.landscape.perturb import CheckpointSource, get_perturbation
from return_landscapes.training.schedule import Block, step_unit
from return_landscapes.training.state import init_state
from return_landscapes.training.trainers import get_trainer

configure_xla()  # the landscape command's XLA settings, before JAX starts


def raw_rate(env: str, cfg, count: int, steps: int) -> float:
    pool = training_pool(env, cfg.atari, list(range(count)))
    pool.reset()
    rng = np.random.default_rng(0)
    actions = rng.integers(0, pool.action_space.n, (steps, count))
    tic = time.perf_counter()
    for action in actions:
        pool.step(action)
    return steps * count / (time.perf_counter() - tic)


def rollout_rates(env: str, cfg, trainer, count: int, steps: int = 128) -> dict:
    agent = trainer.agent
    params = agent.init(jax.random.PRNGKey(0)).params
    act = jax.jit(lambda p, o, k: agent.act(p, o, k)[0])
    pool = training_pool(env, cfg.atari, list(range(count)))
    observation, _ = pool.reset()
    key = jax.random.PRNGKey(1)
    act(params, observation, key).block_until_ready()
    tic = time.perf_counter()
    for t in range(steps):
        action = np.asarray(act(params, observation, jax.random.fold_in(key, t)))
        observation = pool.step(action)[0]
    host = steps * count / (time.perf_counter() - tic)

    import envpool

    xla_pool = envpool.make(task_id(env), env_type="gymnasium", num_envs=count)
    handle, recv, _send, step = xla_pool.xla()
    xla_pool.async_reset()

    @jax.jit
    def scan_rollout(handle, observation):
        def body(carry, t):
            handle, observation = carry
            action = agent.act(params, observation, jax.random.fold_in(key, t))[0]
            handle, (observation, *_rest) = step(
                handle, action.astype(jnp.int32), jnp.arange(count, dtype=jnp.int32)
            )
            return (handle, observation), None

        return jax.lax.scan(body, (handle, observation), jnp.arange(steps))[0]

    handle, (observation, *_rest) = jax.jit(recv)(handle)
    carry = jax.block_until_ready(scan_rollout(handle, observation))  # compile
    tic = time.perf_counter()
    jax.block_until_ready(scan_rollout(*carry))
    xla = steps * count / (time.perf_counter() - tic)
    return {"host_loop_steps_per_s": host, "xla_scan_steps_per_s": xla}


def train_rate(cfg, trainer, iterations: int) -> float:
    state = trainer.restart_envs(init_state(trainer, cfg), 0)
    unit = step_unit(cfg)
    state, _ = trainer.run_block(state, Block(0, unit, True))  # compile
    tic = time.perf_counter()
    state, _ = trainer.run_block(state, Block(unit, iterations * unit, True))
    jax.block_until_ready(jax.tree.leaves(state.agent))
    return iterations * unit * cfg.seeds / (time.perf_counter() - tic), state


def purd_rate(cfg, state, samples: int, horizon: int) -> float:
    perturbation = get_perturbation("ppo", "ppo")
    engine = get_engine(cfg, perturbation, horizon, 0.99, 3e-4)
    agent_state = jax.tree.map(lambda x: jnp.asarray(x[0]), state.agent)
    source = CheckpointSource(agent_state)
    keys = jax.random.split(jax.random.PRNGKey(0), samples)
    perturbed_returns(engine, source, 3e-4, keys, chunk=samples)  # compile, pools
    tic = time.perf_counter()
    stats = perturbed_returns(engine, source, 3e-4, keys, chunk=samples)
    seconds = time.perf_counter() - tic
    return samples / seconds, float(np.mean(stats.length))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--game", default="Breakout-v5")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--raw-steps", type=int, default=2000)
    parser.add_argument("--purd-samples", type=int, default=16)
    parser.add_argument("--horizon", type=int, default=2000)
    args = parser.parse_args()
    env = f"atari:{args.game}"
    out = {
        "device": str(jax.devices()[0]),
        "game": args.game,
        "raw": {},
        "rollout": {},
        "train": {},
    }
    state = None
    for seeds in args.seeds:
        cfg = resolve(TrainConfig, env=env, algo="ppo", seeds=seeds, progress=False)
        trainer = get_trainer(cfg)
        count = seeds * cfg.atari.num_envs
        raw = raw_rate(env, cfg, count, args.raw_steps)
        out["raw"][seeds] = {
            "envs": count,
            "steps_per_s": raw,
            "frames_per_s": frames(raw),
        }
        out["rollout"][seeds] = rollout_rates(env, cfg, trainer, count)
        rate, trained = train_rate(cfg, trainer, args.iterations)
        out["train"][seeds] = {
            "steps_per_s": rate,
            "frames_per_s": frames(rate),
            "of_raw": rate / raw,
        }
        if state is None:
            state, purd_cfg = trained, cfg
        print(json.dumps(out), flush=True)
    samples_per_s, length = purd_rate(purd_cfg, state, args.purd_samples, args.horizon)
    out["purd"] = {
        "samples": args.purd_samples,
        "samples_per_s": samples_per_s,
        "mean_episode_steps": length,
        "horizon": args.horizon,
    }
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    device_stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in device_stats:
        out["peak_device_gb"] = device_stats["peak_bytes_in_use"] / 1e9
    print(json.dumps(out))


if __name__ == "__main__":
    main()
