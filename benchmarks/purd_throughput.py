"""PURD throughput: env-steps/s against this machine's limits and a naive loop.

For each env, physics backend (``positional``, the default, then ``spring``) and
batch size K, with paper-sized TD3 networks (256x256), measured in one process:

* ``physics``: raw batched physics, K envs stepping with random actions (no policy);
* ``forward``: the forward pass of K *distinct* actor parameter sets alone, on fresh
  observations every step (each sample reads its own weights every step);
* each of the two measured as one call of K and as the engine splits a chunk on a
  CPU (``pipeline.lane_count``: K / lanes per call, one thread per lane, one lane
  per usable core), the faster of the two counting (``*_by``);
* ``limit``: ``1 / (1/physics + 1/forward)``, both costs paid in sequence;
* ``purd``: the engine (``td3`` perturbation of K samples + one episode each) through
  the same chunked hot path ``landscape purd`` uses, one chunk of K;
* ``episodes``: the engine's episode stage alone on K perturbed actors, as the engine
  runs it (groups of 8 in every lane on the CPU), and
  ``perturb_seconds_per_sample``, what the rest of the PURD costs a sample (a fixed
  cost: its share falls as the horizon grows), and from the two
  ``purd_over_limit_at_1000_steps``, the PURD / limit of 1000-step episodes;
* ``naive``: what a user would write without the tool: per sample, one jitted actor
  update, then one jitted single-env episode (``lax.scan``), one sample at a time.

Episodes run the full ``--horizon`` (the envs are built with
``terminate_when_unhealthy=False``), as a trained policy's would; the weights are a
fresh initialisation and the replay buffer random rows (the cost does not depend on
their values). Rates are medians over ``--repeats`` timed calls after a warm-up call,
each with its spread (``*_range``: the lowest and highest rate of those calls), so a
ratio can be read against the noise of a shared machine. ``--naive-policies 0``
skips the naive loop.

``--memory`` instead reports the peak resident memory of one process that computes a
PURD of K=1000 samples on halfcheetah with the automatic chunk size.

``--ppo`` instead measures the ``ppo`` perturbation (paper PPO settings: each sample
collects 2048 envs x 16 steps of fresh experience, then one minibatch step, then one
evaluation episode): samples/s, env-steps/s counting both, the automatic chunk size
and the process's peak resident memory, for ``--ppo-samples`` samples on hopper.

Usage:
    python benchmarks/purd_throughput.py                    # JSON lines on stdout
    python benchmarks/purd_throughput.py --envs hopper --batches 256 --horizon 100
    python benchmarks/purd_throughput.py --backends positional --repeats 7
    python benchmarks/purd_throughput.py --memory
    python benchmarks/purd_throughput.py --ppo --ppo-samples 64
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from return_landscapes import configure_xla
from return_landscapes.agents.td3 import make_td3
from return_landscapes.conf import TD3Config
from return_landscapes.envs.brax import _import_brax_envs, _quiet, run_episode
from return_landscapes.evaluation import EvaluationSetup, make_episode_stage
from return_landscapes.landscape.hotpath.engine import policy_apply
from return_landscapes.landscape.hotpath.keys import sample_keys
from return_landscapes.landscape.perturb import (
    MINIBATCH_SIZE,
    CheckpointSource,
    get_perturbation,
    make_perturb_stage,
)
from return_landscapes.pipeline import lane_count, plan_chunks, run_chunks
from return_landscapes.replay import replay_init

configure_xla()  # the landscape command's XLA settings, before JAX starts

REPLAY_ROWS = 10_000
PAPER_HORIZON = 1000


def full_horizon_env(name: str, backend: str = "spring"):
    """The env with a fixed start state and no early termination."""
    import inspect

    envs = _import_brax_envs()
    options = {"backend": backend, "reset_noise_scale": 0.0}
    if "terminate_when_unhealthy" in inspect.signature(envs._envs[name]).parameters:
        options["terminate_when_unhealthy"] = False
    with _quiet():
        return envs.get_environment(name, **options)


def timed_calls(fn, repeats: int, warm_up: bool = True) -> list[float]:
    """Seconds of ``repeats`` calls ``fn(1) .. fn(repeats)``, after ``fn(0)``."""
    if warm_up:
        jax.block_until_ready(fn(0))
    seconds = []
    for i in range(repeats):
        tic = time.perf_counter()
        jax.block_until_ready(fn(i + 1))
        seconds.append(time.perf_counter() - tic)
    return seconds


def median_seconds(fn, repeats: int, warm_up: bool = True) -> float:
    return statistics.median(timed_calls(fn, repeats, warm_up))


class Rate(NamedTuple):
    """Steps per second: the median call's and the range over calls."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, steps: int, seconds: list[float]) -> Rate:
        median = statistics.median(seconds)
        return cls(steps / median, steps / max(seconds), steps / min(seconds))

    def range(self) -> list[int]:
        return [round(self.low), round(self.high)]


def checkpoint_source(env, agent, key):
    """A fresh TD3 state and a replay buffer of random rows."""
    agent_state = agent.init(key)
    replay = replay_init(REPLAY_ROWS, env.observation_size, env.action_size)
    rows = jax.tree.map(lambda x: jax.random.normal(key, x.shape, x.dtype), replay.data)
    replay = replay.replace(
        data=rows,
        position=jnp.zeros((), jnp.int32),
        size=jnp.asarray(REPLAY_ROWS, jnp.int32),
    )
    return CheckpointSource(agent_state, replay)


def physics_rollout(env, count: int, horizon: int):
    """The jitted rollout of ``count`` envs stepping with random actions."""

    @jax.jit
    def rollout(key):
        states = jax.vmap(env.reset)(jax.random.split(key, count))

        def step(states, step_key):
            actions = jax.random.uniform(
                step_key, (count, env.action_size), minval=-1.0, maxval=1.0
            )
            return jax.vmap(env.step)(states, actions), None

        states, _ = jax.lax.scan(step, states, jax.random.split(key, horizon))
        return states.reward

    return rollout


def in_lanes(call, lanes: int):
    """``call(i, lane)`` for every lane at once, one thread each (a pipeline chunk's
    lanes on the CPU), waiting for all."""
    if lanes == 1:
        return lambda i: jax.block_until_ready(call(i, 0))
    pool = ThreadPoolExecutor(lanes)

    def run(i):
        calls = [pool.submit(lambda lane: jax.block_until_ready(call(i, lane)), lane)
                 for lane in range(lanes)]  # fmt: skip
        return [c.result() for c in calls]

    return run


def faster(rates: dict[str, Rate]) -> tuple[str, Rate]:
    return max(rates.items(), key=lambda item: item[1].median)


def physics_rate(env, count: int, horizon: int, repeats: int, lanes: int):
    """The faster of one call of ``count`` envs and ``lanes`` calls of a share."""
    rates = {}
    for split in sorted({1, lanes}):
        compiled = physics_rollout(env, count // split, horizon)
        compiled = compiled.lower(jax.random.PRNGKey(0)).compile()
        run = in_lanes(lambda i, lane, c=compiled: c(jax.random.PRNGKey(i)), split)
        rates[f"{split}_lanes"] = Rate.of(count * horizon, timed_calls(run, repeats))
    return faster(rates)


def forward_rate(env, agent, count: int, horizon: int, repeats: int, lanes: int):
    """The forward of ``count`` distinct actors: the faster of one call and lanes."""
    apply = jax.vmap(policy_apply(agent))
    keys = jax.random.split(jax.random.PRNGKey(0), count)
    params = jax.vmap(lambda k: agent.actor_params(agent.init(k)))(keys)

    @jax.jit
    def forward(params, key):
        rows = jax.tree.leaves(params)[0].shape[0]
        observations = jax.random.normal(key, (rows, env.observation_size))

        def step(observations, t):
            actions = apply(params, observations + t)
            return observations + 1e-3 * actions.sum(-1, keepdims=True), None

        observations, _ = jax.lax.scan(step, observations, jnp.arange(horizon))
        return observations

    rates = {}
    for split in sorted({1, lanes}):
        share = count // split
        parts = [jax.tree.map(lambda x, a=lane * share, b=share: x[a : a + b], params)
                 for lane in range(split)]  # fmt: skip
        run = in_lanes(lambda i, lane, p=parts: forward(p[lane], jax.random.PRNGKey(i)),
                       split)  # fmt: skip
        rates[f"{split}_lanes"] = Rate.of(count * horizon, timed_calls(run, repeats))
    return faster(rates)


def purd_rate(env, agent, source, count: int, horizon: int, repeats: int):
    """The PURD's rate through the engine's chunked hot path, and its chunk."""
    perturb_stage = make_perturb_stage(get_perturbation("td3"), agent)
    setup = EvaluationSetup(env, policy_apply(agent), horizon)
    episode_stage = make_episode_stage(setup)
    shared = ((source, jnp.float32(3e-4)), jnp.float32(0.0))
    keys = sample_keys(0, 0, 0, count)
    plan = plan_chunks((perturb_stage, episode_stage), shared, keys, count, count)
    lengths = []

    def run(i):
        stats = run_chunks(plan, shared, sample_keys(i, 0, 0, count))
        lengths.append(stats.length)
        return stats.undiscounted_return

    seconds = timed_calls(run, repeats, warm_up=False)  # plan_chunks compiled
    assert all((length == horizon).all() for length in lengths)
    perturbed = perturb_stage(shared[0], keys)  # K actors and their episode keys
    episodes = plan_chunks((episode_stage,), shared[1:], perturbed, count, count)
    episode_seconds = timed_calls(
        lambda i: run_chunks(episodes, shared[1:], perturbed), repeats
    )
    rates = Rate.of(count * horizon, seconds), Rate.of(count * horizon, episode_seconds)
    return *rates, plan.chunk


def naive_sample(env, agent, source, horizon: int):
    """One sample the naive way, jitted: an actor update, then one env's episode."""

    @jax.jit
    def one_sample(key):
        batch_key, episode_key = jax.random.split(key)
        rows = jax.random.randint(batch_key, (MINIBATCH_SIZE,), 0, REPLAY_ROWS)
        batch = jax.tree.map(lambda x: x[rows], source.replay.data)
        state = agent.actor_update(source.agent_state, batch, None, 3e-4)
        policy = agent.policy(agent.actor_params(state), True)
        return run_episode(env, policy, episode_key, horizon).undiscounted_return

    return one_sample


def naive_rate(env, agent, source, horizon: int, policies: int) -> float:
    one_sample = naive_sample(env, agent, source, horizon)

    def run(i):
        keys = jax.random.split(jax.random.PRNGKey(i), policies if i else 1)
        return [float(one_sample(k)) for k in keys]

    seconds = median_seconds(run, 3)  # the warm-up call runs one policy
    return policies * horizon / seconds


def case(
    name: str, backend: str, count: int, horizon: int, repeats: int, naive: int
) -> dict:
    env = full_horizon_env(name, backend)
    agent = make_td3(TD3Config(), env.observation_size, env.action_size)
    source = checkpoint_source(env, agent, jax.random.PRNGKey(0))
    lanes = lane_count(())
    physics_by, physics = physics_rate(env, count, horizon, repeats, lanes)
    forward_by, forward = forward_rate(env, agent, count, horizon, repeats, lanes)
    limit = 1.0 / (1.0 / physics.median + 1.0 / forward.median)
    purd, episodes, chunk = purd_rate(env, agent, source, count, horizon, repeats)
    perturb = horizon * (1 / purd.median - 1 / episodes.median)  # s per sample
    result = {
        "env": name,
        "backend": backend,
        "K": count,
        "horizon": horizon,
        "repeats": repeats,
        "devices": [str(d) for d in jax.devices()],
        "lanes": lanes,
        "physics_steps_per_s": round(physics.median),
        "physics_range": physics.range(),
        "physics_by": physics_by,
        "forward_steps_per_s": round(forward.median),
        "forward_range": forward.range(),
        "forward_by": forward_by,
        "limit_steps_per_s": round(limit),
        "purd_steps_per_s": round(purd.median),
        "purd_range": purd.range(),
        "purd_chunk": chunk,
        "purd_over_limit": round(purd.median / limit, 3),
        "purd_over_limit_range": [
            round(purd.low / limit, 3),
            round(purd.high / limit, 3),
        ],
        "purd_over_physics": round(purd.median / physics.median, 3),
        "episodes_steps_per_s": round(episodes.median),
        "episodes_range": episodes.range(),
        "episodes_over_limit": round(episodes.median / limit, 3),
        "perturb_seconds_per_sample": round(perturb, 5),
        # composed from the two measured parts, for the paper's 1000-step episodes
        "purd_over_limit_at_1000_steps": round(
            PAPER_HORIZON / (perturb + PAPER_HORIZON / episodes.median) / limit, 3
        ),
    }
    if naive:
        naive_steps = naive_rate(env, agent, source, horizon, naive)
        result["naive_steps_per_s"] = round(naive_steps)
        result["purd_over_naive"] = round(purd.median / naive_steps, 1)
        result["physics_over_naive"] = round(physics.median / naive_steps, 1)
    return result


def peak_memory(count: int, horizon: int) -> dict:
    """Peak RSS of a K-sample halfcheetah PURD with the automatic chunk size."""
    env = full_horizon_env("halfcheetah")
    agent = make_td3(TD3Config(), env.observation_size, env.action_size)
    source = checkpoint_source(env, agent, jax.random.PRNGKey(0))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    perturb_stage = make_perturb_stage(get_perturbation("td3"), agent)
    episode_stage = make_episode_stage(
        EvaluationSetup(env, policy_apply(agent), horizon)
    )
    shared = ((source, jnp.float32(3e-4)), jnp.float32(0.0))
    keys = sample_keys(0, 0, 0, count)
    plan = plan_chunks((perturb_stage, episode_stage), shared, keys, count)
    stats = run_chunks(plan, shared, keys)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return {
        "env": "halfcheetah",
        "K": count,
        "horizon": horizon,
        "auto_chunk": plan.chunk,
        "samples_done": int(np.size(stats.length)),
        "rss_before_gb": round(before, 2),
        "peak_rss_gb": round(peak, 2),
    }


def ppo_purd(name: str, count: int, horizon: int) -> dict:
    """Samples/s and peak memory of a PPO PURD from a fresh paper-sized PPO state."""
    from return_landscapes.agents.ppo import make_ppo
    from return_landscapes.conf import PPOConfig
    from return_landscapes.envs.brax import reset_carry
    from return_landscapes.training.acting import with_rollout

    env = full_horizon_env(name)
    cfg = PPOConfig()
    agent = make_ppo(cfg, env.observation_size, env.action_size)
    agent = with_rollout(agent, env, horizon)
    key = jax.random.PRNGKey(0)
    carry = jax.vmap(lambda k: reset_carry(env, k))(jax.random.split(key, cfg.num_envs))
    source = CheckpointSource(agent.init(key), env=carry)
    perturb_stage = make_perturb_stage(get_perturbation("ppo"), agent)
    episode_stage = make_episode_stage(
        EvaluationSetup(env, policy_apply(agent), horizon)
    )
    shared = ((source, jnp.float32(2.6e-3)), jnp.float32(0.0))
    keys = sample_keys(0, 0, 0, count)
    plan = plan_chunks((perturb_stage, episode_stage), shared, keys, count)
    tic = time.perf_counter()
    stats = run_chunks(plan, shared, keys)
    seconds = time.perf_counter() - tic
    steps_per_sample = cfg.num_envs * cfg.unroll_length + horizon
    return {
        "env": name,
        "perturbation": "ppo",
        "K": count,
        "horizon": horizon,
        "auto_chunk": plan.chunk,
        "samples_per_s": round(count / seconds, 2),
        "env_steps_per_s": round(count * steps_per_sample / seconds),
        "samples_done": int(np.size(stats.length)),
        "peak_rss_gb": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["hopper", "halfcheetah"])
    parser.add_argument("--backends", nargs="+", default=["positional", "spring"])
    parser.add_argument("--batches", nargs="+", type=int, default=[256, 1024])
    parser.add_argument("--horizon", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--naive-policies", type=int, default=8)
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--ppo", action="store_true")
    parser.add_argument("--ppo-samples", type=int, default=64)
    args = parser.parse_args()
    if args.ppo:
        for name in args.envs:
            print(json.dumps(ppo_purd(name, args.ppo_samples, args.horizon)))
        return
    if args.memory:
        print(json.dumps(peak_memory(1000, args.horizon)), flush=True)
        return
    for name in args.envs:
        for backend in args.backends:
            for count in args.batches:
                result = case(
                    name,
                    backend,
                    count,
                    args.horizon,
                    args.repeats,
                    args.naive_policies,
                )
                print(json.dumps(result), flush=True)
                print(f"done {name} {backend} K={count}", file=sys.stderr)


if __name__ == "__main__":
    main()
