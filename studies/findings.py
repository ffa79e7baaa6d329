"""The paper's three findings, measured at a CPU scale; writes ``docs/findings.md``.

Trains TD3 on hopper and halfcheetah and PPO on hopper (5 seeds each, ``positional``
physics), then measures with the library's own commands:

(a) noisy neighbourhoods: LTP and CVaR / mean averaged over seeds, and pairs of
    checkpoints with similar mean return with an interval on each spread ratio;
(b) same-seed vs cross-seed interpolation paths: the lowest return along a path over
    the lower of its two endpoint returns, and the drop of cross-seed below
    same-seed paths;
(c) post-update CVaR rejection against ``none`` (Algorithm 1 with fresh draws at
    every check, the paper's 40 proposals and a check after each): the held-out
    CVaR and LTP of the final policies, paired by repeat.

Intervals resample the independent unit (``landscape.stats.units``: seeds, seeds
carrying their paths or roots) and every verdict is computed from its interval.
Every stage is resumable (the commands skip what is stored), so a second run only
redoes what is missing and the analysis; ``--until STAGE`` stops after a stage. The
default scale (``standard``) took 2.7 hours on the 2-core CPU; the page states
each stage's measured time and what a decisive study would cost.

Usage: ``python studies/findings.py [--scale standard|small] [--runs studies/runs]
[--until train|purd|paths|reject|page]``
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from return_landscapes.landscape.checks import chosen_checkpoints
from return_landscapes.landscape.experiments.interpolate import interpolate
from return_landscapes.landscape.experiments.purd import purd
from return_landscapes.landscape.experiments.reject import reject
from return_landscapes.landscape.stats import kept_rows
from return_landscapes.landscape.stats.table import stats_rows
from return_landscapes.landscape.stats.units import (
    CV_FLOOR,
    NOT_ESTABLISHED,
    Estimate,
    mean_over_units,
    paired_difference,
    spread_ratio,
    unit_interval,
    verdict,
)
from return_landscapes.logs import show_logs
from return_landscapes.store import interpolation as path_store
from return_landscapes.store import purd as purd_store
from return_landscapes.store import rejection as rejection_store
from return_landscapes.training.loop import train

REPOSITORY = Path(__file__).resolve().parents[1]
DOCS = REPOSITORY / "docs"
FIGURES = DOCS / "findings"
SIMILAR_MEAN = 0.05  # two checkpoints' PURD means within 5 % of each other
SPREAD_RATIO = 3.0  # ... whose PURD standard deviations differ this many times
MIN_STEPS = 100  # policies that fall sooner are flat: not analysed

logger = logging.getLogger("findings")


@dataclasses.dataclass(frozen=True)
class Scale:
    """The study's sizes (the paper's are in its README: 20 seeds, 1M steps, ...)."""

    td3_seeds: dict[str, int] = dataclasses.field(
        default_factory=lambda: {"hopper": 5, "halfcheetah": 5}
    )
    """TD3 seeds per env; the first env also gives the rejection roots."""
    td3_steps: int = 60_000
    random_start_steps: int = 10_000
    """TD3's random-action steps at the start (the paper's 10k)."""
    ppo_seeds: dict[str, int] = dataclasses.field(default_factory=lambda: {"hopper": 5})
    ppo_steps: int = 3_000_000
    ppo_envs: int = 256
    checkpoints: int = 5
    td3_samples: int = 100
    ppo_samples: int = 20
    path_points: int = 21
    path_checkpoints: int = 3
    """Paths join the last this many checkpoints (the trained end of each run)."""
    roots_per_seed: int = 2
    """Rejection roots from each TD3 seed of the first env: its heaviest-tailed
    checkpoints (intervals resample seeds, the independent unit, with their roots)."""
    repeats: int = 2
    reject_steps: int = 40
    check_interval: int = 1
    reject_samples: int = 32
    check_noise: str = "fresh"
    """Draws of each rejection check: fresh (Algorithm 1 as the paper runs it) or
    common."""

    @property
    def envs(self) -> tuple[str, ...]:
        return tuple(self.td3_seeds)


SCALES = {
    # about 3 hours on the 2-core CPU (both cores); see the page for measured times
    "standard": Scale(),
    # the first version of this study (2026-11-29): untrained policies, common draws
    "small": Scale(
        td3_seeds={"halfcheetah": 3, "hopper": 3},
        td3_steps=30_000,
        random_start_steps=4_000,
        ppo_seeds={"halfcheetah": 2, "hopper": 2},
        ppo_steps=1_000_000,
        checkpoints=3,
        ppo_samples=30,
        path_checkpoints=3,
        roots_per_seed=1,
        repeats=3,
        check_interval=20,
        reject_samples=24,
        check_noise="common",
    ),
}
STAGES = ("train", "purd", "paths", "reject", "page")


# ---------------------------------------------------------------------- computing


def run_dir(runs: Path, env: str, algo: str) -> Path:
    return runs / f"{env}-{algo}"


def trained_runs(scale: Scale) -> list[tuple[str, str, int, int]]:
    """``(env, algo, seeds, steps)`` of every run of the study."""
    td3 = [(env, "td3", n, scale.td3_steps) for env, n in scale.td3_seeds.items()]
    ppo = [(env, "ppo", n, scale.ppo_steps) for env, n in scale.ppo_seeds.items()]
    return td3 + ppo


def compute(scale: Scale, runs: Path, until: str = "page") -> list[dict]:
    """Train, PURD, paths and rejection, stopping after stage ``until``; returns
    the rejection roots (empty before stage ``reject``). The wall time of each
    stage's computing is added to ``runs/stage_seconds.json``."""
    stages = STAGES[: STAGES.index(until) + 1]
    for env, algo, seeds, steps in trained_runs(scale):
        _train(env, algo, seeds, steps, scale, runs)
    if "purd" in stages:
        with _timed(runs, "purd"):
            for env, algo, _, _ in trained_runs(scale):
                samples = scale.td3_samples if algo == "td3" else scale.ppo_samples
                purd(
                    run=str(run_dir(runs, env, algo)),
                    samples=samples,
                    min_episode_steps=MIN_STEPS,
                    progress=False,
                )
    if "paths" in stages:
        with _timed(runs, "paths"):
            for env in scale.envs:
                out = run_dir(runs, env, "td3")
                steps = _checkpoint_steps(out)[-scale.path_checkpoints :]
                for pairs in ("same_seed", "cross_seed"):
                    interpolate(
                        run=str(out),
                        pairs=pairs,
                        checkpoints=steps,
                        points=scale.path_points,
                        samples=0,
                        progress=False,
                    )
    if "reject" not in stages:
        return []
    roots = rejection_roots(scale, runs)
    with _timed(runs, "reject"):
        for root in roots:
            for criterion in ("cvar", "none"):
                reject(
                    run=root["path"],
                    checkpoint=root["checkpoint"],
                    seed_index=root["seed"],
                    criterion=criterion,
                    max_steps=scale.reject_steps,
                    check_interval=scale.check_interval,
                    samples=scale.reject_samples,
                    repeats=scale.repeats,
                    check_noise=scale.check_noise,
                    progress=False,
                )
    return roots


@contextlib.contextmanager
def _timed(runs: Path, stage: str):
    """Add the wall seconds of the block to ``stage`` in ``stage_seconds.json``."""
    started = time.perf_counter()
    yield
    path = runs / "stage_seconds.json"
    seconds = json.loads(path.read_text()) if path.is_file() else {}
    seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - started
    path.write_text(json.dumps(seconds, indent=1))
    logger.info("%s: %.0f s", stage, time.perf_counter() - started)


def _train(env: str, algo: str, seeds: int, steps: int, scale: Scale, runs: Path):
    config = {
        "env": env,
        "algo": algo,
        "seeds": seeds,
        "steps": steps,
        "num_checkpoints": scale.checkpoints,
        "out": str(run_dir(runs, env, algo)),
        "eval_interval": steps // 10,  # ten evaluations, not one a block
        "progress": False,
    }
    if algo == "td3":
        config["td3"] = {"random_start_steps": scale.random_start_steps}
    if algo == "ppo":  # a PPO update collects num_envs x 16 steps: one per sample
        config["ppo"] = {"num_envs": scale.ppo_envs}
    with _timed(runs, f"train {env}-{algo}"):
        train(config, resume=True)


def _checkpoint_steps(run: Path) -> list[int]:
    return chosen_checkpoints(None, run)


def rejection_roots(scale: Scale, runs: Path) -> list[dict]:
    """``roots_per_seed`` roots from each seed of the first env's TD3 run: the seed's
    checkpoints with the heaviest left tails (CVaR / mean lowest), never a flat one
    nor one from the random-action start."""
    path = run_dir(runs, scale.envs[0], "td3")
    by_seed: dict[int, list[dict]] = {}
    for row in stats_rows(path, min_episode_steps=MIN_STEPS):
        if row["flat"] or not row["mean"] > 0:
            continue
        if row["checkpoint"] > scale.random_start_steps:
            by_seed.setdefault(row["seed"], []).append(row | {"path": str(path)})
    roots = []
    for seed in sorted(by_seed):
        rows = sorted(by_seed[seed], key=lambda r: r["cvar"] / r["mean"])
        roots += sorted(rows[: scale.roots_per_seed], key=lambda r: r["checkpoint"])
    return roots


# ----------------------------------------------------------------------- analysis


def _estimate(found: Estimate | None) -> dict | None:
    return None if found is None else found._asdict()


def neighbourhoods(scale: Scale, runs: Path) -> dict:
    """Finding (a), per run: LTP and CVaR / mean averaged over seeds (intervals over
    seeds), and similar-mean pairs with an interval on each spread ratio."""
    found = {}
    for env, algo, _, _ in trained_runs(scale):
        path = run_dir(runs, env, algo)
        rows = stats_rows(path, min_episode_steps=MIN_STEPS)
        live = [r for r in rows if not r["flat"] and r["mean"] > 0]
        seeds = [r["seed"] for r in live]
        found[f"{env}-{algo}"] = {
            "policies": len(rows),
            "analysed": len(live),
            "ltp": _estimate(mean_over_units([r["ltp"] for r in live], seeds)),
            "cvar_over_mean": _estimate(
                mean_over_units([r["cvar"] / r["mean"] for r in live], seeds)
            ),
            "pairs": similar_mean_pairs(path, live),
            "rows": [
                {k: r[k] for k in ("seed", "checkpoint", "mean", "std", "ltp", "cvar")}
                for r in live
            ],
        }
    return found


def similar_mean_pairs(run: Path | None, rows: list[dict], returns=None) -> dict:
    """Pairs of policies whose PURD means lie within ``SIMILAR_MEAN``: how many,
    how many were left out because one barely moves (CV below ``CV_FLOOR``), and
    for the others the spread ratio (larger std over smaller) with an interval
    over each PURD's samples at a Bonferroni confidence over the pairs tested.

    ``returns(row)`` gives a policy's PURD samples (by default read from ``run``).
    """
    returns = returns or (lambda row: _purd_samples(run, row))
    similar = []
    for i, first in enumerate(rows):
        for second in rows[i + 1 :]:
            low, high = sorted((first["mean"], second["mean"]))
            if (high - low) / high <= SIMILAR_MEAN:
                similar.append((first, second))
    confidence = 1 - 0.05 / max(len(similar), 1)
    tested = []
    for first, second in similar:
        ratio = spread_ratio(returns(first), returns(second), confidence)
        if ratio is not None:
            tested.append({"ratio": ratio._asdict(), "first": _policy(first),
                           "second": _policy(second)})  # fmt: skip
    tested.sort(key=lambda p: -p["ratio"]["low"])
    return {
        "similar": len(similar),
        "still": len(similar) - len(tested),
        "confidence": confidence,
        "differ": sum(p["ratio"]["low"] > 1 for p in tested),
        "spread_3x": sum(p["ratio"]["low"] >= SPREAD_RATIO for p in tested),
        "tested": tested,
    }


def _purd_samples(run: Path, row: dict) -> np.ndarray:
    result = purd_store.load_purd_result(
        run, row["checkpoint"], row["perturb"], row["scale"], [row["seed"]]
    )
    return result.arrays["undiscounted_return"][0]


def _policy(row: dict) -> dict:
    return {k: row[k] for k in ("seed", "checkpoint", "mean", "std")}


def paths(scale: Scale, runs: Path) -> dict:
    """Finding (b), per env: min along the path / the lower endpoint's return, over
    paths whose endpoints both last ``MIN_STEPS`` steps; the drop of cross-seed
    below same-seed paths with an interval that resamples seeds (seed ``s``
    carries its same-seed paths and the cross-seed paths of ``(s, s + 1)``)."""
    found = {}
    for env in scale.envs:
        ratios: dict[str, list[float]] = {"same_seed": [], "cross_seed": []}
        units: dict[str, list[int]] = {"same_seed": [], "cross_seed": []}
        for path in path_store.stored_interpolations(run_dir(runs, env, "td3")):
            result = path_store.read_interpolation(path)
            lengths = result.arrays["plain_length"]
            plain = result.plain_return
            ends = min(plain[0], plain[-1])
            if min(lengths[0], lengths[-1]) < MIN_STEPS or ends <= 0:
                continue
            kind = result.attrs["pair_kind"]
            ratios[kind].append(float(plain.min() / ends))
            units[kind].append(int(result.attrs["seed1"]))
        found[env] = {
            kind: _estimate(mean_over_units(ratios[kind], units[kind]))
            if ratios[kind]
            else None
            for kind in ratios
        }
        found[env]["drop"] = _estimate(path_drop(ratios, units))
        found[env]["values"] = ratios
    return found


def path_drop(ratios: dict, units: dict) -> Estimate | None:
    """Mean same-seed ratio minus mean cross-seed ratio, resampling seeds."""
    if not ratios["same_seed"] or not ratios["cross_seed"]:
        return None
    return unit_interval(
        (np.array(ratios["same_seed"]), np.array(ratios["cross_seed"])),
        (units["same_seed"], units["cross_seed"]),
        lambda same, cross: same.mean() - cross.mean(),
    )


def rejection(scale: Scale, roots: list[dict]) -> dict:
    """Finding (c): per root and repeat, the held-out CVaR and LTP of the final
    policies of ``cvar`` and ``none`` (paired by repeat) and the kept estimates
    (selected, for contrast); differences with intervals over seeds."""
    repeats = []
    for root in roots:
        traces = {
            criterion: rejection_store.load_rejection(
                root["path"], root["checkpoint"], root["seed"], criterion
            )
            for criterion in ("cvar", "none")
        }
        for cvar_trace, none_trace in zip(traces["cvar"], traces["none"], strict=True):
            repeats.append(
                {
                    "seed": root["seed"],
                    "checkpoint": root["checkpoint"],
                    "start_cvar": float(none_trace.arrays["cvar"][0]),
                    **_finals("cvar", cvar_trace.arrays),
                    **_finals("none", none_trace.arrays),
                }
            )
    seeds = [r["seed"] for r in repeats]

    def difference(name):
        return _estimate(
            paired_difference(
                [r[f"cvar_{name}"] for r in repeats],
                [r[f"none_{name}"] for r in repeats],
                seeds,
            )
        )

    wins = [_win(r["cvar_heldout_cvar"], r["none_heldout_cvar"]) for r in repeats]
    return {
        "run": f"{scale.envs[0]}-td3",
        "repeats": repeats,
        "heldout_cvar": difference("heldout_cvar"),
        "heldout_ltp": difference("heldout_ltp"),
        "kept_cvar": difference("kept_cvar"),
        "cvar_heldout": _estimate(
            mean_over_units([r["cvar_heldout_cvar"] for r in repeats], seeds)
        ),
        "none_heldout": _estimate(
            mean_over_units([r["none_heldout_cvar"] for r in repeats], seeds)
        ),
        "probability_of_improvement": _estimate(mean_over_units(wins, seeds)),
        "kept_rate": float(np.mean([r["cvar_kept_rate"] for r in repeats])),
    }


def _finals(criterion: str, trace: dict) -> dict:
    """The kept estimate at the last kept check, the held-out PURD's statistics,
    and the fraction of proposals kept."""
    row = kept_rows(trace["accepted"])[-1]
    heldout_ltp = float(trace["heldout_ltp"])
    if not float(trace["heldout_mode"]) > 0:
        heldout_ltp = float("nan")  # undefined
    return {
        f"{criterion}_kept_cvar": float(trace["cvar"][row]),
        f"{criterion}_heldout_cvar": float(trace["heldout_cvar"]),
        f"{criterion}_heldout_ltp": heldout_ltp,
        f"{criterion}_kept_rate": float(np.mean(trace["accepted"][1:])),
    }


def _win(first: float, second: float) -> float:
    return 1.0 if first > second else 0.5 if first == second else 0.0


# ------------------------------------------------------------------------ figures


def draw(found: dict) -> list[str]:
    """The page's figures, as PNG files under ``docs/findings``."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    names = []
    fig = Figure(figsize=(9.0, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    for index, (run, entry) in enumerate(found["neighbourhoods"].items()):
        rows = entry["rows"]
        if not rows:
            continue
        means = [r["mean"] for r in rows]
        marker = "osD^"[index % 4]
        left.scatter(means, [r["std"] for r in rows], label=run, s=18, marker=marker)
        relative = [r["cvar"] / r["mean"] for r in rows]
        right.scatter(means, relative, label=run, s=18, marker=marker)
    left.set(
        xlabel="PURD mean return",
        ylabel="PURD standard deviation (return)",
        title="Spread at equal means (one point per seed x checkpoint)",
    )
    right.set(
        xlabel="PURD mean return",
        ylabel="CVaR 0.1 / mean",
        title="Left tail relative to the mean",
    )
    left.legend(fontsize=7)
    names.append(_save(fig, "neighbourhoods.png"))

    fig = Figure(figsize=(6.0, 3.4), layout="constrained")
    ax = fig.add_subplot()
    labels, data = [], []
    for env, entry in found["paths"].items():
        for kind in ("same_seed", "cross_seed"):
            labels.append(f"{env}\n{kind.replace('_', '-')}")
            data.append(entry["values"][kind] or [np.nan])
    ax.boxplot(data, tick_labels=labels)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set(
        ylabel="min along path / lower endpoint return",
        title="Interpolation paths: dips below the endpoints (< 1)",
    )
    names.append(_save(fig, "paths.png"))

    repeats = found["rejection"]["repeats"]
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.add_subplot()
    none = [r["none_heldout_cvar"] for r in repeats]
    mine = [r["cvar_heldout_cvar"] for r in repeats]
    ax.scatter(none, mine, s=22, label="held out (final policies, fresh draws)")
    ax.scatter(
        [r["none_kept_cvar"] for r in repeats],
        [r["cvar_kept_cvar"] for r in repeats],
        s=22,
        marker="x",
        label="kept estimates (selected by cvar)",
    )
    both = [v for v in [*none, *mine] if np.isfinite(v)]
    if both:
        ax.plot([min(both), max(both)], [min(both), max(both)], color="grey", lw=0.8)
    ax.set(
        xlabel="CVaR 0.1 under none",
        ylabel="CVaR 0.1 under cvar",
        title="Rejection, paired by repeat: above the line, cvar ends higher",
    )
    ax.legend(fontsize=7)
    names.append(_save(fig, "rejection.png"))
    return names


def _save(fig: Figure, name: str) -> str:
    fig.savefig(FIGURES / name, dpi=100)
    return name


# ------------------------------------------------------------------------- the page

# Speed-ups of one H200 over this 2-core CPU, from docs/performance.md: the `td3`
# PURD on hopper (1,407,303 env-steps/s at K = 1,024 against 14,584 with groups of
# 8 on `positional`), and TD3 training of 8 seeds (8,029 env-steps/s against the
# study's own measured rate).
GPU_PURD_SPEEDUP = 1_407_303 / 14_584
GPU_TD3_TRAIN_RATE = 8_029
POWER_Z = 1.96 + 0.84  # a two-sided 5 % test with 80 % power


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _ci(entry: dict | None, digits: int = 3) -> str:
    if entry is None:
        return "none"
    return Estimate(**entry).text(digits)


def claims(found: dict) -> list[dict]:
    """Every claim with its interval and its computed verdict."""
    out = []
    for run, e in found["neighbourhoods"].items():
        if e["ltp"] is not None:
            out.append({
                "claim": f"(a) {run}: post-update returns have a left tail "
                "(mean LTP over seeds above 0)",
                "interval": e["ltp"], "no_effect": 0.0, "above": True,
                "unit": "seeds", "run": run, "stage": "purd",
            })  # fmt: skip
        best = e["pairs"]["tested"][0] if e["pairs"]["tested"] else None
        if best is not None:
            out.append({
                "claim": f"(a) {run}: two policies of similar mean differ >= "
                f"{SPREAD_RATIO:g}x in PURD spread (the pair with the highest lower "
                f"bound, {e['pairs']['confidence']:.3%} interval: Bonferroni over "
                f"{e['pairs']['similar'] - e['pairs']['still']} pairs)",
                "interval": best["ratio"], "no_effect": SPREAD_RATIO, "above": True,
                "unit": "PURD samples per policy", "run": run, "stage": "purd",
            })  # fmt: skip
    for env, e in found["paths"].items():
        if e["drop"] is not None:
            out.append({
                "claim": f"(b) {env}: cross-seed paths dip deeper than same-seed "
                "ones (same-seed minus cross-seed ratio above 0)",
                "interval": e["drop"], "no_effect": 0.0, "above": True,
                "unit": "seeds", "run": f"{env}-td3", "stage": "paths",
            })  # fmt: skip
    r = found["rejection"]
    out.append({
        "claim": "(c) rejection by CVaR ends with a higher held-out CVaR than no "
        "rejection (paired by repeat, cvar minus none)",
        "interval": r["heldout_cvar"], "no_effect": 0.0, "above": True,
        "unit": "seeds", "run": r.get("run"), "stage": "reject",
    })  # fmt: skip
    out.append({
        "claim": "(c) rejection by CVaR ends with a lower held-out LTP than no "
        "rejection (cvar minus none below 0)",
        "interval": r["heldout_ltp"], "no_effect": 0.0, "above": False,
        "unit": "seeds", "run": r.get("run"), "stage": "reject",
    })  # fmt: skip
    for claim in out:
        claim["verdict"] = verdict(
            Estimate(**claim["interval"]), claim["no_effect"], claim["above"]
        )
    return out


def units_needed(claim: dict) -> int | None:
    """Units a claim would need for an 80 % chance of an interval that excludes no
    effect, if the effect and the spread are as measured: the spread of one unit
    from the interval's width (``sigma = half-width x sqrt(n) / 1.96``), then
    ``n = (2.8 sigma / effect)^2``. ``None`` where the effect is on the wrong side
    of no effect (no scale would show it) or the interval has no width."""
    e = Estimate(**claim["interval"])
    gap = e.estimate - claim["no_effect"]
    gap = gap if claim["above"] else -gap
    if e.units < 2 or not np.isfinite(e.low) or not gap > 0 or e.high == e.low:
        return None
    sigma = (e.high - e.low) / 2 / 1.96 * np.sqrt(e.units)
    return int(np.ceil((POWER_Z * sigma / gap) ** 2))


def scale_needed(scale: Scale, found: dict, claim: dict) -> str:
    """What deciding one open claim would take, in hours from the measured rates."""
    needed = units_needed(claim)
    head = f"- {claim['claim']}"
    interval = Estimate(**claim["interval"])
    if interval.units < 2 or not interval.high > interval.low:
        return f"{head}: too few units here to estimate the spread of one."
    if needed is None:
        return (
            f"{head}: the measured effect is not on the claimed side of no effect, "
            "so no larger study of this design is expected to show it."
        )
    seconds = found["seconds"]
    if claim["unit"] != "seeds":
        return (
            f"{head}: about {needed} {claim['unit']} (here "
            f"{Estimate(**claim['interval']).units}), at the measured PURD rate "
            f"{needed / max(Estimate(**claim['interval']).units, 1):.1f}x this "
            "stage's time for that pair."
        )
    run = claim["run"] or f"{scale.envs[0]}-td3"
    env, algo = run.rsplit("-", 1)
    seeds = {**scale.td3_seeds} if algo == "td3" else {**scale.ppo_seeds}
    all_seeds = sum(scale.td3_seeds.values()) + sum(scale.ppo_seeds.values())
    train = seconds.get(f"train {run}", 0.0) / seeds[env]
    stage_seeds = seeds[env] if claim["stage"] == "reject" else all_seeds
    landscape = seconds.get(claim["stage"], 0.0) / stage_seeds
    steps = scale.td3_steps if algo == "td3" else scale.ppo_steps
    gpu_train = steps / GPU_TD3_TRAIN_RATE if algo == "td3" else 0.0
    cpu = needed * (train + landscape) / 3600
    gpu = needed * (gpu_train + landscape / GPU_PURD_SPEEDUP) / 3600
    gpu_text = "under 0.1" if gpu < 0.1 else f"about {gpu:.1f}"
    untimed = "" if algo == "td3" else ", PPO training not counted"
    return (
        f"{head}: about {needed} seeds (here "
        f"{Estimate(**claim['interval']).units}) for an 80 % chance of a decisive "
        f"interval: about {cpu:.1f} hours on this 2-core CPU ({train / 60:.0f} min "
        f"of training and {landscape / 60:.1f} min of `{claim['stage']}` per seed, "
        f"measured) or {gpu_text} GPU-hours on one H200{untimed}."
    )


def page(scale: Scale, found: dict, command: str) -> str:
    seconds = found["seconds"]
    total = sum(seconds.values()) / 3600
    lines = [
        "# The paper's findings, measured",
        "",
        f"Generated by `{command}` at commit `{found['commit']}` on "
        f"{found['date']}; the stages' computing took {total:.2f} h of wall time on "
        f"{found['cpus']} CPUs ("
        + ", ".join(f"{k} {v / 60:.0f} min" for k, v in seconds.items())
        + f"). Settings: `{json.dumps(dataclasses.asdict(scale))}`.",
        "",
        "Every number below is computed by `studies/findings.py` from the stored "
        "results, and every verdict from its interval: **reproduces** only where the "
        "95 % interval excludes no effect, **not established at this scale** "
        "otherwise. Intervals resample the independent unit "
        "([statistics over units](stats.md#intervals-over-independent-units)): "
        "seeds for per-policy statistics (the checkpoints of a seed share its "
        "training), seeds carrying their paths for paths, seeds carrying their "
        "roots for rejection; BCa intervals for means over units, percentile "
        f"otherwise. Policies whose unperturbed episode ends before step {MIN_STEPS} "
        "are flat and left out.",
        "",
        "## (a) Noisy neighbourhoods",
        "",
        "| run | policies (analysed) | mean LTP over seeds | mean CVaR/mean over "
        "seeds | similar-mean pairs | left out (a PURD with CV < "
        f"{CV_FLOOR:.0%}) | spreads differ (interval > 1) | >= {SPREAD_RATIO:g}x "
        "(interval) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run, e in found["neighbourhoods"].items():
        pairs = e["pairs"]
        lines.append(
            f"| {run} | {e['policies']} ({e['analysed']}) | {_ci(e['ltp'])} | "
            f"{_ci(e['cvar_over_mean'])} | {pairs['similar']} | {pairs['still']} | "
            f"{pairs['differ']} | {pairs['spread_3x']} |"
        )
    lines += ["", "![neighbourhoods](findings/neighbourhoods.png)", ""]
    lines += _pair_examples(found["neighbourhoods"])
    lines += [
        "## (b) Same-seed vs cross-seed paths",
        "",
        "Lowest plain return along a path over the lower of its endpoint returns "
        "(1: no dip; paths with a flat endpoint left out), averaged over seeds; the "
        "drop is same-seed minus cross-seed.",
        "",
        "| env | same-seed | cross-seed | drop (resampling seeds) |",
        "|---|---|---|---|",
    ]
    for env, e in found["paths"].items():
        lines.append(
            f"| {env} | {_ci(e['same_seed'])} | {_ci(e['cross_seed'])} | "
            f"{_ci(e['drop'])} |"
        )
    lines += ["", "![paths](findings/paths.png)", ""]
    r = found["rejection"]
    roots = sorted({(x["seed"], x["checkpoint"]) for x in r["repeats"]})
    lines += [
        "## (c) Post-update CVaR rejection",
        "",
        f"{len(roots)} roots ({scale.roots_per_seed} per TD3 seed of "
        f"{scale.envs[0]}: its checkpoints with the lowest CVaR / mean) x "
        f"{scale.repeats} repeats x {scale.reject_steps} proposed updates, a check "
        f"every {scale.check_interval} with {scale.reject_samples} fresh samples "
        f"(`check_noise={scale.check_noise}`). Each repeat's final policy under "
        "`cvar` and under `none` then gets a held-out PURD on draws no check used "
        f"({scale.reject_samples} samples, the same draws for both criteria, so "
        "they pair by repeat). `cvar` kept "
        f"{r['kept_rate']:.0%} of its proposals.",
        "",
        "| | held-out CVaR under cvar | under none | cvar minus none |",
        "|---|---|---|---|",
        f"| held out (the evidence) | {_ci(r['cvar_heldout'], 1)} | "
        f"{_ci(r['none_heldout'], 1)} | {_ci(r['heldout_cvar'], 1)} |",
        f"| kept estimates (selected by cvar: biased upward) | | | "
        f"{_ci(r['kept_cvar'], 1)} |",
        "",
        f"Held-out LTP, cvar minus none: {_ci(r['heldout_ltp'])}. Probability "
        "that `cvar`'s final policy has the higher held-out CVaR (repeats paired, "
        f"interval over seeds): {_ci(r['probability_of_improvement'])}.",
        "",
        "![rejection](findings/rejection.png)",
        "",
        "## Verdicts",
        "",
    ]
    for claim in claims(found):
        lines.append(
            f"- {claim['claim']}: {_ci(claim['interval'])}: **{claim['verdict']}**."
        )
    open_claims = [c for c in claims(found) if c["verdict"] == NOT_ESTABLISHED]
    lines += [
        "",
        "## What it would take to decide",
        "",
        "For each claim left open: the units that would give an 80 % chance of an "
        "interval that excludes no effect if the effect and its spread are as "
        "measured here (the spread of one unit from the interval's width), and "
        "their cost from each stage's measured time per seed. GPU-hours assume "
        f"TD3 training at {GPU_TD3_TRAIN_RATE:,} env-steps/s (8 seeds) and PURDs "
        f"{GPU_PURD_SPEEDUP:.0f}x faster than here, as measured on one H200 "
        "([performance](performance.md#on-a-gpu-one-h200)); PPO training is not "
        "counted on the GPU.",
        "",
    ]
    if not open_claims:
        lines.append("Every claim above is decided at this scale.")
    lines += [scale_needed(scale, found, claim) for claim in open_claims]
    return "\n".join(lines) + "\n"


def _pair_examples(neighbourhoods: dict) -> list[str]:
    lines = []
    for run, e in neighbourhoods.items():
        if e["pairs"]["tested"]:
            best = e["pairs"]["tested"][0]
            a, b, ratio = best["first"], best["second"], Estimate(**best["ratio"])
            lines.append(
                f"- {run}: seed {a['seed']} at {a['checkpoint']:,} (mean "
                f"{a['mean']:.0f}, std {a['std']:.0f}) and seed {b['seed']} at "
                f"{b['checkpoint']:,} (mean {b['mean']:.0f}, std {b['std']:.0f}): "
                f"spread ratio {ratio.text(1)}."
            )
    return [*lines, ""] if lines else []


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="standard")
    parser.add_argument("--runs", default=str(REPOSITORY / "studies" / "runs"))
    parser.add_argument(
        "--until",
        choices=STAGES,
        default="page",
        help="stop after this stage (a later call resumes from what is stored)",
    )
    args = parser.parse_args(argv)
    show_logs()
    scale, runs = SCALES[args.scale], Path(args.runs)
    roots = compute(scale, runs, args.until)
    if args.until != "page":
        return
    stage_file = runs / "stage_seconds.json"
    found = {
        "commit": commit(),
        "date": datetime.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "seconds": json.loads(stage_file.read_text()) if stage_file.is_file() else {},
        "neighbourhoods": neighbourhoods(scale, runs),
        "paths": paths(scale, runs),
        "rejection": rejection(scale, roots),
    }
    draw(found)
    command = "python studies/findings.py" + (
        f" --scale {args.scale}" if args.scale != "standard" else ""
    )
    (DOCS / "findings.md").write_text(page(scale, found, command))
    (runs / "findings.json").write_text(json.dumps(found, indent=1, default=float))
    logger.info("wrote %s", DOCS / "findings.md")


if __name__ == "__main__":
    main(sys.argv[1:])
