"""Surface throughput: grid points/s against the PURD engine's parameter sets/s.

A return surface evaluates a batch of policies built from grid coordinates (a mix of
the checkpoint and two directions), a PURD a batch built by a perturbation; both go
through the same chunked hot path. For each env and batch size K, with paper-sized
TD3 networks (256x256) and the spring backend, measured in one process, one chunk of
K each:

* ``surface_plain``: K grid points of a random plane, one plain episode each
  (``landscape surface samples=0``), against ``purd_param_noise``: K parameter-noise
  samples of one checkpoint (``landscape purd perturb=param_noise``);
* ``surface_purd``: K (grid point, sample) rows of a surface with ``td3`` PURDs
  (8 samples per point: each group of 8 mixes its point's agent state once, then one
  TD3 actor update per sample), against ``purd_td3``: K ``td3`` samples of one
  checkpoint.

Episodes run the full ``--horizon`` (no early termination), so every policy costs
the same whatever its weights; the weights are a fresh initialisation and the replay
buffer random rows. Rates are medians over ``--repeats`` timed calls after a warm-up
call; ``ratio`` is surface over PURD (1.0: no overhead).

Usage:
    python benchmarks/surface_throughput.py                     # JSON lines on stdout
    python benchmarks/surface_throughput.py --batches 441 --horizon 200
"""

from __future__ import annotations

import argparse
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

from purd_throughput import checkpoint_source, full_horizon_env, median_seconds
from return_landscapes import configure_xla
from return_landscapes.agents.td3 import make_td3
from return_landscapes.conf import TD3Config
from return_landscapes.evaluation import EvaluationSetup, make_episode_stage
from return_landscapes.landscape.experiments.purd import sample_keys
from return_landscapes.landscape.grid.plane import (
    DIRECTIONS_PLANE,
    coordinates,
    make_surface_stages,
    plane_directions,
)
from return_landscapes.landscape.hotpath.engine import policy_apply
from return_landscapes.landscape.perturb import get_perturbation, make_perturb_stage
from return_landscapes.pipeline import GROUP, plan_chunks, run_chunks

configure_xla()  # the landscape command's XLA settings, before JAX starts


def grid_weights(count: int) -> np.ndarray:
    """``(count, 3)`` random-plane weights ``(1, x, y)`` over a square-ish grid."""
    side = int(np.ceil(np.sqrt(count)))
    side += 1 - side % 2
    axis = coordinates(DIRECTIONS_PLANE, side, 1.0)
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    points = np.stack([np.ones(side * side), xs.ravel(), ys.ravel()], axis=1)
    return points[:count].astype(np.float32)


def rate(stages, shared, make_rows, count: int, horizon: int, repeats: int) -> float:
    """Policies per second of one chunk of ``count`` rows through ``stages``;
    ``make_rows(i)`` gives the rows of call ``i`` (fresh keys each call)."""
    plan = plan_chunks(stages, shared, make_rows(0), count, count)
    lengths = []

    def run(i):
        stats = run_chunks(plan, shared, make_rows(i))
        lengths.append(stats.length)
        return stats.undiscounted_return

    seconds = median_seconds(run, repeats)
    assert all((length == horizon).all() for length in lengths)
    return count / seconds


def case(name: str, count: int, horizon: int, repeats: int) -> dict:
    env = full_horizon_env(name)
    agent = make_td3(TD3Config(), env.observation_size, env.action_size)
    source = checkpoint_source(env, agent, jax.random.PRNGKey(0))
    episode = make_episode_stage(EvaluationSetup(env, policy_apply(agent), horizon))
    zero = jnp.float32(0.0)
    scale = jnp.float32(3e-4)
    weights = grid_weights(count)

    def keys(i):
        return sample_keys(i, 0, 0, count)

    def grid_rows(i):
        return (weights, keys(i))

    # a surface's PURD rows come in groups of 8 samples of one point
    point_weights = np.repeat(grid_weights(-(-count // GROUP)), GROUP, axis=0)[:count]

    def sample_rows(i):
        return (point_weights, keys(i))

    states = (
        source.agent_state,
        *plane_directions(agent, source.agent_state, jax.random.PRNGKey(1)),
    )
    actors = tuple(agent.actor_params(s) for s in states)
    result = {"env": name, "backend": "spring", "K": count, "horizon": horizon}
    result["devices"] = [str(d) for d in jax.devices()]
    for kind in ("param_noise", "td3"):
        perturbation = get_perturbation(kind)
        stages = make_surface_stages(agent, perturbation)
        purd = rate(
            (make_perturb_stage(perturbation, agent), episode),
            ((source, scale), zero),
            keys,
            count,
            horizon,
            repeats,
        )
        if kind == "param_noise":
            name_s, name_p = "surface_plain", "purd_param_noise"
            surface = rate(
                (stages.plain, episode),
                ((actors, actors[0]), zero),
                grid_rows,
                count,
                horizon,
                repeats,
            )
        else:
            name_s, name_p = "surface_purd", "purd_td3"
            surface = rate(
                (stages.perturbed, episode),
                ((states, source, scale), zero),
                sample_rows,
                count,
                horizon,
                repeats,
            )
        result[f"{name_s}_per_s"] = round(surface, 1)
        result[f"{name_p}_per_s"] = round(purd, 1)
        result[f"{name_s}_ratio"] = round(surface / purd, 3)
        print(f"done {name} K={count} {kind}", file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["halfcheetah"])
    parser.add_argument("--batches", nargs="+", type=int, default=[441, 1681])
    parser.add_argument("--horizon", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for name in args.envs:
        for count in args.batches:
            print(json.dumps(case(name, count, args.horizon, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
