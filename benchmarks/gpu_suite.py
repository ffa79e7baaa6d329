"""GPU suite: what one accelerator does for PURDs and training, in one call, as JSON.

Run end to end by ``benchmarks/gpu_suite.sh`` on a GPU machine (it installs the wheels
that machine lacks first); rehearse on the CPU with ``--tiny``. Every part runs in its
own process, so each reports its own peak device memory (JAX's allocator statistics,
``peak_bytes_in_use``; cases run smallest first, so the running peak after a case is
that case's own). Parts, in order of importance:

* ``purd:<env>`` (halfcheetah, hopper; the default ``positional`` backend, fixed start
  state, no early termination, so every episode runs the full horizon):
  - ``naive``: what a user writes without the tool: per sample one jitted TD3 actor
    update, then one jitted single-env episode (``lax.scan``), one at a time;
  - ``physics``: raw batched physics, K envs stepping with random actions;
  - ``purd``: the ``td3`` perturbation (paper 256x256 networks, the run's learning
    rate) + one episode per sample through ``landscape purd``'s chunked hot path with
    the automatic chunk size; ``perturb_seconds_per_chunk`` times the perturbation
    stage alone;
  - ``purd_one_chunk``: the largest K in a single chunk, where the automatic chunk
    is smaller (the CPU's ``MAX_CHUNK``);
  - ``chunk_invariance``: the second K's samples in chunks of the first K against
    one chunk: how many returns differ; and per stage (``stage_invariance``): the
    perturbation's parameters at both chunk sizes, the episodes from identical
    parameters, the same chunk with its rows rotated, and the same call repeated;
  - ``perturb_vmap`` (CPU only; a GPU vmaps anyway): the perturbation in groups
    of 8 against one vmap, time and bit-identity;
  - ``--no-baselines`` skips ``naive`` and ``physics`` (a re-run after a change).
* ``train:td3`` / ``train:sac``: aggregate env-steps/s of N seeds vmapped (paper
  settings: 256x256, batch 256, one update per step, 1M-row replay per seed);
* ``train:ppo``: paper PPO (2048 envs x 16 steps per iteration) for N seeds;
* ``purd:ppo``: samples/s of the ``ppo`` perturbation on hopper.

First every part compiles its programs at once (``--warm-s``), one process each,
into a shared persistent compilation cache (on the H200 machine a PURD program took
about a minute to compile); the timed parts then load them instead of compiling.
The orchestrator gives every part the time left of ``--budget-s``, merges the parts'
results into ``OUT/gpu_suite.json`` after each part (a part killed at the limit keeps
the cases it finished), then adds the ratios the targets name and the paper's study
in device-hours (``study_cost.py`` with the measured rates).

Usage:
    bash benchmarks/gpu_suite.sh download            # here: the wheels, into .whl/
    bash benchmarks/gpu_suite.sh run OUT_DIR         # there: install, then this
    python benchmarks/gpu_suite.py --out /tmp/gpu --tiny   # CPU rehearsal
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The sizes of one suite run."""

    batches: tuple[int, ...] = (1024, 4096, 16384)  # K of the PURD cases
    horizon: int = 1000
    naive_policies: int = 3
    repeats: int = 2  # timed calls per PURD / physics case (median)
    td3_seeds: tuple[int, ...] = (1, 8, 20)
    sac_seeds: tuple[int, ...] = (20,)
    train_block: int = 1000  # env steps per timed TD3/SAC block
    train_blocks: int = 2
    capacity: int = 1_000_000
    ppo_seeds: tuple[int, ...] = (1, 4)
    ppo_iterations: int = 2  # PPO iterations per timed block
    ppo_purd_samples: int = 64
    hidden: tuple[int, ...] | None = None  # None: the paper's networks
    ppo_envs: int | None = None  # None: the paper's 2048


SIZES = {
    "full": Sizes(),
    "tiny": Sizes(
        batches=(16, 32, 64),
        horizon=40,
        naive_policies=2,
        repeats=1,
        td3_seeds=(1, 2),
        sac_seeds=(2,),
        train_block=40,
        train_blocks=1,
        capacity=2000,
        ppo_seeds=(1, 2),
        ppo_iterations=1,
        ppo_purd_samples=8,
        hidden=(16, 16),
        ppo_envs=16,
    ),
}
PARTS = (
    "purd:halfcheetah",
    "train:td3",
    "purd:hopper",
    "train:ppo",
    "purd:ppo",
    "train:sac",
)


# ------------------------------------------------------------------------ one part


def device_memory() -> dict:
    """The device allocator's running peak and limit, in GiB (empty on the CPU)."""
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    gib = 1024**3
    out = {}
    if "peak_bytes_in_use" in stats:
        out["peak_gib"] = round(stats["peak_bytes_in_use"] / gib, 3)
    if "bytes_limit" in stats:
        out["limit_gib"] = round(stats["bytes_limit"] / gib, 1)
    return out


class Recorder:
    """A part's results, rewritten to its file after every case."""

    def __init__(self, path: Path, part: str):
        import jax

        self.path = path
        self.result = {
            "part": part,
            "device": str(jax.devices()[0]),
            "device_kind": jax.devices()[0].device_kind,
            "cases": [],
        }
        self.started = time.perf_counter()
        self.save()

    def add(self, case: dict) -> None:
        case = {**case, **device_memory()}
        case["part_seconds"] = round(time.perf_counter() - self.started, 1)
        self.result["cases"].append(case)
        print(json.dumps(case), file=sys.stderr, flush=True)
        self.save()

    def save(self) -> None:
        self.path.write_text(json.dumps(self.result, indent=1))


def td3_config(sizes: Sizes):
    from return_landscapes.conf import TD3Config

    if sizes.hidden is None:
        return TD3Config()
    return TD3Config(hidden_sizes=list(sizes.hidden))


def compile_all(jobs: dict, record: Recorder) -> None:
    """Run compile jobs in threads (XLA compiles outside the GIL); record seconds."""

    def timed(item):
        name, job = item
        tic = time.perf_counter()
        job()
        return name, time.perf_counter() - tic

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for name, seconds in pool.map(timed, jobs.items()):
            record.add({"case": "compile", "job": name, "seconds": seconds})


def purd_part(
    name: str, sizes: Sizes, record: Recorder, warm: bool, baselines: bool
) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from purd_throughput import (
        checkpoint_source,
        full_horizon_env,
        median_seconds,
        naive_rate,
        naive_sample,
        physics_rate,
        physics_rollout,
    )
    from return_landscapes.agents.td3 import make_td3
    from return_landscapes.envs.brax import DEFAULT_BACKEND
    from return_landscapes.evaluation import EvaluationSetup, make_episode_stage
    from return_landscapes.landscape.hotpath.engine import policy_apply
    from return_landscapes.landscape.hotpath.keys import sample_keys
    from return_landscapes.landscape.perturb import (
        get_perturbation,
        make_perturb_stage,
        one_sample,
    )
    from return_landscapes.pipeline import (
        max_chunk,
        on_cpu,
        plan_chunks,
        round_chunk,
        run_chunks,
    )

    horizon = sizes.horizon
    env = full_horizon_env(name, DEFAULT_BACKEND)
    agent = make_td3(td3_config(sizes), env.observation_size, env.action_size)
    source = checkpoint_source(env, agent, jax.random.PRNGKey(0))
    common = {"env": name, "backend": DEFAULT_BACKEND, "horizon": horizon}
    perturbation = get_perturbation("td3")
    perturb_stage = make_perturb_stage(perturbation, agent)
    episode_stage = make_episode_stage(
        EvaluationSetup(env, policy_apply(agent), horizon)
    )
    stages = (perturb_stage, episode_stage)
    shared = ((source, jnp.float32(3e-4)), jnp.float32(0.0))
    largest = sizes.batches[-1]
    # (K, chunk argument) of every plan: the automatic chunk per K, and one chunk
    plan_calls = {round_chunk(min(k, max_chunk())): (k, None) for k in sizes.batches}
    if largest not in plan_calls:
        plan_calls[largest] = (largest, largest)
    vmap_chunk = min(max(plan_calls), sizes.batches[1])
    vmap_keys = jax.device_put(sample_keys(0, 0, 0, vmap_chunk))

    @jax.jit
    def vmapped(shared, keys):
        source, scale = shared
        return jax.vmap(lambda k: one_sample(perturbation, agent, source, scale, k))(
            keys
        )

    def make_plan(chunk: int):
        count, argument = plan_calls[chunk]
        return plan_chunks(stages, shared, sample_keys(0, 0, 0, count), count, argument)

    if warm:
        key = jax.random.PRNGKey(0)
        jobs = {}
        if baselines:
            jobs["naive"] = lambda: (
                naive_sample(env, agent, source, horizon).lower(key).compile()
            )
            for count in sizes.batches:
                jobs[f"physics K={count}"] = lambda c=count: (
                    physics_rollout(env, c, horizon).lower(key).compile()
                )
        for chunk in plan_calls:
            jobs[f"purd chunk={chunk}"] = lambda c=chunk: make_plan(c)
        if on_cpu():
            jobs["perturb vmap"] = lambda: vmapped.lower(shared[0], vmap_keys).compile()
        compile_all(jobs, record)
        return

    if baselines:
        tic = time.perf_counter()
        naive = naive_rate(env, agent, source, horizon, sizes.naive_policies)
        record.add(
            {
                **common,
                "case": "naive",
                "policies": sizes.naive_policies,
                "env_steps_per_s": naive,
                "seconds": time.perf_counter() - tic,
            }
        )
        for count in sizes.batches:
            tic = time.perf_counter()
            rate = physics_rate(env, count, horizon, sizes.repeats).median
            record.add(
                {
                    **common,
                    "case": "physics",
                    "K": count,
                    "env_steps_per_s": rate,
                    "seconds": time.perf_counter() - tic,
                }
            )

    plans = {}
    for chunk in plan_calls:
        tic = time.perf_counter()
        plans[chunk] = make_plan(chunk)
        record.add(
            {"case": "plan", "chunk": chunk, "seconds": time.perf_counter() - tic}
        )

    def purd_case(count: int, plan, label: str) -> None:
        def run(i):
            stats = run_chunks(plan, shared, sample_keys(i, 0, 0, count))
            assert (np.asarray(stats.length) == horizon).all()
            return stats.undiscounted_return

        seconds = median_seconds(run, sizes.repeats, warm_up=False)
        placed = jax.device_put(shared[0])
        chunk_keys = jax.device_put(sample_keys(0, 0, 0, plan.chunk))
        perturb = plan.stages[0][0]
        perturb_seconds = median_seconds(
            lambda i: perturb(placed, chunk_keys), sizes.repeats
        )
        record.add(
            {
                **common,
                "case": label,
                "K": count,
                "chunk": plan.chunk,
                "chunks": -(-count // plan.chunk),
                "env_steps_per_s": count * horizon / seconds,
                "seconds": seconds,
                "perturb_seconds_per_chunk": perturb_seconds,
            }
        )

    for count in sizes.batches:
        purd_case(count, plans[round_chunk(min(count, max_chunk()))], "purd")
    if plan_calls[largest][1] is not None:
        purd_case(largest, plans[largest], "purd_one_chunk")

    # chunk invariance: the second K's samples in chunks of the first K vs one chunk
    small, big = (round_chunk(min(k, max_chunk())) for k in sizes.batches[:2])
    keys = sample_keys(1, 0, 0, big)
    chunked = run_chunks(plans[small], shared, keys).undiscounted_return
    whole = run_chunks(plans[big], shared, keys).undiscounted_return
    record.add(
        {
            **common,
            "case": "chunk_invariance",
            "K": big,
            "chunk_a": small,
            "chunk_b": big,
            "samples_differing": int((chunked != whole).sum()),
            "max_abs_difference": float(np.max(np.abs(chunked - whole))),
            **stage_invariance(plans[small], plans[big], shared, keys),
        }
    )
    if not on_cpu():
        return
    # the perturbation in groups of 8 (the CPU's) against one vmap over the chunk
    vmapped_compiled = vmapped.lower(shared[0], vmap_keys).compile()
    grouped = perturb_stage.lower(shared[0], vmap_keys).compile()
    seconds_vmap = median_seconds(lambda i: vmapped_compiled(shared[0], vmap_keys), 3)
    seconds_group = median_seconds(lambda i: grouped(shared[0], vmap_keys), 3)
    same = jax.tree.leaves(
        jax.tree.map(
            lambda a, b: bool((np.asarray(a) == np.asarray(b)).all()),
            vmapped_compiled(shared[0], vmap_keys),
            grouped(shared[0], vmap_keys),
        )
    )
    record.add(
        {
            **common,
            "case": "perturb_vmap",
            "K": vmap_chunk,
            "groups_of_8_seconds": seconds_group,
            "vmap_seconds": seconds_vmap,
            "bit_identical": all(same),
        }
    )


def stage_invariance(small_plan, big_plan, shared, keys) -> dict:
    """Which stage's numbers depend on the chunk size, on the same inputs.

    ``perturb_same``: the small chunk's parameters equal the big chunk's first rows;
    ``episode_differing``: returns of the small chunk's episode stage, given the big
    chunk's first parameter rows, that differ from the big chunk's; ``position_*``:
    the big chunk's returns with its rows rotated (same shape, other places);
    ``repeat_*``: the big chunk's episode stage run again.
    """
    import jax
    import numpy as np

    perturb_small, episode_small = small_plan.stages[0]
    perturb_big, episode_big = big_plan.stages[0]
    small = small_plan.chunk

    def head(tree):
        return jax.tree.map(lambda x: x[:small], tree)

    def returns(stats):
        return np.asarray(stats.undiscounted_return)

    big_rows = perturb_big(shared[0], keys)
    same = jax.tree.map(
        lambda a, b: bool((np.asarray(a) == np.asarray(b)).all()),
        perturb_small(shared[0], keys[:small]),
        head(big_rows),
    )
    whole = returns(episode_big(shared[1], big_rows))
    from_small = returns(episode_small(shared[1], head(big_rows)))
    rotated = jax.tree.map(lambda x: jax.numpy.roll(x, small, axis=0), big_rows)
    moved = np.roll(returns(episode_big(shared[1], rotated)), -small)
    again = returns(episode_big(shared[1], big_rows))
    return {
        "perturb_same": all(jax.tree.leaves(same)),
        "episode_differing": int((from_small != whole[:small]).sum()),
        "position_differing": int((moved != whole).sum()),
        "repeat_differing": int((again != whole).sum()),
    }


def train_config(algo: str, seeds: int, sizes: Sizes):
    from return_landscapes.conf import TrainConfig, resolve

    if algo == "ppo":
        hyper = {} if sizes.ppo_envs is None else {"num_envs": sizes.ppo_envs}
    else:
        hyper = {"replay_capacity": sizes.capacity}
        if sizes.hidden is not None:
            hyper["hidden_sizes"] = list(sizes.hidden)
    return resolve(
        TrainConfig,
        env="hopper",
        algo=algo,
        seeds=seeds,
        progress=False,
        **{algo: hyper},
    )


def train_part(algo: str, sizes: Sizes, record: Recorder, warm: bool) -> None:
    import jax

    from return_landscapes.training.schedule import step_unit
    from train_throughput import time_blocks

    seeds_list = {
        "td3": sizes.td3_seeds,
        "sac": sizes.sac_seeds,
        "ppo": sizes.ppo_seeds,
    }[algo]
    configs = {seeds: train_config(algo, seeds, sizes) for seeds in seeds_list}
    blocks = {
        seeds: step_unit(cfg) * sizes.ppo_iterations
        if algo == "ppo"
        else sizes.train_block
        for seeds, cfg in configs.items()
    }
    if warm:  # one untimed block each: compiles the init and the block
        compile_all(
            {
                f"train {algo} seeds={seeds}": lambda s=seeds: time_blocks(
                    configs[s], blocks[s], 0
                )
                for seeds in seeds_list
            },
            record,
        )
        return
    for seeds, cfg in configs.items():
        tic = time.perf_counter()
        seconds = time_blocks(cfg, blocks[seeds], sizes.train_blocks)
        median = statistics.median(seconds)
        record.add(
            {
                "case": f"train_{algo}",
                "env": "hopper",
                "backend": cfg.backend,
                "seeds": seeds,
                "block_steps": blocks[seeds],
                "median_block_seconds": median,
                "aggregate_env_steps_per_s": seeds * blocks[seeds] / median,
                "per_seed_env_steps_per_s": blocks[seeds] / median,
                "seconds_with_compile": time.perf_counter() - tic,
                "devices": len(jax.devices()),
            }
        )


def ppo_purd_part(sizes: Sizes, record: Recorder, warm: bool) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from purd_throughput import full_horizon_env
    from return_landscapes.agents.ppo import make_ppo
    from return_landscapes.conf import PPOConfig
    from return_landscapes.envs.brax import DEFAULT_BACKEND, reset_carry
    from return_landscapes.evaluation import EvaluationSetup, make_episode_stage
    from return_landscapes.landscape.hotpath.engine import policy_apply
    from return_landscapes.landscape.hotpath.keys import sample_keys
    from return_landscapes.landscape.perturb import (
        CheckpointSource,
        get_perturbation,
        make_perturb_stage,
    )
    from return_landscapes.pipeline import plan_chunks, run_chunks
    from return_landscapes.training.acting import with_rollout

    horizon, count = sizes.horizon, sizes.ppo_purd_samples
    env = full_horizon_env("hopper", DEFAULT_BACKEND)
    cfg = PPOConfig() if sizes.ppo_envs is None else PPOConfig(num_envs=sizes.ppo_envs)
    agent = with_rollout(
        make_ppo(cfg, env.observation_size, env.action_size), env, horizon
    )
    key = jax.random.PRNGKey(0)
    carry = jax.vmap(lambda k: reset_carry(env, k))(jax.random.split(key, cfg.num_envs))
    source = CheckpointSource(agent.init(key), env=carry)
    stages = (
        make_perturb_stage(get_perturbation("ppo"), agent),
        make_episode_stage(EvaluationSetup(env, policy_apply(agent), horizon)),
    )
    shared = ((source, jnp.float32(cfg.learning_rate)), jnp.float32(0.0))
    tic = time.perf_counter()
    plan = plan_chunks(stages, shared, sample_keys(0, 0, 0, count), count)
    compile_seconds = time.perf_counter() - tic
    if warm:
        record.add({"case": "compile", "job": "purd ppo", "seconds": compile_seconds})
        return
    seconds = []
    for i in range(2):
        tic = time.perf_counter()
        stats = run_chunks(plan, shared, sample_keys(i, 0, 0, count))
        seconds.append(time.perf_counter() - tic)
    per_sample = cfg.num_envs * cfg.unroll_length + horizon
    record.add(
        {
            "case": "purd_ppo",
            "env": "hopper",
            "backend": DEFAULT_BACKEND,
            "K": count,
            "chunk": plan.chunk,
            "compile_seconds": compile_seconds,
            "seconds": seconds[-1],
            "samples_per_s": count / seconds[-1],
            "env_steps_per_s": count * per_sample / seconds[-1],
            "samples_done": int(np.size(stats.length)),
        }
    )


def run_part(part: str, sizes: Sizes, path: Path, warm: bool, baselines: bool) -> None:
    sys.path.insert(0, str(HERE))
    from return_landscapes import configure_xla

    configure_xla()
    record = Recorder(path, part)
    kind, name = part.split(":")
    if kind == "train":
        train_part(name, sizes, record, warm)
    elif name == "ppo":
        ppo_purd_part(sizes, record, warm)
    else:
        purd_part(name, sizes, record, warm, baselines)


# ----------------------------------------------------------------- orchestration


def first(cases, **match):
    for case in cases:
        if all(case.get(k) == v for k, v in match.items()):
            return case
    return None


def summarize(cases: list[dict], sizes: Sizes) -> dict:
    """The ratios the targets name, from the merged cases."""
    out = {}
    for env in ("hopper", "halfcheetah"):
        naive = first(cases, env=env, case="naive")
        for count in sizes.batches:
            purd = first(cases, env=env, case="purd", K=count)
            physics = first(cases, env=env, case="physics", K=count)
            if purd and physics:
                out[f"{env} K={count} purd/physics"] = round(
                    purd["env_steps_per_s"] / physics["env_steps_per_s"], 3
                )
            if purd and naive:
                out[f"{env} K={count} purd/naive"] = round(
                    purd["env_steps_per_s"] / naive["env_steps_per_s"], 1
                )
    single = first(cases, case="train_td3", seeds=1)
    for case in cases:
        if case.get("case") == "train_td3" and single and case["seeds"] > 1:
            out[f"td3 {case['seeds']} seeds / 1 seed (aggregate)"] = round(
                case["aggregate_env_steps_per_s"] / single["aggregate_env_steps_per_s"],
                2,
            )
    return out


def study_hours(cases: list[dict], sizes: Sizes) -> dict | None:
    """The paper's study in device-hours at the measured rates (None if missing)."""
    sys.path.insert(0, str(HERE))
    from study_cost import stages

    def most_seeds(algo):
        runs = [c for c in cases if c.get("case") == f"train_{algo}"]
        return max(runs, key=lambda c: c["seeds"]) if runs else None

    train = {algo: most_seeds(algo) for algo in ("td3", "sac", "ppo")}
    # PURDs of 1000 samples: the rate at the K nearest 1000, both envs' mean time
    purd = [
        first(cases, env=env, case="purd", K=sizes.batches[0])
        for env in ("hopper", "halfcheetah")
    ]
    ppo = first(cases, case="purd_ppo")
    if None in (*train.values(), *purd, ppo):
        return None
    purd_rate = len(purd) / sum(1 / c["env_steps_per_s"] for c in purd)
    rates = {a: c["aggregate_env_steps_per_s"] for a, c in train.items()}
    result = stages(rates, purd_rate, ppo["samples_per_s"])
    return {
        "rates": {
            **{f"train {a}": r for a, r in rates.items()},
            "train seeds per process": {a: c["seeds"] for a, c in train.items()},
            "purd env_steps_per_s": purd_rate,
            "ppo purd samples_per_s": ppo["samples_per_s"],
        },
        "stages": result,
        "total_hours": sum(stage["hours"] for stage in result.values()),
    }


CACHE_SETTINGS = {
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
}


def part_command(part: str, args, path: Path, warm: bool) -> list[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--part", part]
    command += ["--size", args.size, "--part-file", str(path)]
    command += [] if args.baselines else ["--no-baselines"]
    return command + (["--warm"] if warm else [])


def read_part(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def warm_up(args, work: Path, seconds: float) -> dict:
    """Compile every part's programs at once, one process each, into the shared
    persistent cache; the timed parts then load them instead of compiling."""
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    running = {}
    for part in args.parts:
        path = work / ("warm_" + part.replace(":", "_") + ".json")
        running[part] = (
            path,
            subprocess.Popen(part_command(part, args, path, True), env=env),
        )
    deadline = time.monotonic() + seconds
    status = {}
    for part, (path, process) in running.items():
        try:
            code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
            status[part] = "ok" if code == 0 else f"exit {code}"
        except subprocess.TimeoutExpired:
            process.kill()
            status[part] = "killed at the warm-up limit"
        result = read_part(path)
        compiles = result["cases"] if result else []
        status[part] += ", " + ", ".join(
            f"{c['job']} {c['seconds']:.0f} s" for c in compiles
        )
    return status


def orchestrate(args, sizes: Sizes) -> dict:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gpu_suite_"))
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(work / "xla-cache"))
    for name, value in CACHE_SETTINGS.items():
        os.environ.setdefault(name, value)
    started = time.monotonic()
    deadline = started + args.budget_s
    summary = {
        "sizes": dataclasses.asdict(sizes),
        "size_name": args.size,
        "commit": args.commit,
        "parts": {},
        "cases": [],
    }
    if args.warm_s > 0:
        print(f"== warm-up: {', '.join(args.parts)}", file=sys.stderr, flush=True)
        summary["warm_up"] = warm_up(args, work, args.warm_s)
        summary["warm_up_seconds"] = round(time.monotonic() - started, 1)
    for part in args.parts:
        left = deadline - time.monotonic()
        if left < 20:
            summary["parts"][part] = "skipped: budget spent"
            continue
        path = work / (part.replace(":", "_") + ".json")
        tic = time.perf_counter()
        print(f"== {part} ({left:.0f} s left)", file=sys.stderr, flush=True)
        try:
            done = subprocess.run(part_command(part, args, path, False), timeout=left)
            status = "ok" if done.returncode == 0 else f"exit {done.returncode}"
        except subprocess.TimeoutExpired:
            status = "killed at the budget"
        summary["parts"][part] = f"{status} in {time.perf_counter() - tic:.0f} s"
        result = read_part(path)
        if result:
            summary.setdefault("device", result["device"])
            summary.setdefault("device_kind", result["device_kind"])
            summary["cases"].extend(result["cases"])
        summary["ratios"] = summarize(summary["cases"], sizes)
        (out / "gpu_suite.json").write_text(json.dumps(summary, indent=1))
    summary["study"] = study_hours(summary["cases"], sizes)
    summary["versions"] = versions()
    summary["seconds"] = round(time.monotonic() - started, 1)
    (out / "gpu_suite.json").write_text(json.dumps(summary, indent=1))
    return summary


def versions() -> dict:
    from importlib import metadata

    found = {}
    for name in (
        "jax",
        "jaxlib",
        "jax-cuda13-plugin",
        "jax-cuda12-plugin",
        "brax",
        "flax",
        "optax",
        "mujoco",
        "numpy",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def print_table(summary: dict) -> None:
    print(f"device: {summary.get('device_kind')}  commit: {summary['commit']}")
    for part, status in summary["parts"].items():
        print(f"  {part}: {status}")
    for case in summary["cases"]:
        rate = case.get("env_steps_per_s", case.get("aggregate_env_steps_per_s"))
        label = " ".join(
            f"{k}={case[k]}"
            for k in ("case", "env", "K", "chunk", "seeds")
            if k in case
        )
        extra = f" steps/s={rate:,.0f}" if rate else ""
        print(f"  {label}{extra} peak={case.get('peak_gib', '-')} GiB")
    for name, value in summary.get("ratios", {}).items():
        print(f"  {name}: {value}")
    study = summary.get("study")
    if study:
        print(f"  paper's study: {study['total_hours']:.1f} device-hours")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="folder for gpu_suite.json")
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--tiny", action="store_const", const="tiny", dest="size")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    parser.add_argument(
        "--budget-s",
        type=float,
        default=450.0,
        help="seconds for everything, warm-up included (all parts: about 7.5 "
        "minutes on an H200, summed from two calls that each ran some)",
    )
    parser.add_argument("--commit", default=os.environ.get("SUITE_COMMIT", "unknown"))
    parser.add_argument(
        "--warm-s", type=float, default=160.0, help="warm-up limit (0: none)"
    )
    parser.add_argument(
        "--no-baselines",
        dest="baselines",
        action="store_false",
        help="skip the naive loop and raw physics (PURD parts)",
    )
    parser.add_argument("--part", help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--part-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = SIZES[args.size]
    if args.part:
        run_part(args.part, sizes, Path(args.part_file), args.warm, args.baselines)
        return
    if not args.out:
        parser.error("--out is required")
    print_table(orchestrate(args, sizes))


if __name__ == "__main__":
    main()
