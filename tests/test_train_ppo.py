"""PPO runs: schedule in whole iterations, exact checkpoints, resume, determinism."""

import numpy as np
import pytest

from helpers import TINY_PPO
from return_landscapes import rundir as ckpt
from return_landscapes import train
from return_landscapes.conf import TrainConfig, resolve
from return_landscapes.rundir import load_run_config
from return_landscapes.training.schedule import checkpoint_steps, plan_blocks
from return_landscapes.training.state import host, init_state, restore_state
from return_landscapes.training.trainers import get_trainer
from test_train import assert_trees_equal, eval_records, saved_state


@pytest.mark.unit
def test_schedule_rounds_to_whole_iterations():
    cfg = resolve(TrainConfig, TINY_PPO, steps=700, checkpoints=[100, 300])
    assert checkpoint_steps(cfg) == [128, 384, 768]
    assert all(b.length % 128 == 0 and b.learning for b in plan_blocks(cfg))
    paper = resolve(TrainConfig, algo="ppo", steps=60_000_000)
    assert checkpoint_steps(paper)[-1] % (2048 * 16) == 0


def test_ppo_run_layout_has_no_replay(tiny_ppo_run):
    manifest = ckpt.read_manifest(tiny_ppo_run)
    assert manifest["algo"] == "ppo"
    assert ckpt.completed_checkpoints(tiny_ppo_run) == [256, 512, 768]
    assert not (tiny_ppo_run / "replay").exists()
    assert [r["step"] for r in eval_records(tiny_ppo_run)] == [0, 256, 512, 768]


def test_checkpoints_restore_every_leaf(tiny_ppo_run):
    cfg = load_run_config(tiny_ppo_run)
    trainer = get_trainer(cfg)
    state = init_state(trainer, cfg)
    snapshots = {}
    for block in plan_blocks(cfg):
        state, _ = trainer.run_block(state, block)
        end = block.start + block.length
        if end in (256, 512, 768):
            snapshots[end] = host(state)
    for step, expected in snapshots.items():
        assert_trees_equal(restore_state(trainer, cfg, tiny_ppo_run, step), expected)
    # The checkpoint holds the parallel envs' states and the first states they return
    # to; observations are not normalized by default, so the normalizer stays unused.
    assert snapshots[256].env.state.obs.shape == (2, 16, 11)
    assert snapshots[256].env.first_state.obs.shape == (2, 16, 11)
    assert not cfg.ppo.normalize_observations
    assert float(snapshots[768].agent.normalizer.count[0]) == 0


def test_resume_equals_no_crash_and_same_seed_is_bit_identical(tiny_ppo_run, tmp_path):
    out = tmp_path / "resumed"
    train(TINY_PPO, out=str(out), stop_at=256)
    train(TINY_PPO, out=str(out), resume=True)
    for step in (256, 512, 768):
        expected, got = saved_state(tiny_ppo_run, step), saved_state(out, step)
        assert expected.files == got.files
        for name in expected.files:
            assert np.array_equal(expected[name], got[name]), (step, name)
    assert eval_records(tiny_ppo_run) == eval_records(out)


@pytest.mark.unit
def test_num_checkpoints_spaces_them_evenly():
    cfg = resolve(TrainConfig, steps=1000, num_checkpoints=4)
    assert checkpoint_steps(cfg) == [250, 500, 750, 1000]
    ppo = resolve(TrainConfig, TINY_PPO, checkpoints=None, num_checkpoints=3)
    assert checkpoint_steps(ppo) == [256, 512, 768]
