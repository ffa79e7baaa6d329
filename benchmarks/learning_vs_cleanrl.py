"""Learning beside CleanRL: the toolkit's TD3 or SAC and CleanRL's own script, side
by side.

Reads finished runs of both sides and prints JSON (progress on stderr); with
``--plot``, writes the learning curves. Nothing is trained here: the runs are made
by the commands in ``docs/mujoco.md`` (CleanRL's ``td3_continuous_action_jax.py``
or ``sac_continuous_action.py``, unmodified, in an environment of its own;
``landscape train`` for ours).

* ``--cleanrl LOG ...``: the stdout of CleanRL runs, one file per seed. The script
  prints one line per finished training episode, ``global_step=N,
  episodic_return=[R]``; those lines are the data.
* ``--ours NAME=RUN ...``: run directories of ``landscape train`` (``NAME`` labels
  the run in the JSON and the plot); their
  ``metrics.jsonl`` ``train`` records give, per block and seed, the finished
  training episodes and their mean return.

Both sides count training episodes (with exploration noise), so the curves compare
like with like. At each ``--at`` step, a seed's value is the mean return of its
training episodes that ended in the ``--window`` steps before; per implementation
the JSON gives the mean over seeds and a 95% percentile-bootstrap interval over
seeds (``stats.bootstrap_ci``: seeds are the independent unit; with 3 seeds the
interval is coarse).

Usage:
    python benchmarks/learning_vs_cleanrl.py \\
        --cleanrl runs/cleanrl_1.log runs/cleanrl_2.log runs/cleanrl_3.log \\
        --ours "ours, CleanRL's settings=runs/ours-matched" \\
        "ours, paper defaults=runs/ours-paper" \\
        --plot docs/learning/td3-hopper.png
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from return_landscapes.landscape.stats import bootstrap_ci

EPISODE_LINE = re.compile(r"global_step=(\d+), episodic_return=\[([-0-9.eE+]+)\]")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cleanrl_episodes(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(end steps, returns)`` of one CleanRL run's training episodes."""
    found = [
        (int(m.group(1)), float(m.group(2)))
        for m in map(EPISODE_LINE.search, path.read_text().splitlines())
        if m
    ]
    if not found:
        raise SystemExit(f"{path}: no 'global_step=..., episodic_return=[...]' line")
    steps, returns = zip(*found, strict=True)
    return np.asarray(steps), np.asarray(returns)


def ours_blocks(run: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(block end steps, episodes (blocks, seeds), mean returns (blocks, seeds))``
    of a run's training blocks."""
    records = [
        json.loads(line)
        for line in (run / "metrics.jsonl").read_text().splitlines()
        if line.strip()
    ]
    train = [r for r in records if r.get("kind") == "train"]
    steps = np.asarray([r["step"] for r in train])
    episodes = np.asarray([r["episodes"] for r in train], np.float64)
    returns = np.asarray(
        [[np.nan if v is None else v for v in r["episode_return"]] for r in train],
        np.float64,
    )
    return steps, episodes, returns


def windowed_cleanrl(path: Path, at: list[int], window: int) -> list[float]:
    steps, returns = cleanrl_episodes(path)
    values = []
    for step in at:
        inside = (steps > step - window) & (steps <= step)
        values.append(float(returns[inside].mean()) if inside.any() else np.nan)
    return values


def windowed_ours(run: Path, at: list[int], window: int) -> np.ndarray:
    """``(len(at), seeds)``: each seed's mean episode return in each window."""
    steps, episodes, returns = ours_blocks(run)
    rows = []
    for step in at:
        inside = (steps > step - window) & (steps <= step)
        count = episodes[inside].sum(axis=0)
        total = np.nansum(episodes[inside] * returns[inside], axis=0)
        rows.append(np.where(count > 0, total / np.maximum(count, 1), np.nan))
    return np.asarray(rows)


def number(value) -> float | None:
    """A rounded float for the JSON; ``None`` for NaN (no episode, or one seed)."""
    return None if np.isnan(value) else round(float(value), 1)


def summary(per_seed: np.ndarray, at: list[int]) -> list[dict]:
    """Mean over seeds and its bootstrap interval, per step (``per_seed``:
    ``(len(at), seeds)``)."""
    rows = []
    for step, values in zip(at, per_seed, strict=True):
        rows.append(
            {
                "step": step,
                "mean": number(np.nanmean(values)),
                "interval": [number(v) for v in bootstrap_ci(values)],
                "per_seed": [number(v) for v in values],
            }
        )
    return rows


def plot(curves: dict[str, np.ndarray], steps: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, per_seed in curves.items():
        mean = np.nanmean(per_seed, axis=1)
        bounds = np.asarray([bootstrap_ci(v) for v in per_seed])
        ax.plot(steps, mean, label=name)
        ax.fill_between(steps, bounds[:, 0], bounds[:, 1], alpha=0.2)
    ax.set_xlabel("env steps")
    ax.set_ylabel("training episode return")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    log(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cleanrl", nargs="*", type=Path, default=[])
    parser.add_argument("--cleanrl-name", default="cleanrl", help="its label")
    parser.add_argument("--ours", nargs="*", default=[], help="NAME=RUN_DIR")
    parser.add_argument(
        "--at", nargs="+", type=int, default=[25_000, 50_000, 75_000, 100_000]
    )
    parser.add_argument("--window", type=int, default=5_000)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--plot-every", type=int, default=5_000)
    args = parser.parse_args()
    sides = {}
    if args.cleanrl:
        sides["cleanrl"] = lambda at: (
            np.asarray([windowed_cleanrl(p, at, args.window) for p in args.cleanrl]).T
        )
    for item in args.ours:
        name, _, run = item.partition("=")
        sides[name] = lambda at, run=Path(run): windowed_ours(run, at, args.window)
    out = {
        "window": args.window,
        "interval": "95% percentile bootstrap over seeds",
        "sides": {
            name: summary(values(args.at), args.at) for name, values in sides.items()
        },
    }
    print(json.dumps(out, indent=1))
    if args.plot is not None:
        last = max(args.at)
        steps = list(range(args.plot_every, last + 1, args.plot_every))
        plot({name: values(steps) for name, values in sides.items()}, steps, args.plot)


if __name__ == "__main__":
    main()
