import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import (
    TINY_TD3,
    as_overrides,
    assert_one_error_line,
    copy_run,
    copy_stopped_early,
    files_and_stamps,
    landscape,
    landscape_here,
    with_xla_flags,
)
from return_landscapes import rundir as ckpt
from return_landscapes import train
from return_landscapes.conf import TrainConfig, resolve
from return_landscapes.errors import LandscapeError
from return_landscapes.rundir import load_run_config
from return_landscapes.training.schedule import checkpoint_steps, plan_blocks
from return_landscapes.training.state import host, init_state, restore_state
from return_landscapes.training.trainers import get_trainer


def assert_trees_equal(a, b):
    paths_a = jax.tree_util.tree_flatten_with_path(a)[0]
    leaves_b = jax.tree.leaves(b)
    assert len(paths_a) == len(leaves_b)
    for (path, x), y in zip(paths_a, leaves_b, strict=True):
        assert np.array_equal(np.asarray(x), np.asarray(y)), jax.tree_util.keystr(path)


def eval_records(run_dir):
    lines = (run_dir / ckpt.METRICS).read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == "eval"]


def saved_state(run_dir, step):
    return np.load(ckpt.checkpoint_path(run_dir, step))


def assert_same_run(expected_run, got_run, steps):
    """Every array of every checkpoint, and every evaluation record, equal."""
    for step in steps:
        expected, got = saved_state(expected_run, step), saved_state(got_run, step)
        assert expected.files == got.files
        for name in expected.files:
            assert np.array_equal(expected[name], got[name]), (step, name)
    assert eval_records(expected_run) == eval_records(got_run)


def test_run_directory_layout(tiny_td3_run):
    manifest = ckpt.read_manifest(tiny_td3_run)
    assert manifest["algo"] == "td3" and manifest["env"] == "hopper"
    assert manifest["seeds"] == [0, 1]
    assert manifest["checkpoint_steps"] == [100, 200, 300]
    assert ckpt.completed_checkpoints(tiny_td3_run) == [100, 200, 300]
    assert load_run_config(tiny_td3_run).steps == 300
    assert [r["step"] for r in eval_records(tiny_td3_run)] == [0, 100, 200, 300]


@pytest.mark.unit
def test_default_schedule_is_the_papers_scaled():
    cfg = resolve(TrainConfig, steps=1_000_000)
    assert checkpoint_steps(cfg) == [50_000 + 100_000 * k for k in range(10)] + [
        1_000_000
    ]


@pytest.mark.unit
def test_block_plan_has_edges_at_checkpoints_and_learning_start():
    cfg = resolve(TrainConfig, TINY_TD3)
    blocks = plan_blocks(cfg)
    starts = [b.start for b in blocks]
    assert starts == list(range(0, 300, 50))
    assert [b.learning for b in blocks] == [False] + [True] * 5


def test_same_seed_is_bit_identical_and_seeds_differ(tiny_td3_run, tmp_path):
    again = train(TINY_TD3, out=str(tmp_path / "again"))
    first, second = saved_state(tiny_td3_run, 300), saved_state(again, 300)
    assert first.files == second.files
    for name in first.files:
        assert np.array_equal(first[name], second[name]), name
    assert eval_records(tiny_td3_run) == eval_records(again)
    kernels = [v for k, v in first.items() if "actor_params" in k and "kernel" in k]
    assert all(not np.array_equal(k[0], k[1]) for k in kernels)  # seed 0 vs seed 1


def test_checkpoints_restore_every_leaf_including_replay_as_of_that_step(
    tiny_td3_run,
):
    cfg = load_run_config(tiny_td3_run)
    trainer = get_trainer(cfg)
    state = init_state(trainer, cfg)
    snapshots = {}
    for block in plan_blocks(cfg):
        state, _ = trainer.run_block(state, block)
        end = block.start + block.length
        if end in (100, 200, 300):
            snapshots[end] = host(state)
    for step, expected in snapshots.items():
        restored = restore_state(trainer, cfg, tiny_td3_run, step)
        assert_trees_equal(restored, expected)
    # The buffer wrapped (capacity 150): as of step 100 it held 100 rows, later 150.
    assert int(snapshots[100].replay.size[0]) == 100
    assert int(snapshots[300].replay.size[0]) == 150


@pytest.mark.invariant
def test_resume_after_a_stop_equals_an_uninterrupted_run(tiny_td3_run, tmp_path):
    out = str(tmp_path / "resumed")
    train(TINY_TD3, out=out, stop_at=200)
    assert ckpt.completed_checkpoints(out) == [100, 200]
    train(TINY_TD3, out=out, resume=True)
    for step in (200, 300):
        expected, got = (
            saved_state(tiny_td3_run, step),
            saved_state(tmp_path / "resumed", step),
        )
        for name in expected.files:
            assert np.array_equal(expected[name], got[name]), (step, name)
    assert eval_records(tiny_td3_run) == eval_records(tmp_path / "resumed")


def snapshot_files(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"env": "hopz"}, "unknown env 'hopz'"),
        ({"algo": "dqn"}, "Invalid value 'dqn'"),
        ({"checkpoints": [100, 400]}, "checkpoint step 400 is outside the budget"),
        ({"seeds": 0}, "seeds=0 must be at least 1"),
        ({"seeds": -2}, "seeds=-2 must be at least 1"),
        ({"num_checkpoints": 2}, "checkpoints and num_checkpoints are both set"),
        ({"checkpoints": None, "num_checkpoints": 0}, "num_checkpoints=0 must be"),
        ({"steps": 200}, "different run (steps differ)"),
        ({}, "already holds a run: pass resume=true"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    tiny_td3_run, tmp_path, overrides, fragment
):
    run_copy = tmp_path / "run"
    shutil.copytree(tiny_td3_run, run_copy)
    before = snapshot_files(run_copy)
    resume = "steps" in overrides
    config = {**TINY_TD3, "resume": resume, **overrides}
    with pytest.raises(LandscapeError) as err:
        train(config, out=str(run_copy))
    assert fragment in str(err.value) and "\n" not in str(err.value)
    assert snapshot_files(run_copy) == before


def test_out_directory_with_other_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(LandscapeError, match="not a run directory"):
        train(TINY_TD3, out=str(tmp_path))
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_training_block_never_copies_the_replay_buffer():
    """The replay write stays in place: no full-buffer copy in the compiled block.

    A copy costs O(capacity) per env step (2.4x slower with a 1M-row buffer on this
    CPU); benchmarks/train_throughput.py --fill measures the rate as the buffer fills.
    """
    import re

    capacity = 4321  # a size no other array in the block has
    cfg = resolve(
        TrainConfig, TINY_TD3, td3={**TINY_TD3["td3"], "replay_capacity": capacity}
    )
    trainer = get_trainer(cfg)
    state = init_state(trainer, cfg)
    block = trainer.compiled_block(10, True)
    hlo = block.lower(state, jnp.int32(0)).compile().as_text()
    buffer_copies = [
        line
        for line in hlo.splitlines()
        if re.search(rf"= f32\[[\d,]*\b{capacity}\b[\d,]*\]\S* copy\(", line)
    ]
    assert "dynamic-update-slice" in hlo or "scatter" in hlo
    assert buffer_copies == []


def train_point_reach(seeds: int, path: str) -> None:
    """Every block of a tiny TD3 run on ``PointReach``, then an evaluation; saves the
    final state's leaves and the evaluation returns to ``path`` (npz)."""
    from return_landscapes.training.schedule import evaluation_keys
    from return_landscapes.training.trainers import make_trainer
    from toy_env import PointReach

    cfg = resolve(TrainConfig, {**TINY_TD3, "seeds": seeds})
    trainer = make_trainer(cfg, env=PointReach())
    state = init_state(trainer, cfg)
    for block in plan_blocks(cfg):
        state, metrics = trainer.run_block(state, block)
    stats = trainer.evaluate(state, evaluation_keys(cfg, cfg.steps))
    used = jax.tree.leaves(state)[0].sharding.device_set
    assert len(used) == jax.device_count(), used  # the seeds were split
    leaves = [*jax.tree.leaves(host(state)), *jax.tree.leaves(host((metrics, stats)))]
    np.savez(path, *leaves)


@pytest.mark.invariant
def test_two_devices_give_the_training_numbers_of_one(tmp_path):
    """32 seeds over 2 forced host devices (16 each) equal 32 seeds on one device:
    every leaf of the training state, the block metrics and the evaluation (with 8
    per device, jax 0.12's code for the seed axis differs from 16's)."""
    train_point_reach(32, str(tmp_path / "one.npz"))
    code = (  # the package's XLA flags before JAX starts, as the CLI
        "import sys; import return_landscapes; return_landscapes.configure_xla();"
        "import jax;"
        "assert jax.device_count() == 2, jax.devices();"
        "from test_train import train_point_reach;"
        "train_point_reach(32, sys.argv[1])"
    )
    env = with_xla_flags("--xla_force_host_platform_device_count=2")
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "two.npz")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert one.files == two.files and len(one.files) > 30
    for leaf in one.files:
        assert np.array_equal(one[leaf], two[leaf], equal_nan=True), leaf


def kill_at_checkpoint(job, run_dir: Path, step: int, timeout: float = 400) -> None:
    """SIGKILL ``job`` as soon as its checkpoint at ``step`` lands."""
    landed = ckpt.checkpoint_path(run_dir, step)
    deadline = time.time() + timeout
    while not landed.exists() and time.time() < deadline:
        assert job.poll() is None, job.stderr.read().decode()
        time.sleep(0.002)
    job.send_signal(signal.SIGKILL)
    job.wait()


def test_a_killed_run_with_a_torn_log_resumes_to_the_uninterrupted_numbers(
    tiny_td3_run, tmp_path
):
    """SIGKILL ``train`` right after a seeded random checkpoint, tear the last
    metrics record as a power cut would, resume: every checkpoint array and
    evaluation record equals the uninterrupted run's."""
    steps = checkpoint_steps(resolve(TrainConfig, TINY_TD3))
    killed_at = random.Random(22).choice(steps[:-1])
    out = tmp_path / "killed"
    job = landscape(
        "train", *as_overrides(TINY_TD3), f"out={out}", cwd=tmp_path, wait=False
    )
    kill_at_checkpoint(job, out, killed_at)
    assert ckpt.completed_checkpoints(out)[-1] < steps[-1]  # killed mid-run
    with open(out / ckpt.METRICS, "a") as log:
        log.write('{"step": 300, "kind": "ev')  # torn mid-record
    train(TINY_TD3, out=str(out), resume=True)
    assert_same_run(tiny_td3_run, out, steps)


def with_trained_versions(run_dir, jax_version):
    """Pretend the run was trained under ``jax_version`` (its manifest edited)."""
    path = run_dir / ckpt.MANIFEST
    manifest = json.loads(path.read_text())
    manifest["versions"]["jax"] = jax_version
    path.write_text(json.dumps(manifest))
    return manifest["versions"]


def test_resuming_under_other_jax_versions_is_refused_in_one_line(
    tiny_td3_run, tmp_path
):
    run = copy_stopped_early(tiny_td3_run, tmp_path / "run")
    old = with_trained_versions(run, "0.0.1")
    before = files_and_stamps(run)
    result = landscape_here(
        "train", *as_overrides(TINY_TD3), f"out={run}", "resume=true", cwd=tmp_path
    )
    assert_one_error_line(
        result,
        f"was trained under jax 0.0.1, jaxlib {old['jaxlib']}, this is jax "
        f"{jax.__version__}, jaxlib {jax.lib.__version__}",
        "resuming loses bit-identity with the run's earlier part",
        "pass allow_version_change=true to continue anyway",
    )
    assert files_and_stamps(run) == before


def test_an_allowed_version_change_continues_and_is_recorded(tiny_td3_run, tmp_path):
    run = copy_stopped_early(tiny_td3_run, tmp_path / "run")
    old = with_trained_versions(run, "0.0.1")
    train(TINY_TD3, out=str(run), resume=True, allow_version_change=True)
    # the versions did not really change: the numbers are the unbroken run's
    assert_same_run(tiny_td3_run, run, [100, 200, 300])
    (change,) = ckpt.read_manifest(run)["version_changes"]
    now = {"jax": jax.__version__, "jaxlib": jax.lib.__version__}
    assert (change["step"], change["to"]) == (200, now)
    assert change["from"] == {"jax": "0.0.1", "jaxlib": old["jaxlib"]}
    assert ckpt.trained_versions(ckpt.read_manifest(run)) == now


def test_a_finished_run_resumes_under_other_versions_as_a_no_op(tiny_td3_run, tmp_path):
    run = copy_run(tiny_td3_run, tmp_path / "run")
    with_trained_versions(run, "0.0.1")
    before = snapshot_files(run)
    assert train(TINY_TD3, out=str(run), resume=True) == run
    after = snapshot_files(run)
    del before[run / ckpt.LOCK], after[run / ckpt.LOCK]  # who held it last
    assert after == before  # nothing trained, nothing recorded
