"""Training throughput of TD3 and SAC: env-steps/s for 1 seed and N seeds vmapped.

Paper settings (256x256 MLPs, batch 256, one update per env step, 1M-row replay per
seed, spring backend). Each case compiles, warms up one block, then times ``--blocks``
learning blocks; the figure is the median over blocks. ``aggregate`` counts the steps
of all seeds, ``per_seed`` one seed's.

``--fill STEPS`` instead trains one cheap config (64x64, batch 64) for STEPS steps and
reports the rate per window, to check that it stays flat as the replay buffer fills.

PPO (``--algos ppo``) runs blocks of whole iterations: ``--block-steps`` is rounded
down to a multiple of 2048 envs x 16 steps (at least one iteration).

Usage:
    python benchmarks/train_throughput.py                  # all cases, JSON on stdout
    python benchmarks/train_throughput.py --algos ppo --seeds 1 4 --block-steps 327680
    python benchmarks/train_throughput.py --envs hopper --algos sac --seeds 1 8
    python benchmarks/train_throughput.py --fill 300000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import jax

from return_landscapes import configure_xla
from return_landscapes.conf import TrainConfig, resolve
from return_landscapes.training.schedule import Block, step_unit
from return_landscapes.training.state import init_state
from return_landscapes.training.trainers import make_trainer

configure_xla()  # the landscape command's XLA settings, before JAX starts


def time_blocks(cfg: TrainConfig, block_steps: int, blocks: int) -> list[float]:
    """Seconds per learning block of ``block_steps`` steps, after one warm-up block."""
    trainer = make_trainer(cfg)
    state = init_state(trainer, cfg)
    start = 0
    seconds = []
    for i in range(blocks + 1):
        tic = time.perf_counter()
        state, metrics = trainer.run_block(state, Block(start, block_steps, True))
        jax.block_until_ready((state, metrics))
        if i:  # the first call compiles
            seconds.append(time.perf_counter() - tic)
        start += block_steps
    return seconds


def throughput_case(env, algo, seeds, block_steps, blocks, capacity) -> dict:
    hyper = {} if algo == "ppo" else {algo: {"replay_capacity": capacity}}
    cfg = resolve(TrainConfig, env=env, algo=algo, seeds=seeds, progress=False, **hyper)
    unit = step_unit(cfg)  # PPO: whole iterations (2048 envs x 16 steps)
    block_steps = max(unit, block_steps // unit * unit)
    seconds = statistics.median(time_blocks(cfg, block_steps, blocks))
    return {
        "env": env,
        "algo": algo,
        "seeds": seeds,
        "block_steps": block_steps,
        "median_block_seconds": seconds,
        "aggregate_env_steps_per_s": seeds * block_steps / seconds,
        "per_seed_env_steps_per_s": block_steps / seconds,
    }


def fill_case(env: str, total: int, window: int) -> dict:
    """Rate per window over ``total`` steps with a 1M replay (small nets: fast)."""
    cfg = resolve(
        TrainConfig,
        env=env,
        algo="td3",
        seeds=1,
        progress=False,
        td3={"hidden_sizes": [64, 64], "batch_size": 64, "random_start_steps": 0},
    )
    seconds = time_blocks(cfg, window, total // window)
    rates = [window / s for s in seconds]
    return {
        "env": env,
        "replay_capacity": cfg.td3.replay_capacity,
        "window": window,
        "env_steps_per_s_by_window": rates,
        "last_over_first_quarter": statistics.median(rates[-len(rates) // 4 :])
        / statistics.median(rates[: len(rates) // 4]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["hopper", "halfcheetah"])
    parser.add_argument("--algos", nargs="+", default=["td3", "sac"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--block-steps", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--capacity", type=int, default=1_000_000)
    parser.add_argument("--fill", type=int, default=0, help="steps for the fill check")
    args = parser.parse_args()
    result = {"device": str(jax.devices()[0]), "backend": "spring"}
    if args.fill:
        result["fill"] = [fill_case(env, args.fill, 10_000) for env in args.envs]
    else:
        cases = []
        for env in args.envs:
            for algo in args.algos:
                for seeds in args.seeds:
                    case = throughput_case(
                        env, algo, seeds, args.block_steps, args.blocks, args.capacity
                    )
                    print(json.dumps(case), file=sys.stderr)
                    cases.append(case)
        result["cases"] = cases
        result["vmap_ratio"] = _vmap_ratios(cases)
    print(json.dumps(result, indent=2))


def _vmap_ratios(cases: list[dict]) -> list[dict]:
    """Aggregate rate of N vmapped seeds over the single-seed rate, per env and algo."""
    ratios = []
    single = {
        (c["env"], c["algo"]): c["aggregate_env_steps_per_s"]
        for c in cases
        if c["seeds"] == 1
    }
    for c in cases:
        base = single.get((c["env"], c["algo"]))
        if c["seeds"] > 1 and base:
            ratios.append(
                {
                    "env": c["env"],
                    "algo": c["algo"],
                    "seeds": c["seeds"],
                    "aggregate_over_single": c["aggregate_env_steps_per_s"] / base,
                }
            )
    return ratios


if __name__ == "__main__":
    main()
