"""Env-steps/s of each Brax physics backend, to choose the default by measurement.

For each env and backend: one env (as in training, one env per seed), random actions
in [-1, 1], ``--steps`` steps inside one jitted ``lax.scan`` with auto-reset at
termination. The first call compiles and is reported separately; the figure is the
median over ``--repeats`` further calls.

Usage:
    python benchmarks/env_backends.py                       # JSON on stdout
    python benchmarks/env_backends.py --envs hopper --backends spring mjx
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import jax
import jax.numpy as jnp

from return_landscapes import configure_xla
from return_landscapes.envs.brax import BACKENDS, make_env

configure_xla()  # the landscape command's XLA settings, before JAX starts


def make_rollout(env, steps: int):
    """A jitted ``rollout(key) -> total reward`` of ``steps`` random-action steps."""

    def step(state, key):
        action_key, reset_key = jax.random.split(key)
        action = jax.random.uniform(
            action_key, (env.action_size,), minval=-1.0, maxval=1.0
        )
        next_state = env.step(state, action)
        fresh = env.reset(reset_key)
        next_state = jax.tree.map(
            lambda new, old: jnp.where(next_state.done > 0, new, old),
            fresh,
            next_state,
        )
        return next_state, next_state.reward

    @jax.jit
    def rollout(key):
        reset_key, steps_key = jax.random.split(key)
        state = env.reset(reset_key)
        _, rewards = jax.lax.scan(step, state, jax.random.split(steps_key, steps))
        return rewards.sum()

    return rollout


def measure(name: str, backend: str, steps: int, repeats: int) -> dict:
    env = make_env(name, backend)
    rollout = make_rollout(env, steps)
    tic = time.perf_counter()
    rollout(jax.random.PRNGKey(0)).block_until_ready()
    compile_seconds = time.perf_counter() - tic
    seconds = []
    for i in range(repeats):
        tic = time.perf_counter()
        rollout(jax.random.PRNGKey(i + 1)).block_until_ready()
        seconds.append(time.perf_counter() - tic)
    return {
        "env": name,
        "backend": backend,
        "steps": steps,
        "first_call_seconds": compile_seconds,
        "median_env_steps_per_s": steps / statistics.median(seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--envs", nargs="+", default=["hopper", "halfcheetah", "walker2d", "ant"]
    )
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS))
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cases = []
    for name in args.envs:
        for backend in args.backends:
            case = measure(name, backend, args.steps, args.repeats)
            print(json.dumps(case), file=sys.stderr)
            cases.append(case)
    fastest = {}
    for case in cases:
        best = fastest.get(case["env"])
        if best is None or case["median_env_steps_per_s"] > best[1]:
            fastest[case["env"]] = (case["backend"], case["median_env_steps_per_s"])
    print(
        json.dumps(
            {
                "device": str(jax.devices()[0]),
                "cases": cases,
                "fastest_backend": {env: b for env, (b, _) in fastest.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
