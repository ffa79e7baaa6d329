"""What the CPU's groups of 8 cost a PURD: episodes by group against all at once.

On the CPU the PURD engine steps the episodes of a chunk one group of 8 samples at a
time (``pipeline.group_batches``), so that a sample's numbers do not depend on the
chunk size. This measures, in one process, a ``td3`` PURD of K samples (paper-size
TD3 networks, a fresh state and random replay rows, episodes run to ``--horizon``
with no early termination) through the engine's hot path in one chunk of K:

* ``grouped``: the engine as it is;
* ``whole``: the same stages with every sample of a lane (the chunk split over the
  usable cores, ``pipeline.lane_count``) stepping at once;

and prints one JSON line per env and backend: env-steps/s of each (median of
``--repeats`` calls after a warm-up call) and ``grouped_over_whole``.
``--group-sizes 8 16 32 64`` also times the episode stage alone with groups of each
size (``pipeline.GROUP`` set for the measurement only: what a wider group would buy,
not what the engine runs), through the engine's lanes.

Usage:
    python benchmarks/episode_groups.py
    python benchmarks/episode_groups.py --envs hopper --backends positional --samples 64
    python benchmarks/episode_groups.py --backends positional --group-sizes 8 16 32 64
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp

from purd_throughput import checkpoint_source, full_horizon_env, median_seconds
from return_landscapes import configure_xla, pipeline
from return_landscapes.agents.td3 import make_td3
from return_landscapes.conf import TD3Config
from return_landscapes.evaluation import EvaluationSetup, episodes, make_episode_stage
from return_landscapes.landscape.hotpath.engine import policy_apply
from return_landscapes.landscape.hotpath.keys import sample_keys
from return_landscapes.landscape.perturb import get_perturbation, make_perturb_stage
from return_landscapes.pipeline import plan_chunks, run_chunks

configure_xla()  # the landscape command's XLA settings, before JAX starts


def whole_chunk_stage(setup: EvaluationSetup):
    """The episode stage with every sample of the chunk stepping at once."""

    @jax.jit
    def stage(action_noise_std, batch):
        params, keys = batch
        return episodes(setup, params, keys, action_noise_std)

    return stage


def measure(name: str, backend: str, samples: int, horizon: int, repeats: int):
    env = full_horizon_env(name, backend)
    agent = make_td3(TD3Config(), env.observation_size, env.action_size)
    source = checkpoint_source(env, agent, jax.random.PRNGKey(0))
    setup = EvaluationSetup(env, policy_apply(agent), horizon)
    perturb = make_perturb_stage(get_perturbation("td3"), agent)
    shared = ((source, jnp.float32(3e-4)), jnp.float32(0.0))
    keys = sample_keys(0, 0, 0, samples)
    rates = {}
    for kind, episode_stage in (
        ("grouped", make_episode_stage(setup)),
        ("whole", whole_chunk_stage(setup)),
    ):
        plan = plan_chunks((perturb, episode_stage), shared, keys, samples, samples)
        seconds = median_seconds(
            lambda _, plan=plan: run_chunks(plan, shared, keys), repeats
        )
        rates[kind] = round(samples * horizon / seconds)
    return {
        "env": name,
        "backend": backend,
        "samples": samples,
        "horizon": horizon,
        "grouped_env_steps_per_s": rates["grouped"],
        "whole_env_steps_per_s": rates["whole"],
        "grouped_over_whole": round(rates["grouped"] / rates["whole"], 3),
    }


def episode_rates_by_group(
    name: str, backend: str, samples: int, horizon: int, repeats: int, sizes
) -> dict:
    """Env-steps/s of the episode stage alone with groups of each size."""
    env = full_horizon_env(name, backend)
    agent = make_td3(TD3Config(), env.observation_size, env.action_size)
    keys = jax.random.split(jax.random.PRNGKey(0), samples)
    params = jax.vmap(lambda k: agent.actor_params(agent.init(k)))(keys)
    setup = EvaluationSetup(env, policy_apply(agent), horizon)
    batch = (params, sample_keys(0, 0, 0, samples))
    noise = jnp.float32(0.0)
    engine_group, rates = pipeline.GROUP, {}
    try:
        for size in sizes:
            pipeline.GROUP = size  # read when the stage is traced
            stage = make_episode_stage(setup)
            plan = plan_chunks((stage,), (noise,), batch, samples, samples)
            seconds = median_seconds(
                lambda _, plan=plan: run_chunks(plan, (noise,), batch), repeats
            )
            rates[f"group_{size}_env_steps_per_s"] = round(samples * horizon / seconds)
    finally:
        pipeline.GROUP = engine_group
    lanes = pipeline.lane_count(())
    return {"env": name, "backend": backend, "samples": samples, "horizon": horizon,
            "lanes": lanes, "episodes_only": True, **rates}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["hopper", "halfcheetah"])
    parser.add_argument("--backends", nargs="+", default=["positional", "spring"])
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--horizon", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--group-sizes", nargs="+", type=int, default=[])
    args = parser.parse_args()
    for name in args.envs:
        for backend in args.backends:
            if args.group_sizes:
                result = episode_rates_by_group(
                    name, backend, args.samples, args.horizon, args.repeats,
                    args.group_sizes,
                )  # fmt: skip
                print(json.dumps(result), flush=True)
                continue
            result = measure(name, backend, args.samples, args.horizon, args.repeats)
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
