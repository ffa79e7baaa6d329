"""Surface directions: grid points/s of each kind of directions against random.

A surface through one checkpoint takes ``directions=random|update|pca|file``. The
directions are built once per surface (``update``: the mean of ``update_batches``
actor steps of the perturbation; ``pca``: an SVD of the seed's checkpoints;
``file``: an HDF5 read); after that every grid point goes through the same jitted
stages. This script measures the whole public call, ``return_landscapes.surface``,
end to end on a real run directory, so the building of the directions, the loading
of checkpoints and the writing of the rows are all counted.

The run: ``--run PATH`` (its last checkpoint; the surfaces are written into it), or
a fresh one trained here: hopper, TD3 with the paper's networks (256x256, batch 256,
a 1M-row replay buffer), one seed, ``--steps`` env steps (``--random-start`` of them
random), checkpoints at ``--checkpoints`` and the last step, ``spring`` backend.

A policy trained this briefly falls within about 10 to 110 steps, and how soon
depends on the directions (an ``update`` plane, whose ``x`` axis follows the update,
falls sooner than a random one), while the episodes of a chunk run until the last
of them ends. ``--horizon`` caps the episodes: with the default 10 every episode of
every kind lasts exactly 10 steps (each line's ``min_length``/``max_length`` shows
it), so each kind runs the same hot-path work and the ratio measures what the
directions add. A longer horizon gives other episode lengths per kind; then compare
``env_steps_per_s`` as well.

For each ``--samples`` (8: a ``td3`` PURD of 8 samples at every point; 0: plain
returns) every kind is called once to compile (the random plane first; ``file``
reads a copy of its ``directions.h5``), then ``--repeats`` rounds call each kind in
turn (``overwrite=True``), so a busy moment of a shared machine hits every kind.
Each line: the median seconds of a call, grid points/s (``grid**2 / median``),
episodes/s (the plain one and ``samples`` per point), env-steps/s, the ratio of
points/s to the random plane's, and what building the directions alone costs:
``plan_s`` (``plan_surface``: checking the request, e.g. ``file`` restores the
checkpoint and hashes the file) and ``directions_s`` (``make_directions``), medians
of ``--repeats`` calls after one (``directions_first_s``). A summary line per
``--samples`` gives the ratios and whether each kind is within 10 % of random.

Usage:
    python benchmarks/surface_directions.py                  # JSON lines on stdout
    python benchmarks/surface_directions.py --run runs/hopper-td3 --horizon 100
    python benchmarks/surface_directions.py --grid 21 --samples 8 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

import return_landscapes as rl
from return_landscapes import configure_xla, rundir
from return_landscapes.conf import SurfaceConfig, resolve
from return_landscapes.direction_files import DIRECTIONS_FILE
from return_landscapes.landscape.experiments.surface import plan_surface
from return_landscapes.landscape.grid.directions import make_directions
from return_landscapes.landscape.hotpath.engine import checkpoint_source
from return_landscapes.landscape.hotpath.keys import sample_keys
from return_landscapes.landscape.job import make_engine
from return_landscapes.landscape.perturb import one_sample
from return_landscapes.pipeline import GROUP
from return_landscapes.store.surface import read_surface

configure_xla()  # the landscape command's XLA settings, before JAX starts

KINDS = ("random", "update", "pca", "file")
TARGET = 0.9  # a kind's points/s at least 90 % of the random plane's


def make_run(out: Path, args) -> Path:
    """A short one-seed TD3 run on hopper with the paper's networks."""
    tic = time.perf_counter()
    path = rl.train(
        env="hopper",
        algo="td3",
        seeds=1,
        steps=args.steps,
        checkpoints=args.checkpoints,
        backend="spring",
        eval_interval=args.steps,
        eval_episodes=1,
        progress=False,
        out=str(out / "run"),
        td3={"random_start_steps": args.random_start},
    )
    print(f"trained {path} in {time.perf_counter() - tic:.1f} s", file=sys.stderr)
    return Path(path)


def options(args, run: Path, checkpoint: int, samples: int) -> dict:
    """The ``surface`` options every kind shares."""
    return {
        "run": str(run),
        "checkpoint": checkpoint,
        "grid": args.grid,
        "span": args.span,
        "samples": samples,
        "perturb": "td3",
        "horizon": args.horizon,
        "chunk": args.chunk,
        "update_batches": args.update_batches,
        "overwrite": True,
        "progress": False,
    }


def kind_options(common: dict, kind: str, file: Path) -> dict:
    extra = {"directions_file": str(file)} if kind == "file" else {}
    return {**common, "directions": kind, **extra}


def timed_call(common: dict, kind: str, file: Path) -> tuple[float, Path]:
    """Seconds of one ``surface`` call, and the folder it wrote."""
    tic = time.perf_counter()
    folder = rl.surface(**kind_options(common, kind, file))
    return time.perf_counter() - tic, Path(folder)


def lengths(folder: Path) -> np.ndarray:
    """Every stored episode's length: the plain ones and the samples'."""
    result = read_surface(folder)
    plain = result.arrays["plain_length"].ravel()
    return np.concatenate([plain, result.arrays["length"].ravel()])


def median_of(fn, repeats: int):
    """``fn()``'s value, the seconds of its first call, the median of the next."""
    first = time.perf_counter()
    value = jax.block_until_ready(fn())
    first = time.perf_counter() - first
    seconds = []
    for _ in range(repeats):
        tic = time.perf_counter()
        jax.block_until_ready(fn())
        seconds.append(time.perf_counter() - tic)
    return value, first, statistics.median(seconds)


def update_steps_seconds(job, engine, source, repeats: int) -> float:
    """The ``update`` directions' actor steps alone (as ``mean_update`` takes
    them, groups of ``GROUP``), with one jitted function compiled once: what
    building them costs without compiling."""
    cfg, perturbation, agent = job.cfg, job.perturbation, engine.agent
    seed, step = job.anchors[0]
    scale = job.scale_at(step)
    keys = perturbation.key_rows(
        sample_keys(cfg.sample_seed, seed, step, cfg.update_batches)
    )
    steps = jax.jit(
        jax.vmap(lambda k: one_sample(perturbation, agent, source, scale, k)[0])
    )

    def run():
        out = []
        for start in range(0, keys.shape[0], GROUP):
            group = keys[start : start + GROUP]
            pad = group[:1].repeat(GROUP - len(group), 0)
            out.append(steps(jax.numpy.concatenate([group, pad])))
        return out

    return median_of(run, repeats)[2]


def direction_cost(common: dict, kind: str, file: Path, repeats: int) -> dict:
    """Seconds of planning the job and of building the directions alone."""
    cfg = resolve(SurfaceConfig, None, **kind_options(common, kind, file))
    job, _, plan_s = median_of(lambda: plan_surface(cfg), repeats)
    engine = make_engine(job)
    perturbation = job.perturbation if common["samples"] or kind == "update" else None
    seed, step = job.anchors[0]
    source = checkpoint_source(
        engine.parts, job.run_cfg, job.run_dir, seed, step, perturbation
    )

    def build():
        made = make_directions(job, engine, source)
        return (made.x, made.y)

    _, first, directions_s = median_of(build, repeats)
    cost = {
        "plan_s": round(plan_s, 3),
        "directions_s": round(directions_s, 3),
        "directions_first_s": round(first, 3),
    }
    if kind == "update":
        cost["update_steps_s"] = round(
            update_steps_seconds(job, engine, source, repeats), 3
        )
    return cost


def measure(args, run: Path, checkpoint: int, samples: int, out: Path) -> list:
    """One JSON line per kind and a summary, for one number of samples."""
    common = options(args, run, checkpoint, samples)
    file = out / "random_directions.h5"
    folders = {}
    for kind in args.kinds:  # warm-up: compiles the stages, writes the random file
        seconds, folders[kind] = timed_call(common, kind, file)
        if kind == "random":
            shutil.copyfile(folders[kind] / DIRECTIONS_FILE, file)
        print(f"warm-up {kind} samples={samples}: {seconds:.2f} s", file=sys.stderr)
    times = {kind: [] for kind in args.kinds}
    for _ in range(args.repeats):
        for kind in args.kinds:
            times[kind].append(timed_call(common, kind, file)[0])
    points = args.grid * args.grid
    lines = []
    for kind in args.kinds:
        median = statistics.median(times[kind])
        steps = lengths(folders[kind])
        line = {
            "kind": kind,
            "samples": samples,
            "grid": args.grid,
            "points": points,
            "span": args.span,
            "horizon": args.horizon,
            "chunk": args.chunk,
            "seconds": round(median, 3),
            "seconds_all": [round(t, 3) for t in times[kind]],
            "points_per_s": round(points / median, 2),
            "episodes_per_s": round(points * (1 + samples) / median, 1),
            "env_steps_per_s": round(float(steps.sum()) / median, 1),
            "mean_length": round(float(steps.mean()), 2),
            "min_length": int(steps.min()),
            "max_length": int(steps.max()),
            **direction_cost(common, kind, file, args.repeats),
        }
        lines.append(line)
        print(f"done {kind} samples={samples}", file=sys.stderr)
    base = next((line for line in lines if line["kind"] == "random"), None)
    for line in lines:
        if base is not None:
            line["ratio"] = round(line["points_per_s"] / base["points_per_s"], 3)
            line["extra_s"] = round(line["seconds"] - base["seconds"], 3)
        print(json.dumps(line), flush=True)
    if base is not None:
        ratios = {line["kind"]: line["ratio"] for line in lines}
        summary = {
            "summary": True,
            "samples": samples,
            "grid": args.grid,
            "horizon": args.horizon,
            "run": str(run),
            "checkpoint": checkpoint,
            "devices": [str(d) for d in jax.devices()],
            "ratio": ratios,
            "within_10_percent": {k: r >= TARGET for k, r in ratios.items()},
        }
        print(json.dumps(summary), flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="an existing run (default: train)")
    parser.add_argument("--out", type=Path, help="where to train (default: temp)")
    parser.add_argument("--steps", type=int, default=4000)
    checkpoints = [1000, 2000, 3000]
    parser.add_argument("--checkpoints", nargs="+", type=int, default=checkpoints)
    parser.add_argument("--random-start", type=int, default=1000)
    parser.add_argument("--grid", type=int, default=11)
    parser.add_argument("--span", type=float, default=0.5)
    parser.add_argument("--samples", nargs="+", type=int, default=[8, 0])
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=None)
    parser.add_argument("--update-batches", type=int, default=100)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    args.kinds = [kind for kind in KINDS if kind in args.kinds]  # random first
    if "file" in args.kinds and "random" not in args.kinds:
        parser.error("--kinds file reads the random plane's directions: add random")
    with tempfile.TemporaryDirectory() as temp:
        out = args.out or Path(temp)
        out.mkdir(parents=True, exist_ok=True)
        run = args.run or make_run(out, args)
        checkpoint = rundir.completed_checkpoints(run)[-1]
        for samples in args.samples:
            measure(args, run, checkpoint, samples, out)


if __name__ == "__main__":
    main()
