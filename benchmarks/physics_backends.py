"""TD3 on hopper under each Brax physics backend: speed, learning and PURDs.

The paper's code ran Brax 0.0.13's position-based dynamics; ``positional`` is the
closest pipeline in Brax 0.14 and ``spring`` is our default. For each backend in
``--backends``, at the same env-step budget, this script:

* trains one TD3 hopper run (``--seeds`` seeds vmapped, ``--steps`` env steps per
  seed, ``--checkpoints`` evenly spaced checkpoints) with ``return_landscapes.train``
  and records its wall time (compiles and evaluations included) and env steps/s
  (per seed, and all seeds together);
* reads the mean evaluation return (``--eval-episodes`` episodes per seed, every
  10k steps and at the end) from the run's metrics log. Its per-block
  ``steps_per_second`` is not used: with asynchronous dispatch each block's time
  spans about two blocks, so it reads about half the real rate;
* computes PURDs (``--samples`` samples of the run's own TD3 update at the run's
  learning rate) at every checkpoint with ``return_landscapes.purd`` and records its
  wall time (compiles included);
* reads the stored PURDs back and reports, per checkpoint, the means over seeds of the
  unperturbed return, the PURD's mean, std, LTP (``--threshold``) and CVaR
  (``--alpha``), and the mean episode length (perturbed samples, and unperturbed).

It prints one JSON object: the settings, the numbers of each backend and the speed
ratios positional / spring of the wall times (greater than 1: positional takes
longer). Runs go under ``--out`` (kept), or by default a new temporary folder,
deleted at the end unless ``--keep``. On a shared 2-core CPU, 2 seeds x 24k steps
took about 6 minutes of training per backend: size ``--steps`` to fit.

Usage:
    python benchmarks/physics_backends.py --steps 3000 --random-start 1000 \\
        --checkpoints 1 --samples 8 --seeds 1                   # a quick try
    python benchmarks/physics_backends.py --seeds 2 --steps 24000 \
        --random-start 8000 --checkpoints 3 --samples 100
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from return_landscapes import configure_xla

configure_xla()  # the landscape command's XLA settings, before JAX starts

from return_landscapes import purd, train  # noqa: E402
from return_landscapes.landscape.stats.table import stats_rows  # noqa: E402
from return_landscapes.store.purd import load_purd_result  # noqa: E402


def checkpoint_table(
    run_dir: Path, perturb: str, threshold: float, alpha: float
) -> tuple[list[dict], float]:
    """Per checkpoint: seed means of the PURD statistics and episode lengths."""
    rows = [
        r
        for r in stats_rows(run_dir, threshold, alpha=alpha)
        if r["perturb"] == perturb
    ]
    scales = {r["scale"] for r in rows}
    if len(scales) != 1:
        raise SystemExit(f"{run_dir}: expected one {perturb} scale, found {scales}")
    (scale,) = scales
    table = []
    for step in sorted({r["checkpoint"] for r in rows}):
        at = [r for r in rows if r["checkpoint"] == step]
        lengths = load_purd_result(run_dir, step, perturb, scale).arrays
        table.append(
            {
                "checkpoint": step,
                "seeds": len(at),
                "samples": at[0]["samples"],
                **{
                    name: float(np.mean([r[key] for r in at]))
                    for name, key in (
                        ("unperturbed_return", "unperturbed_return"),
                        ("purd_mean", "mean"),
                        ("purd_std", "std"),
                        ("ltp", "ltp"),
                        ("cvar", "cvar"),
                    )
                },
                "purd_episode_length": float(np.mean(lengths["length"])),
                "unperturbed_episode_length": float(
                    np.mean(lengths["unperturbed_length"])
                ),
            }
        )
    return table, scale


def eval_curve(run_dir: Path) -> dict:
    """Mean evaluation return over seeds at each evaluation step (metrics log)."""
    records = [
        json.loads(line)
        for line in (run_dir / "metrics.jsonl").read_text().splitlines()
        if line.strip()
    ]
    return {
        r["step"]: round(float(np.mean(r["return"])), 1)
        for r in records
        if r["kind"] == "eval"
    }


def measure(backend: str, args: argparse.Namespace, root: Path) -> dict:
    run_dir = root / f"hopper-td3-{backend}"
    tic = time.perf_counter()
    train(
        env="hopper",
        algo="td3",
        backend=backend,
        seeds=args.seeds,
        steps=args.steps,
        num_checkpoints=args.checkpoints,
        eval_episodes=args.eval_episodes,
        out=str(run_dir),
        progress=False,
        td3={"random_start_steps": args.random_start},
    )
    train_seconds = time.perf_counter() - tic
    tic = time.perf_counter()
    purd(run=str(run_dir), samples=args.samples, progress=False)
    purd_seconds = time.perf_counter() - tic
    table, scale = checkpoint_table(run_dir, "td3", args.threshold, args.alpha)
    result = {
        "train_seconds": round(train_seconds, 1),
        "train_env_steps_per_s_per_seed": round(args.steps / train_seconds, 1),
        "train_env_steps_per_s_all_seeds": round(
            args.steps * args.seeds / train_seconds, 1
        ),
        "eval_return": eval_curve(run_dir),
        "purd_seconds": round(purd_seconds, 1),
        "purd_perturb": "td3",
        "purd_scale": scale,
        "checkpoints": table,
    }
    print(json.dumps({"backend": backend, **result}), file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["spring", "positional"])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60_000, help="env steps per seed")
    parser.add_argument("--random-start", type=int, default=10_000)
    parser.add_argument("--checkpoints", type=int, default=3)
    parser.add_argument("--eval-episodes", type=int, default=1)
    parser.add_argument("--samples", type=int, default=100, help="PURD samples")
    parser.add_argument("--threshold", type=float, default=0.5, help="LTP threshold")
    parser.add_argument("--alpha", type=float, default=0.1, help="CVaR level")
    parser.add_argument("--out", help="folder for the runs; default: a new tempdir")
    parser.add_argument("--keep", action="store_true", help="keep the tempdir's runs")
    args = parser.parse_args()
    root = Path(args.out or tempfile.mkdtemp(prefix="physics_backends_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        backends = {b: measure(b, args, root) for b in args.backends}
    finally:
        if not args.keep and args.out is None:
            shutil.rmtree(root, ignore_errors=True)
    ratios = {}
    if "spring" in backends and "positional" in backends:
        spring, positional = backends["spring"], backends["positional"]
        ratios = {
            "train_seconds_positional_over_spring": round(
                positional["train_seconds"] / spring["train_seconds"], 2
            ),
            "purd_seconds_positional_over_spring": round(
                positional["purd_seconds"] / spring["purd_seconds"], 2
            ),
        }
    settings = {
        key: value for key, value in vars(args).items() if key not in ("out", "keep")
    }
    import jax

    print(
        json.dumps(
            {
                "env": "hopper",
                "algo": "td3",
                "settings": settings,
                "device": str(jax.devices()[0]),
                "cpus": os.cpu_count(),
                "machine": platform.processor() or platform.machine(),
                "backends": backends,
                "ratios": ratios,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
