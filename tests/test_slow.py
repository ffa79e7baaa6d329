"""Long checks, run by hand: ``pytest -m slow -s`` (deselected in CI).

TD3 and SAC (100k env steps) and PPO (10M) on Brax hopper with the paper's defaults,
2 seeds, through the public ``train`` entry point; interpolation paths and rejection
on a trained TD3 hopper; TD3 on Gymnasium's MuJoCo Hopper-v5 (envpool) with a PURD.
Printed: the evaluation curves and the landscape figures.
"""

import itertools
import json
import os
import resource
import time

import numpy as np
import pytest

from helpers import copy_run
from return_landscapes import (
    interpolate,
    line,
    load_line,
    load_purd,
    load_rejection,
    load_surface,
    purd,
    reject,
    report,
    store,
    surface,
    train,
)
from return_landscapes.landscape.stats import point_statistics, purd_statistics
from return_landscapes.rundir import METRICS
from return_landscapes.store import interpolation as path_store
from return_landscapes.store import purd as purd_store


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["td3", "sac"])
def test_off_policy_learns_hopper_in_100k_steps(tmp_path, algo):
    """TD3 / SAC, the paper's defaults (positional physics, orthogonal init), 2 seeds,
    100k steps (the first 10k random)."""
    run_dir = train(
        env="hopper", algo=algo, seeds=2, steps=100_000, out=str(tmp_path / "run")
    )
    records = [
        json.loads(line) for line in (run_dir / METRICS).read_text().splitlines()
    ]
    evals = [r for r in records if r["kind"] == "eval"]
    curve = {r["step"]: r["return"] for r in evals}
    lengths = {r["step"]: r["length"] for r in evals}
    print(json.dumps({"eval_return": curve, "eval_length": lengths}))
    last_three = sorted(curve)[-3:]
    initial = np.array(curve[0])
    final = np.array([curve[s] for s in last_three]).mean(axis=0)
    # An untrained orthogonal-init policy may already stand for a few hundred steps
    # (returns of 20-430 here, about 1 per step alive); hopping forward is what is
    # learned: demand twice the untrained return and at least 600, on every seed.
    assert np.all(final > np.maximum(600.0, 2 * initial)), (initial, final)


@pytest.mark.slow
def test_ppo_learns_hopper_in_10m_steps(tmp_path):
    """PPO, paper hyper-parameters (2048 envs x 16 steps, ...), 2 seeds, 10M steps."""
    run_dir = train(
        env="hopper",
        algo="ppo",
        seeds=2,
        steps=10_000_000,
        eval_interval=1_000_000,
        out=str(tmp_path / "ppo"),
    )
    records = [
        json.loads(line) for line in (run_dir / METRICS).read_text().splitlines()
    ]
    evals = [r for r in records if r["kind"] == "eval"]
    curve = {r["step"]: r["return"] for r in evals}
    lengths = {r["step"]: r["length"] for r in evals}
    print(json.dumps({"eval_return": curve, "eval_length": lengths}))
    steps = sorted(curve)
    initial = np.array(curve[0])
    final = np.array([curve[s] for s in steps[-3:]]).mean(axis=0)
    # The same bar as for TD3: 5x the untrained return and at least 150 on every seed
    # (an untrained hopper falls within ~20 steps), averaged over the last 3 evals.
    assert np.all(final > np.maximum(150.0, 5 * initial)), (initial, final)


def path_dip(curve: np.ndarray) -> float:
    """Minimum return along a path over the lower endpoint's return."""
    return float(curve.min() / min(curve[0], curve[-1]))


def path_figures(paths) -> dict:
    """How far paths dip below their endpoints (plain returns and PURD means)."""
    dips = np.array([path_dip(r.plain_return) for r in paths])
    purd_dips = [path_dip(r.returns.mean(axis=0)) for r in paths]
    return {
        "pairs": len(paths),
        "mean_min_over_endpoint": float(dips.mean()),
        "share_of_paths_dipping_below_0.8": float(np.mean(dips < 0.8)),
        "purd_mean_min_over_endpoint": float(np.mean(purd_dips)),
    }


def interpolation_figures(run, steps) -> dict:
    """Same-seed vs cross-seed paths: all pairs, and the paper's comparison
    (same seed, consecutive checkpoints; two seeds, the same checkpoint)."""
    paths = [
        path_store.read_interpolation(p) for p in path_store.stored_interpolations(run)
    ]
    consecutive = set(itertools.pairwise(steps))
    subsets = {
        "same_seed": lambda a: a["pair_kind"] == "same_seed",
        "cross_seed": lambda a: a["pair_kind"] == "cross_seed",
        "same_seed_consecutive": lambda a: (
            a["pair_kind"] == "same_seed"
            and (a["checkpoint1"], a["checkpoint2"]) in consecutive
        ),
        "cross_seed_same_step": lambda a: (
            a["pair_kind"] == "cross_seed" and a["checkpoint1"] == a["checkpoint2"]
        ),
    }
    return {
        name: path_figures([r for r in paths if chosen(r.attrs)])
        for name, chosen in subsets.items()
    }


def kept_rows(trace) -> np.ndarray:
    """For each check, the row of the parameters kept after it."""
    rows = np.arange(len(trace["accepted"]))
    return np.maximum.accumulate(np.where(trace["accepted"], rows, 0))


def rejection_figures(repeats) -> dict:
    """Root and final (kept parameters) PURD statistics, mean over repeats."""
    figures = {"repeats": len(repeats)}
    for name in ("mean", "ltp", "cvar", "unperturbed_return"):
        finals = [r.arrays[name][kept_rows(r.arrays)[-1]] for r in repeats]
        figures[f"root_{name}"] = float(repeats[0].arrays[name][0])
        figures[f"final_{name}"] = float(np.mean(finals))
        figures[f"final_{name}_per_repeat"] = [float(f) for f in finals]
    figures["kept_updates"] = [int(r.arrays["kept_updates"][-1]) for r in repeats]
    return figures


def heaviest_left_tail(run) -> tuple[int, int, dict]:
    """The (seed, checkpoint) whose ``td3`` PURD (1000 samples at 3e-4) has the
    largest LTP, and every checkpoint's LTP per seed: a root with a left tail for a
    rejection to cut."""
    purd(run=str(run), perturb="td3", scale=3e-4, samples=1000)
    ltp = {
        step: [purd_statistics(r)["ltp"] for r in load_purd(run, step, "td3", 3e-4)]
        for step in STEPS
    }
    step, seed = max(
        ((step, seed) for step in ltp for seed in range(len(ltp[step]))),
        key=lambda pair: ltp[pair[0]][pair[1]],
    )
    return seed, step, ltp


STEPS = [25_000, 50_000, 75_000, 100_000]


@pytest.mark.slow
def test_interpolation_and_rejection_on_a_trained_hopper(tmp_path):
    """Same-seed vs cross-seed paths; ``cvar`` vs ``none`` rejection over 40 steps.

    TD3 on hopper, 3 seeds, 100k steps (or a copy of ``LANDSCAPE_TRAINED_RUN``, a run
    of those settings). Paths: 21 points, 20 ``param_noise`` samples at 3e-4 per
    point. Rejection: 40 proposed updates, PURDs of 1000 ``td3`` samples at 3e-4,
    3 repeats from the seed and checkpoint with the largest LTP. Printed: the figures
    of the issue note. Asserted: what must hold whatever the landscape looks like.
    """
    run = trained_hopper(tmp_path)
    figures = {}
    tic = time.perf_counter()
    for kind in ("same_seed", "cross_seed"):
        interpolate(run=str(run), pairs=kind, points=21, samples=20)
    figures["interpolate_seconds"] = time.perf_counter() - tic
    figures["interpolation"] = interpolation_figures(run, STEPS)
    print(json.dumps(figures, indent=1), flush=True)
    for result in map(
        path_store.read_interpolation, path_store.stored_interpolations(run)
    ):
        assert result.returns.shape == (20, 21)
    seed, checkpoint, figures["purd_ltp"] = heaviest_left_tail(run)
    figures["reject_root"] = {"seed": seed, "checkpoint": checkpoint}
    print(json.dumps(figures["purd_ltp"], indent=1), flush=True)
    for criterion in ("cvar", "none"):
        tic = time.perf_counter()
        reject(
            run=str(run),
            checkpoint=checkpoint,
            seed=seed,
            criterion=criterion,
            max_steps=40,
            samples=1000,
            repeats=3,
        )
        repeats = load_rejection(run, checkpoint, seed, criterion)
        figures[f"reject_{criterion}"] = {
            "seconds": time.perf_counter() - tic,
            **rejection_figures(repeats),
        }
        print(json.dumps(figures[f"reject_{criterion}"], indent=1), flush=True)
        for result in repeats:
            trace = result.arrays
            assert trace["purd_returns"].shape == (41, 1000)
            if criterion == "none":
                assert trace["accepted"].all()
            kept = kept_rows(trace)
            for row in range(1, 41):
                if criterion == "cvar" and trace["accepted"][row]:
                    assert trace["cvar"][row] >= trace["cvar"][kept[row - 1]]
    print(json.dumps(figures, indent=1))


def trained_hopper(tmp_path):
    """A copy of ``LANDSCAPE_TRAINED_RUN``, or TD3 on hopper, 3 seeds, 100k steps."""
    source = os.environ.get("LANDSCAPE_TRAINED_RUN")
    if source:
        return copy_run(source, tmp_path / "run")
    return train(
        env="hopper",
        algo="td3",
        seeds=3,
        steps=100_000,
        checkpoints=STEPS,
        out=str(tmp_path / "run"),
    )


def surface_figures(result, checkpoint_purd) -> dict:
    """What a 21x21 PURD surface looks like, in numbers."""
    stats = point_statistics(result.returns)
    centre = len(result.x) // 2
    plain = result.plain_return
    radius = np.hypot(*np.meshgrid(result.x, result.y, indexing="ij"))
    ring = {
        f"r<={r}": {
            "plain_mean": round(float(plain[radius <= r + 1e-6].mean()), 1),
            "purd_mean": round(float(stats["mean"][radius <= r + 1e-6].mean()), 1),
            "ltp_mean": round(float(stats["ltp"][radius <= r + 1e-6].mean()), 3),
        }
        for r in (0.1, 0.3, 0.5, 1.0)
    }
    best = np.unravel_index(np.argmax(plain), plain.shape)
    return {
        "centre_plain_return": float(plain[centre, centre]),
        "checkpoint_unperturbed_return": float(checkpoint_purd["unperturbed_return"]),
        "centre_purd": {
            k: round(float(stats[k][centre, centre]), 3)
            for k in ("mean", "ltp", "cvar")
        },
        "plain_min_max": [round(float(plain.min()), 1), round(float(plain.max()), 1)],
        "best_point": {
            "x": float(result.x[best[0]]),
            "y": float(result.y[best[1]]),
            "plain_return": round(float(plain.max()), 1),
        },
        "share_of_points_above_half_centre": round(
            float(np.mean(plain >= 0.5 * plain[centre, centre])), 3
        ),
        "ltp_min_max": [float(stats["ltp"].min()), float(stats["ltp"].max())],
        "by_radius": ring,
        "plain_along_x": [round(float(v)) for v in plain[:, centre]],
        "plain_along_y": [round(float(v)) for v in plain[centre, :]],
        "ltp_along_x": [round(float(v), 2) for v in stats["ltp"][:, centre]],
    }


@pytest.mark.slow
def test_a_21x21_purd_surface_of_a_trained_hopper(tmp_path):
    """A random plane (span 1) through the last checkpoint of seed 0, 21x21 points,
    100 ``td3`` samples at 3e-4 per point, on a trained TD3 hopper (see
    ``trained_hopper``). ``LANDSCAPE_SURFACE_OUT`` keeps the report there. Printed:
    the timing and the surface's shape in numbers; asserted: the centre is the
    checkpoint, bit for bit, plain return and samples."""
    run = trained_hopper(tmp_path)
    step = STEPS[-1]
    purd(run=str(run), checkpoints=[step], seeds=[0], perturb="td3", samples=100)
    checkpoint = purd_store.load_purd_result(run, step, "td3", 3e-4).arrays
    tic = time.perf_counter()
    options = {"checkpoint": step, "seed": 0, "grid": 21, "span": 1.0}
    surface(run=str(run), perturb="td3", samples=100, **options)
    seconds = time.perf_counter() - tic
    result = load_surface(run, perturb="td3", scale=3e-4, **options)
    assert result.returns.shape == (100, 21, 21)
    assert result.plain_return[10, 10] == checkpoint["unperturbed_return"][0]
    np.testing.assert_array_equal(
        result.returns[:, 10, 10], checkpoint["undiscounted_return"][0]
    )
    figures = {
        "seconds": round(seconds, 1),
        "episodes": 21 * 21 * 101,
        "env_steps": int(
            result.arrays["length"].sum() + result.arrays["plain_length"].sum()
        ),
        **surface_figures(
            result, {"unperturbed_return": checkpoint["unperturbed_return"][0]}
        ),
    }
    figures["episodes_per_s"] = round(figures["episodes"] / seconds, 1)
    out = os.environ.get("LANDSCAPE_SURFACE_OUT") or str(tmp_path / "report")
    report(runs=[str(run)], out=out, surface_3d=True)
    print(json.dumps(figures, indent=1), flush=True)
    assert len(np.unique(result.plain_return)) > 100  # the plane really moves


def _along_axes(stats: dict, plain: np.ndarray, centre: int) -> dict:
    """PURD mean, LTP and plain return along both axes of a surface."""
    return {
        axis: {
            "plain": [round(float(v)) for v in take(plain)],
            "purd_mean": [round(float(v)) for v in take(stats["mean"])],
            "ltp": [round(float(v), 2) for v in take(stats["ltp"])],
        }
        for axis, take in (
            ("x", lambda a: a[:, centre]),
            ("y", lambda a: a[centre, :]),
        )
    }


def update_plane_figures(result) -> dict:
    """Does the update direction point up the ridge? Returns just ahead of and
    behind the checkpoint along x (the update) and y (random, orthogonal)."""
    stats = point_statistics(result.returns)
    c = len(result.x) // 2
    mean = stats["mean"]
    return {
        "update_step_x": result.directions["update_step_x"],
        "update_step_norm": result.directions["update_step_norm"],
        "centre_purd_mean": round(float(mean[c, c]), 1),
        "mean_at_x+1_step": round(float(mean[c + 1, c]), 1),
        "mean_at_x-1_step": round(float(mean[c - 1, c]), 1),
        "mean_at_y+1_step": round(float(mean[c, c + 1]), 1),
        "mean_at_y-1_step": round(float(mean[c, c - 1]), 1),
        "mean_of_x>0_half": round(float(mean[c + 1 :].mean()), 1),
        "mean_of_x<0_half": round(float(mean[:c].mean()), 1),
        "best_point": [
            float(v)
            for v in (
                result.x[np.unravel_index(np.argmax(mean), mean.shape)[0]],
                result.y[np.unravel_index(np.argmax(mean), mean.shape)[1]],
            )
        ],
        "along": _along_axes(stats, result.plain_return, c),
    }


def pca_plane_figures(result) -> dict:
    """Where the training trajectory runs on the PCA plane: each checkpoint's
    coordinates and the PURD mean and LTP at the grid point nearest it."""
    stats = point_statistics(result.returns)
    info = result.directions
    rows = []
    for step, (x, y) in zip(info["trajectory_steps"], info["trajectory"], strict=True):
        i, j = np.abs(result.x - x).argmin(), np.abs(result.y - y).argmin()
        rows.append(
            {
                "step": int(step),
                "at": [round(float(x), 2), round(float(y), 2)],
                "nearest_purd_mean": round(float(stats["mean"][i, j]), 1),
                "nearest_ltp": round(float(stats["ltp"][i, j]), 2),
            }
        )
    return {
        "explained_variance": [round(v, 3) for v in info["explained_variance"]],
        "trajectory": rows,
        "plain_min_max": [
            round(float(result.plain_return.min()), 1),
            round(float(result.plain_return.max()), 1),
        ],
        "along": _along_axes(stats, result.plain_return, len(result.x) // 2),
    }


@pytest.mark.slow
def test_update_and_pca_surfaces_of_a_trained_hopper(tmp_path):
    """Two 21x21 planes through the last checkpoint of seed 0 of a trained TD3
    hopper (``trained_hopper``), 100 ``td3`` samples per point: the run's own update
    direction (x) against a random direction orthogonal to it (y), span 1; and the
    first two principal components of the seed's checkpoints, with the span chosen
    to cover the training trajectory. ``LANDSCAPE_DIRECTIONS_OUT`` keeps the report
    there. Asserted: both centres are the checkpoint's PURD bit for bit; printed:
    the timing and what the planes show along their axes and the trajectory."""
    run = trained_hopper(tmp_path)
    step = STEPS[-1]
    purd(run=str(run), checkpoints=[step], seeds=[0], perturb="td3", samples=100)
    checkpoint = purd_store.load_purd_result(run, step, "td3", 3e-4).arrays
    # the trajectory's reach along the components, from a 3-point plain PCA line
    line(run=str(run), checkpoint=step, directions="pca", points=3)
    trajectory = load_line(run, step, points=3, directions="pca").directions[
        "trajectory"
    ]
    pca_span = float(np.ceil(1.1 * np.abs(trajectory).max()))
    figures = {}
    for kind, span in (("update", 1.0), ("pca", pca_span)):
        options = {"checkpoint": step, "grid": 21, "span": span, "directions": kind}
        tic = time.perf_counter()
        surface(run=str(run), perturb="td3", samples=100, seed_index=0, **options)
        seconds = time.perf_counter() - tic
        result = load_surface(run, perturb="td3", scale=3e-4, seed=0, **options)
        assert result.plain_return[10, 10] == checkpoint["unperturbed_return"][0]
        np.testing.assert_array_equal(
            result.returns[:, 10, 10], checkpoint["undiscounted_return"][0]
        )
        shape = update_plane_figures if kind == "update" else pca_plane_figures
        figures[kind] = {"seconds": round(seconds, 1), "span": span, **shape(result)}
        print(json.dumps({kind: figures[kind]}, indent=1), flush=True)
    out = os.environ.get("LANDSCAPE_DIRECTIONS_OUT") or str(tmp_path / "report")
    report(runs=[str(run)], out=out)


def _training_scores(run_dir):
    """Per block: (step, mean game score over seeds) of the training episodes."""
    rows = [json.loads(line) for line in (run_dir / METRICS).read_text().splitlines()]
    return [
        (r["step"], float(np.nanmean(r["episode_return"])))
        for r in rows
        if r["kind"] == "train"
    ]


@pytest.mark.slow
def test_atari_breakout_learns_in_2m_frames_and_has_a_purd(tmp_path):
    """PPO on Breakout, cleanrl's defaults, 2 seeds, 500,736 agent steps (2.0M
    frames), then a PURD of 100 ``ppo`` samples at 3e-4 at the last checkpoint
    (greedy episodes of at most 2,000 agent steps).

    ``LANDSCAPE_ATARI_OUT`` keeps the run there (a re-run resumes or reuses it).
    """
    out = os.environ.get("LANDSCAPE_ATARI_OUT") or str(tmp_path / "breakout")
    tic = time.perf_counter()
    run_dir = train(
        env="atari:Breakout-v5",
        algo="ppo",
        seeds=2,
        steps=500_000,
        num_checkpoints=4,
        eval_interval=250_000,
        eval_episodes=2,
        horizon=5_000,
        block=16_384,
        out=out,
        resume=True,
    )
    train_seconds = time.perf_counter() - tic
    scores = _training_scores(run_dir)
    curve = {
        f"{4 * step / 1e6:.2f}M frames": round(score, 2)
        for step, score in scores[:: max(1, len(scores) // 10)] + scores[-1:]
    }
    print(json.dumps({"train_seconds": train_seconds, "training_scores": curve}))
    last = scores[-1][0]
    first = np.mean([s for _, s in scores[:2]])
    final = np.mean([s for _, s in scores[-3:]])
    assert final > max(5.0, 2 * first), (first, final)

    # Greedy episodes of the full game never press FIRE after a lost life, so they
    # run to the horizon; 2,000 agent steps (8,000 frames) hold the first lives.
    tic = time.perf_counter()
    purd(
        run=str(run_dir), perturb="ppo", samples=100, checkpoints=[last], horizon=2_000
    )
    purd_seconds = time.perf_counter() - tic
    returns = load_purd(run_dir, last, "ppo", 3e-4)
    path = purd_store.purd_path(run_dir, "ppo", 3e-4, last, 0).parent
    unperturbed = [
        float(
            store.read_result(path / f"seed_{s:03d}.h5").arrays["unperturbed_return"][0]
        )
        for s in range(2)
    ]
    stats = [purd_statistics(row) for row in returns]
    print(
        json.dumps(
            {
                "purd_seconds": purd_seconds,
                "purd_samples_per_s": 200 / purd_seconds,
                "peak_memory_gb": _peak_memory_gb(),
                "checkpoint": last,
                "unperturbed_return": unperturbed,
                "purd": [{k: float(v) for k, v in s.items()} for s in stats],
                "distinct_returns": [len(set(row.tolist())) for row in returns],
            }
        )
    )
    assert returns.shape == (2, 100)
    assert max(len(set(row.tolist())) for row in returns) > 1


def _peak_memory_gb() -> dict:
    """Peak host RSS and, on an accelerator, the device's peak bytes in use."""
    import jax

    peak = {"host_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        peak["device"] = stats["peak_bytes_in_use"] / 1e9
    return peak


@pytest.mark.slow
def test_td3_learns_mujoco_hopper_in_100k_steps_and_has_a_purd(tmp_path):
    """TD3 on Gymnasium's ``Hopper-v5`` (envpool), the paper's defaults, 2 seeds,
    100k steps (the first 10k random), then a 1000-sample ``td3`` PURD at the last
    checkpoint.

    ``LANDSCAPE_MUJOCO_OUT`` keeps the run there (a re-run resumes or reuses it).
    """
    out = os.environ.get("LANDSCAPE_MUJOCO_OUT") or str(tmp_path / "hopper-v5")
    tic = time.perf_counter()
    run_dir = train(
        env="mujoco:Hopper-v5",
        algo="td3",
        seeds=2,
        steps=100_000,
        num_checkpoints=4,
        eval_interval=5_000,
        eval_episodes=10,
        out=out,
        resume=True,
    )
    train_seconds = time.perf_counter() - tic
    records = [
        json.loads(line) for line in (run_dir / METRICS).read_text().splitlines()
    ]
    curve = {r["step"]: r["return"] for r in records if r["kind"] == "eval"}
    print(json.dumps({"train_seconds": train_seconds, "eval_return": curve}))
    initial = np.array(curve[0])
    final = np.array([curve[s] for s in sorted(curve)[-3:]]).mean(axis=0)
    # An untrained policy falls within about 20 steps (returns of 7-12 here); 2 seeds
    # of this run reached about 300 (episodes of ~130 steps) after 100k steps, below
    # what TD3 curves on Hopper usually show at that budget (docs/mujoco.md): the
    # check is that both seeds learn, not the level
    assert np.all(final > np.maximum(250.0, 10 * initial)), (initial, final)

    tic = time.perf_counter()
    purd(run=str(run_dir), perturb="td3", samples=1000, checkpoints=[100_000])
    purd_seconds = time.perf_counter() - tic
    returns = load_purd(run_dir, 100_000, "td3", 3e-4)
    path = purd_store.purd_path(run_dir, "td3", 3e-4, 100_000, 0).parent
    unperturbed = [
        float(
            store.read_result(path / f"seed_{s:03d}.h5").arrays["unperturbed_return"][0]
        )
        for s in range(2)
    ]
    stats = [purd_statistics(row) for row in returns]
    print(
        json.dumps(
            {
                "purd_seconds": purd_seconds,
                "unperturbed_return": unperturbed,
                "purd": [{k: float(v) for k, v in s.items()} for s in stats],
                "distinct_returns": [len(set(row.tolist())) for row in returns],
            }
        )
    )
    assert returns.shape == (2, 1000) and np.isfinite(returns).all()
    assert min(len(set(row.tolist())) for row in returns) > 1
