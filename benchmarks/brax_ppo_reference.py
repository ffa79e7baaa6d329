"""Reference: env-steps/s of ``brax.training.agents.ppo`` at our PPO settings.

2048 envs x 16 steps per iteration (brax: ``batch_size=1024``, ``num_minibatches=2``),
4 epochs, tanh 64x64 policy and value networks, observation normalization, spring
backend: what ``train_throughput.py --algos ppo --seeds 1`` measures for our PPO. The
figure is brax's own ``training/sps`` for each training epoch; the first two epochs
run at a fraction of the later ones' rate (compiles), so the median of the epochs after
them is reported.

brax 0.14.2's trainer needs JAX <= 0.9 (it calls ``jax.device_put_replicated``), so run
this in its own virtual environment:

    python3.11 -m venv /tmp/braxref
    /tmp/braxref/bin/pip install "jax[cpu]==0.9.2" "jaxlib==0.9.2" "brax==0.14.2"
    /tmp/braxref/bin/python benchmarks/brax_ppo_reference.py --env hopper

It imports nothing from return_landscapes.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics

import flax.linen as nn
import jax
from brax import envs
from brax.training.agents.ppo import networks as ppo_networks
from brax.training.agents.ppo import train as ppo

ITERATION_STEPS = 2048 * 16


def measure(env_name: str, iterations_per_epoch: int, epochs: int) -> dict:
    env = envs.get_environment(env_name, backend="spring")
    rates = []

    def progress(step, metrics):
        if "training/sps" in metrics:
            rates.append(float(metrics["training/sps"]))

    ppo.train(
        environment=env,
        num_timesteps=ITERATION_STEPS * iterations_per_epoch * epochs,
        episode_length=1000,
        num_envs=2048,
        batch_size=1024,
        num_minibatches=2,
        unroll_length=16,
        num_updates_per_batch=4,
        learning_rate=2.6e-3,
        entropy_cost=0.0,
        discounting=0.99,
        gae_lambda=0.95,
        clipping_epsilon=0.2,
        max_grad_norm=1.0,
        vf_loss_coefficient=2.0,
        normalize_observations=True,
        num_evals=epochs + 1,
        num_eval_envs=1,
        network_factory=functools.partial(
            ppo_networks.make_ppo_networks,
            policy_hidden_layer_sizes=(64, 64),
            value_hidden_layer_sizes=(64, 64),
            activation=nn.tanh,
        ),
        progress_fn=progress,
    )
    return {
        "env": env_name,
        "reference": "brax.training.agents.ppo",
        "jax": jax.__version__,
        "sps_by_epoch": rates,
        "median_env_steps_per_s": statistics.median(rates[2:] or rates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", nargs="+", default=["hopper", "halfcheetah"])
    parser.add_argument("--iterations-per-epoch", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    results = [measure(e, args.iterations_per_epoch, args.epochs) for e in args.env]
    print(json.dumps({"device": str(jax.devices()[0]), "cases": results}, indent=2))


if __name__ == "__main__":
    main()
