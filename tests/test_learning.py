"""TD3, SAC and PPO learn: the trained deterministic return beats the untrained one.

Task: ``PointReach`` (tests/toy_env.py), 50-step episodes. Untrained policies drift
away from the goal (returns around -30 to -150); a policy that reaches the goal and
stops earns about -5. The margin asserted, half the untrained shortfall recovered and
a mean return above -20, fails for a policy that has not learned to steer to the goal.
"""

import jax.numpy as jnp
import pytest

from return_landscapes.conf import TrainConfig, resolve
from return_landscapes.training.schedule import evaluation_keys, plan_blocks
from return_landscapes.training.state import init_state
from return_landscapes.training.trainers import make_trainer
from toy_env import PointReach

OFF_POLICY = {
    "hidden_sizes": [64, 64],
    "batch_size": 64,
    "random_start_steps": 500,
    "replay_capacity": 4000,
}
# PPO: 64 envs x 16 steps per iteration, 49 iterations (50,176 env steps).
PPO = {"num_envs": 64, "unroll_length": 16, "learning_rate": 3e-3}


@pytest.mark.parametrize("algo, steps", [("td3", 4000), ("sac", 4000), ("ppo", 50000)])
def test_agent_learns_point_reach(algo, steps):
    cfg = resolve(
        TrainConfig,
        env="point_reach",
        algo=algo,
        seeds=2,
        steps=steps,
        horizon=50,
        eval_episodes=8,
        eval_interval=steps,
        checkpoints=[steps],
        block=steps,
        **{algo: PPO if algo == "ppo" else OFF_POLICY},
    )
    trainer = make_trainer(cfg, env=PointReach())
    state = init_state(trainer, cfg)
    keys = evaluation_keys(cfg, 0)
    before = trainer.evaluate(state, keys).undiscounted_return.mean(axis=1)
    for block in plan_blocks(cfg):
        state, _ = trainer.run_block(state, block)
    after = trainer.evaluate(state, keys).undiscounted_return.mean(axis=1)
    print(f"{algo}: untrained {before}, trained {after}")
    assert jnp.all(after > before + 0.5 * jnp.abs(before))
    assert jnp.all(after > -20.0)
