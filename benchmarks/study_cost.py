"""Device-hours of the paper's full study from measured throughputs.

The study (docs/cluster.md, "Running the paper's full study on a cluster"): 4 envs x 20
seeds of TD3, SAC (1M steps) and PPO (60M steps), 10 checkpoints each; a 1000-sample
PURD of every seed x checkpoint under the run's own update; same-seed interpolation
paths (every checkpoint pair of a seed, 100 points x 100 samples); CVaR rejection and
its ``none`` baseline (40 steps, a check per step, 1000 samples, 10 repeats) from one
checkpoint of every seed. Episodes are counted at the full 1000-step horizon, so the
hours are upper bounds (early terminations only make them shorter).

The rates come from the benchmarks, run on the machine in question:

* ``--train-rate ALGO=STEPS_PER_S``: ``aggregate`` env-steps/s of
  ``benchmarks/train_throughput.py`` (all seeds of one process counted);
* ``--purd-rate``: ``env_steps_per_s`` of ``benchmarks/purd_throughput.py`` (the
  ``td3`` perturbation; a ``sac`` update costs the same order);
* ``--ppo-purd-samples``: ``samples_per_s`` of ``purd_throughput.py --ppo``.

Prints JSON: env-steps (or samples) and hours per stage, and the total.

Usage: ``python benchmarks/study_cost.py --train-rate td3=407 sac=294 ppo=85111
--purd-rate 50443 --ppo-purd-samples 3.87``
"""

from __future__ import annotations

import argparse
import json
import math

ENVS, SEEDS, CHECKPOINTS, HORIZON = 4, 20, 10, 1000
STEPS = {"td3": 1_000_000, "sac": 1_000_000, "ppo": 60_000_000}
PURD_SAMPLES = 1000
PATH_POINTS, PATH_SAMPLES = 100, 100
REJECT_STEPS, REJECT_SAMPLES, REJECT_REPEATS, CRITERIA = 40, 1000, 10, 2


def stages(train_rate: dict, purd_rate: float, ppo_purd_samples: float) -> dict:
    """Work and hours of every stage of the study."""
    out = {}
    for algo, steps in STEPS.items():
        work = ENVS * SEEDS * steps
        out[f"train {algo}"] = {"env_steps": work, "hours": work / train_rate[algo]}
    purds = ENVS * SEEDS * CHECKPOINTS * PURD_SAMPLES
    for algo in ("td3", "sac"):
        work = purds * HORIZON
        out[f"purd {algo}"] = {"env_steps": work, "hours": work / purd_rate}
    out["purd ppo"] = {"samples": purds, "hours": purds / ppo_purd_samples}
    pairs = SEEDS * math.comb(CHECKPOINTS, 2)
    work = ENVS * pairs * PATH_POINTS * (1 + PATH_SAMPLES) * HORIZON
    out["interpolate td3 same_seed"] = {"env_steps": work, "hours": work / purd_rate}
    checks = REJECT_STEPS + 1
    work = ENVS * SEEDS * CRITERIA * REJECT_REPEATS * checks * REJECT_SAMPLES * HORIZON
    out["reject td3 cvar + none"] = {"env_steps": work, "hours": work / purd_rate}
    for stage in out.values():
        stage["hours"] = stage["hours"] / 3600
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-rate", nargs=3, required=True, metavar="ALGO=RATE")
    parser.add_argument("--purd-rate", type=float, required=True)
    parser.add_argument("--ppo-purd-samples", type=float, required=True)
    args = parser.parse_args()
    train_rate = {k: float(v) for k, v in (a.split("=") for a in args.train_rate)}
    result = stages(train_rate, args.purd_rate, args.ppo_purd_samples)
    total = sum(stage["hours"] for stage in result.values())
    print(json.dumps({"stages": result, "total_hours": total}, indent=2))


if __name__ == "__main__":
    main()
