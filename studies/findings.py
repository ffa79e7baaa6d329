"""The paper's three findings, measured at a CPU scale; writes ``docs/findings.md``.

Trains TD3 and PPO on two Brax envs, then measures with the library's own commands:

(a) noisy neighbourhoods: LTP and CVaR / mean over seeds x checkpoints, and pairs of
    checkpoints with similar mean return whose PURD spreads differ >= 3x;
(b) same-seed vs cross-seed interpolation paths: the lowest return along a path over
    the lower of its two endpoint returns, with bootstrap intervals over pairs;
(c) post-update CVaR rejection against ``none`` from the heaviest-tailed roots: CVaR
    and LTP after the proposed updates, and the probability that ``cvar`` ends
    above ``none`` with its bootstrap interval over roots.

Every stage is resumable (the commands skip what is stored), so a second run only
redoes the analysis. ``--scale small`` (the default) fits in about 2 CPU-hours on a
2-core CPU; ``--scale medium`` is larger in every direction.

Usage: ``python studies/findings.py [--scale small|medium] [--runs studies/runs]``
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from return_landscapes.landscape.experiments.interpolate import interpolate
from return_landscapes.landscape.experiments.purd import purd
from return_landscapes.landscape.experiments.reject import reject
from return_landscapes.landscape.stats import bootstrap_ci, kept_rows
from return_landscapes.landscape.stats.table import stats_rows
from return_landscapes.logs import show_logs
from return_landscapes.store import interpolation as path_store
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

    envs: tuple[str, ...] = ("halfcheetah", "hopper")
    td3_seeds: int = 3
    td3_steps: int = 30_000
    ppo_seeds: int = 2
    ppo_steps: int = 1_000_000
    ppo_envs: int = 256
    checkpoints: int = 3
    td3_samples: int = 100
    ppo_samples: int = 30
    path_points: int = 21
    roots: int = 5
    repeats: int = 3
    reject_steps: int = 40
    check_interval: int = 20
    reject_samples: int = 24


SCALES = {
    "small": Scale(),
    "medium": Scale(
        td3_seeds=5,
        td3_steps=100_000,
        ppo_seeds=3,
        ppo_steps=10_000_000,
        ppo_envs=2048,
        checkpoints=5,
        td3_samples=200,
        ppo_samples=50,
        path_points=41,
        roots=8,
        repeats=5,
        check_interval=1,
        reject_samples=50,
    ),
}


# ---------------------------------------------------------------------- computing


def run_dir(runs: Path, env: str, algo: str) -> Path:
    return runs / f"{env}-{algo}"


def compute(scale: Scale, runs: Path) -> list[dict]:
    """Train, PURD, paths and rejection; returns the rejection roots."""
    for env in scale.envs:
        for algo, seeds, steps in (
            ("td3", scale.td3_seeds, scale.td3_steps),
            ("ppo", scale.ppo_seeds, scale.ppo_steps),
        ):
            out = run_dir(runs, env, algo)
            config = {
                "env": env,
                "algo": algo,
                "seeds": seeds,
                "steps": steps,
                "num_checkpoints": scale.checkpoints,
                "out": str(out),
                "progress": False,
            }
            config["eval_interval"] = steps // 10  # ten evaluations, not one a block
            if algo == "td3":
                config["td3"] = {"random_start_steps": 4_000}
            else:  # a PPO update collects num_envs x 16 steps: one per PURD sample
                config["ppo"] = {"num_envs": scale.ppo_envs}
            train(config, resume=True)
            samples = scale.td3_samples if algo == "td3" else scale.ppo_samples
            purd(
                run=str(out),
                samples=samples,
                min_episode_steps=MIN_STEPS,
                progress=False,
            )
            if algo == "td3":
                for pairs in ("same_seed", "cross_seed"):
                    interpolate(
                        run=str(out),
                        pairs=pairs,
                        points=scale.path_points,
                        samples=0,
                        progress=False,
                    )
    roots = rejection_roots(scale, runs)
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
                check_noise="common",  # as the committed results were computed
                progress=False,
            )
    return roots


def rejection_roots(scale: Scale, runs: Path) -> list[dict]:
    """The ``roots`` TD3 policies with the heaviest left tails (CVaR / mean lowest),
    never a flat one, over every env."""
    rows = []
    for env in scale.envs:
        path = run_dir(runs, env, "td3")
        for row in stats_rows(path, min_episode_steps=MIN_STEPS):
            if not row["flat"] and row["mean"] > 0 and row["checkpoint"] > 4_000:
                rows.append(row | {"path": str(path)})
    rows.sort(key=lambda r: r["cvar"] / r["mean"])
    return rows[: scale.roots]


# ----------------------------------------------------------------------- analysis


def interval(values, statistic=np.mean) -> dict:
    """The statistic of the defined values (NaN: an undefined LTP, left out)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return {
            "value": float("nan"),
            "low": float("nan"),
            "high": float("nan"),
            "n": 0,
        }
    low, high = bootstrap_ci(values, statistic)
    return {
        "value": float(statistic(values)),
        "low": low,
        "high": high,
        "n": int(values.size),
    }


def neighbourhoods(scale: Scale, runs: Path) -> dict:
    """Finding (a), per run: LTP and CVaR / mean, and similar-mean pairs."""
    found = {}
    for env in scale.envs:
        for algo in ("td3", "ppo"):
            rows = stats_rows(run_dir(runs, env, algo), min_episode_steps=MIN_STEPS)
            live = [r for r in rows if not r["flat"] and r["mean"] > 0]
            ltp = [r["ltp"] for r in live if not np.isnan(r["ltp"])]
            relative = [r["cvar"] / r["mean"] for r in live]
            found[f"{env}-{algo}"] = {
                "policies": len(rows),
                "analysed": len(live),
                "ltp": interval(ltp) if ltp else None,
                "ltp_at_least_0.02": int(sum(v >= 0.02 for v in ltp)),
                "cvar_over_mean": interval(relative) if relative else None,
                "cvar_at_most_0.8_mean": int(sum(v <= 0.8 for v in relative)),
                "pairs": similar_mean_pairs(live),
                "rows": [
                    {
                        k: r[k]
                        for k in ("seed", "checkpoint", "mean", "std", "ltp", "cvar")
                    }
                    for r in live
                ],
            }
    return found


def similar_mean_pairs(rows: list[dict]) -> dict:
    """Pairs of policies whose PURD means lie within 5 %: how many, how many of them
    differ >= 3x in standard deviation, and the largest ratio."""
    pairs = []
    for i, first in enumerate(rows):
        for second in rows[i + 1 :]:
            low, high = sorted((first["mean"], second["mean"]))
            if (high - low) / high <= SIMILAR_MEAN:
                spreads = sorted((first["std"], second["std"]))
                pairs.append((spreads[1] / max(spreads[0], 1e-12), first, second))
    pairs.sort(key=lambda p: -p[0])
    best = None
    if pairs:
        ratio, first, second = pairs[0]
        best = {"ratio": ratio, "first": _policy(first), "second": _policy(second)}
    return {
        "similar": len(pairs),
        "spread_3x": sum(p[0] >= SPREAD_RATIO for p in pairs),
        "spread_3x_both_spread": sum(
            p[0] >= SPREAD_RATIO and min(_cv(p[1]), _cv(p[2])) >= 0.01 for p in pairs
        ),
        "best": best,
    }


def _cv(row: dict) -> float:
    return row["std"] / abs(row["mean"])


def _policy(row: dict) -> dict:
    return {k: row[k] for k in ("seed", "checkpoint", "mean", "std")}


def paths(scale: Scale, runs: Path) -> dict:
    """Finding (b), per TD3 run: min along the path / the lower endpoint's return,
    over paths whose endpoints both last ``MIN_STEPS`` steps."""
    found = {}
    for env in scale.envs:
        ratios: dict[str, list[float]] = {"same_seed": [], "cross_seed": []}
        for path in path_store.stored_interpolations(run_dir(runs, env, "td3")):
            result = path_store.read_interpolation(path)
            lengths = result.arrays["plain_length"]
            plain = result.plain_return
            ends = min(plain[0], plain[-1])
            if min(lengths[0], lengths[-1]) < MIN_STEPS or ends <= 0:
                continue
            ratios[result.attrs["pair_kind"]].append(float(plain.min() / ends))
        found[env] = {
            kind: interval(v) if len(v) else None for kind, v in ratios.items()
        }
        found[env]["values"] = ratios
    return found


def rejection(scale: Scale, roots: list[dict]) -> dict:
    """Finding (c): final kept CVaR and LTP per criterion, and P(cvar > none)."""
    per_root, finals = [], {"cvar": [], "none": []}
    for root in roots:
        ends = {}
        for criterion in ("cvar", "none"):
            repeats = rejection_store.load_rejection(
                root["path"], root["checkpoint"], root["seed"], criterion
            )
            ends[criterion] = [_last_kept(r.arrays) for r in repeats]
            finals[criterion] += ends[criterion]
        wins = [
            _win(c["cvar"], n["cvar"])
            for c, n in zip(ends["cvar"], ends["none"], strict=True)
        ]
        per_root.append(
            {
                "env": Path(root["path"]).name,
                "seed": root["seed"],
                "checkpoint": root["checkpoint"],
                "start_cvar": float(
                    rejection_store.load_rejection(
                        root["path"], root["checkpoint"], root["seed"], "none"
                    )[0].arrays["cvar"][0]
                ),
                "cvar_final": float(np.mean([e["cvar"] for e in ends["cvar"]])),
                "none_final": float(np.mean([e["cvar"] for e in ends["none"]])),
                "win_rate": float(np.mean(wins)),
            }
        )
    summary = {
        criterion: {
            "cvar": interval([e["cvar"] for e in values]),
            "ltp": interval([e["ltp"] for e in values]),
        }
        for criterion, values in finals.items()
    }
    wins = [r["win_rate"] for r in per_root]
    summary["probability_of_improvement"] = interval(wins)
    summary["roots"] = per_root
    return summary


def _last_kept(trace: dict) -> dict:
    row = kept_rows(trace["accepted"])[-1]
    ltp = float(trace["ltp"][row]) if trace["mode"][row] > 0 else float("nan")
    return {"cvar": float(trace["cvar"][row]), "ltp": ltp}


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
        left.scatter(
            means, [r["std"] for r in rows], label=run, s=18, marker="osD^"[index % 4]
        )
        right.scatter(
            means,
            [r["cvar"] / r["mean"] for r in rows],
            label=run,
            s=18,
            marker="osD^"[index % 4],
        )
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
    right.axhline(0.8, color="grey", lw=0.8, ls="--")
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

    roots = found["rejection"]["roots"]
    fig = Figure(figsize=(6.0, 3.4), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(roots))
    ax.bar(x - 0.2, [r["start_cvar"] for r in roots], 0.2, label="root")
    ax.bar(x, [r["cvar_final"] for r in roots], 0.2, label="cvar (kept)")
    ax.bar(x + 0.2, [r["none_final"] for r in roots], 0.2, label="none")
    ax.set_xticks(
        x,
        [f"{r['env']}\ns{r['seed']} {r['checkpoint'] // 1000}k" for r in roots],
        fontsize=7,
    )
    ax.set(
        ylabel="CVaR 0.1 (return)",
        title="Rejection: CVaR after the proposed updates (mean over repeats)",
    )
    ax.legend(fontsize=7)
    names.append(_save(fig, "rejection.png"))
    return names


def _save(fig: Figure, name: str) -> str:
    fig.savefig(FIGURES / name, dpi=100)
    return name


# ------------------------------------------------------------------------- the page


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


_REJECTION_CAVEAT = (
    "The final CVaR and LTP below are the estimates each criterion kept at its last "
    "kept check: chosen by the criterion for being high, so biased upward (under "
    "pure estimation noise `cvar` would still look better than `none`). The study's "
    "checks used common draws (`check_noise=common`) and it recorded no held-out "
    "PURD of the final policies, which `landscape reject` now stores (`heldout_*`): "
    "these rows are not evidence that rejection works until the study is rerun."
)


def _ci(entry: dict | None, digits: int = 3) -> str:
    if entry is None:
        return "none"
    value, low, high = entry["value"], entry["low"], entry["high"]
    if np.isnan(low):
        return f"{value:.{digits}f} (n={entry['n']})"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}] (n={entry['n']})"


def page(scale: Scale, found: dict, command: str, seconds: float) -> str:
    lines = [
        "# The paper's findings, measured",
        "",
        f"Generated by `{command}` at commit `{found['commit']}` on "
        f"{found['date']}; this invocation took {seconds / 3600:.2f} h of wall time "
        f"({found['cpus']} CPUs; stored stages are reused, not recomputed). "
        f"Settings: `{json.dumps(dataclasses.asdict(scale))}`.",
        "Every number below is computed by `studies/findings.py` from the stored "
        "results; intervals are 95 % percentile bootstraps. Policies whose "
        f"unperturbed episode ends before step {MIN_STEPS} are flat and left out.",
        "",
        "## (a) Noisy neighbourhoods",
        "",
        "| run | policies (analysed) | mean LTP | LTP >= 0.02 | mean CVaR/mean | "
        "CVaR <= 0.8 mean | similar-mean pairs | of them spread >= 3x | of those, "
        "both CV >= 1 % | largest ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run, e in found["neighbourhoods"].items():
        best = e["pairs"]["best"]
        ratio = f"{best['ratio']:.1f}" if best else "-"
        lines.append(
            f"| {run} | {e['policies']} ({e['analysed']}) | {_ci(e['ltp'])} | "
            f"{e['ltp_at_least_0.02']} | {_ci(e['cvar_over_mean'])} | "
            f"{e['cvar_at_most_0.8_mean']} | {e['pairs']['similar']} | "
            f"{e['pairs']['spread_3x']} | {e['pairs']['spread_3x_both_spread']} | "
            f"{ratio} |"
        )
    lines += ["", "![neighbourhoods](findings/neighbourhoods.png)", ""]
    lines += _pair_examples(found["neighbourhoods"])
    lines += [
        "## (b) Same-seed vs cross-seed paths",
        "",
        "Lowest plain return along a path over the lower of its endpoint returns "
        "(1: no dip; paths with a flat endpoint left out).",
        "",
        "| env | same-seed | cross-seed |",
        "|---|---|---|",
    ]
    for env, e in found["paths"].items():
        lines.append(f"| {env} | {_ci(e['same_seed'])} | {_ci(e['cross_seed'])} |")
    lines += ["", "![paths](findings/paths.png)", ""]
    r = found["rejection"]
    lines += [
        "## (c) Post-update CVaR rejection",
        "",
        f"{len(r['roots'])} roots (the TD3 policies with the lowest CVaR / mean) x "
        f"{scale.repeats} repeats x {scale.reject_steps} proposed updates, a check "
        f"every {scale.check_interval} with {scale.reject_samples} samples.",
        "",
        _REJECTION_CAVEAT,
        "",
        "| criterion | final CVaR | final LTP |",
        "|---|---|---|",
        f"| cvar | {_ci(r['cvar']['cvar'], 1)} | {_ci(r['cvar']['ltp'])} |",
        f"| none | {_ci(r['none']['cvar'], 1)} | {_ci(r['none']['ltp'])} |",
        "",
        "Probability that `cvar` ends with a higher CVaR than `none` (repeats paired "
        f"by their training keys; interval over roots): "
        f"{_ci(r['probability_of_improvement'])}.",
        "",
        "| root | CVaR at root | cvar | none | P(cvar > none) |",
        "|---|---|---|---|---|",
    ]
    for root in r["roots"]:
        lines.append(
            f"| {root['env']} seed {root['seed']} at {root['checkpoint']:,} | "
            f"{root['start_cvar']:.1f} | {root['cvar_final']:.1f} | "
            f"{root['none_final']:.1f} | {root['win_rate']:.2f} |"
        )
    lines += ["", "![rejection](findings/rejection.png)", ""]
    lines += ["## What reproduces at this scale", "", *verdicts(found), ""]
    return "\n".join(lines)


def _pair_examples(neighbourhoods: dict) -> list[str]:
    lines = []
    for run, e in neighbourhoods.items():
        best = e["pairs"]["best"]
        if best:
            a, b = best["first"], best["second"]
            lines.append(
                f"- {run}: seed {a['seed']} at {a['checkpoint']:,} (mean "
                f"{a['mean']:.0f}, std {a['std']:.0f}) and seed {b['seed']} at "
                f"{b['checkpoint']:,} (mean {b['mean']:.0f}, std {b['std']:.0f}): "
                f"{best['ratio']:.1f}x the spread at similar means."
            )
    return [*lines, ""] if lines else []


def verdicts(found: dict) -> list[str]:
    """Plain statements of what did and did not reproduce, from the numbers."""
    n = found["neighbourhoods"]
    tails = sum(e["ltp_at_least_0.02"] + e["cvar_at_most_0.8_mean"] for e in n.values())
    spread = sum(e["pairs"]["spread_3x"] for e in n.values())
    moving = sum(e["pairs"].get("spread_3x_both_spread", 0) for e in n.values())
    out = [
        f"- (a) left tails: {tails} policy statistics cross LTP >= 0.02 or CVaR <= "
        f"0.8 x mean; similar-mean pairs with >= 3x the spread: {spread} "
        f"({'reproduces' if spread else 'does not reproduce at this scale'}), of "
        f"which {moving} pair two policies that both spread (CV >= 1 %); the others "
        "set a spreading policy beside one that barely moves (a hopper standing "
        "still).",
    ]
    for env, e in found["paths"].items():
        same, cross = e["same_seed"], e["cross_seed"]
        if same and cross:
            dips = cross["value"] < same["value"]
            separated = cross["high"] < same["low"]
            out.append(
                f"- (b) {env}: cross-seed paths dip "
                f"{'deeper' if dips else 'no deeper'} than same-seed ones "
                f"({cross['value']:.2f} vs {same['value']:.2f}; intervals "
                f"{'separated' if separated else 'overlap'})."
            )
        else:
            out.append(f"- (b) {env}: too few paths with lasting endpoints to judge.")
    p = found["rejection"]["probability_of_improvement"]
    verdict = "reproduces" if p["low"] > 0.5 else "is not established at this scale"
    out.append(
        f"- (c) P(cvar ends above none) = {p['value']:.2f} "
        f"[{p['low']:.2f}, {p['high']:.2f}]: the benefit of rejection {verdict}."
    )
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--runs", default=str(REPOSITORY / "studies" / "runs"))
    args = parser.parse_args(argv)
    show_logs()
    scale, runs = SCALES[args.scale], Path(args.runs)
    started = time.perf_counter()
    roots = compute(scale, runs)
    found = {
        "commit": commit(),
        "date": datetime.date.today().isoformat(),
        "cpus": __import__("os").cpu_count(),
        "neighbourhoods": neighbourhoods(scale, runs),
        "paths": paths(scale, runs),
        "rejection": rejection(scale, roots),
    }
    draw(found)
    seconds = time.perf_counter() - started
    command = "python studies/findings.py" + (
        f" --scale {args.scale}" if args.scale != "small" else ""
    )
    (DOCS / "findings.md").write_text(page(scale, found, command, seconds) + "\n")
    (runs / "findings.json").write_text(json.dumps(found, indent=1, default=float))
    logger.info("wrote %s", DOCS / "findings.md")


if __name__ == "__main__":
    main(sys.argv[1:])
