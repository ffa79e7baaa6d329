"""Reference: env-steps/s of ``brax.training.agents.sac`` at our matched settings.

One env, batch 256, one gradient step per env step, 256x256 MLPs, spring backend, the
same as ``train_throughput.py`` measures for our SAC. The figure is brax's own
``training/sps`` metric for each training epoch after the first (which compiles);
the median is reported.

brax 0.14.2's trainer calls ``jax.device_put_replicated``, which JAX 0.10 removed, so
run this in its own virtual environment with JAX 0.9.2:

    python3.11 -m venv /tmp/braxref
    /tmp/braxref/bin/pip install "jax[cpu]==0.9.2" "jaxlib==0.9.2" "brax==0.14.2"
    /tmp/braxref/bin/python benchmarks/brax_sac_reference.py --env hopper

It imports nothing from return_landscapes.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics

import jax
from brax import envs
from brax.training.agents.sac import networks as sac_networks
from brax.training.agents.sac import train as sac


def measure(env_name: str, epoch_steps: int, epochs: int) -> dict:
    env = envs.get_environment(env_name, backend="spring")
    rates = []

    def progress(step, metrics):
        if "training/sps" in metrics:
            rates.append(float(metrics["training/sps"]))

    sac.train(
        environment=env,
        num_timesteps=epoch_steps * epochs,
        episode_length=1000,
        num_envs=1,
        num_eval_envs=1,
        batch_size=256,
        grad_updates_per_step=1,
        min_replay_size=1000,
        max_replay_size=1_000_000,
        num_evals=epochs + 1,
        learning_rate=3e-4,
        discounting=0.99,
        network_factory=functools.partial(
            sac_networks.make_sac_networks, hidden_layer_sizes=(256, 256)
        ),
        progress_fn=progress,
    )
    return {
        "env": env_name,
        "reference": "brax.training.agents.sac",
        "jax": jax.__version__,
        "sps_by_epoch": rates,
        "median_env_steps_per_s": statistics.median(rates[1:] or rates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", nargs="+", default=["hopper", "halfcheetah"])
    parser.add_argument("--epoch-steps", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    results = [measure(e, args.epoch_steps, args.epochs) for e in args.env]
    print(json.dumps({"device": str(jax.devices()[0]), "cases": results}, indent=2))


if __name__ == "__main__":
    main()
