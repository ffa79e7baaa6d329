"""Brax physics env-steps/s with and without XLA's YNNPACK fusions on the CPU.

Each setting runs in a fresh process (XLA reads ``XLA_FLAGS`` once): 2048 hopper envs
(spring) step 16 times with random actions in one jitted scan; median of 5 calls after
compiling. The ``landscape`` command and ``configure_xla()`` turn the fusions off
(``_xla.py``).

Usage:
    python benchmarks/xla_cpu_flags.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROLLOUT = """
import statistics, time, jax
from brax import envs
env = envs.get_environment("{env}", backend="spring")
n, t = {envs}, 16
states = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), n))
def rollout(states, key):
    def step(s, k):
        a = jax.random.uniform(k, (n, env.action_size), minval=-1, maxval=1)
        s = jax.vmap(env.step)(s, a)
        return s, s.reward
    return jax.lax.scan(step, states, jax.random.split(key, t))
run = jax.jit(rollout).lower(states, jax.random.PRNGKey(0)).compile()
seconds = []
for i in range(5):
    tic = time.perf_counter()
    jax.block_until_ready(run(states, jax.random.PRNGKey(i)))
    seconds.append(time.perf_counter() - tic)
print(n * t / statistics.median(seconds))
"""

SETTINGS = {
    "xla_default": "",
    "ynn_fusions_off": "--xla_cpu_experimental_ynn_fusion_type=",
}


def rate(env: str, envs: int, flags: str) -> float:
    environ = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", ROLLOUT.format(env=env, envs=envs)],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import jax

    for env in ("hopper", "halfcheetah"):
        rates = {name: rate(env, 2048, flags) for name, flags in SETTINGS.items()}
        print(
            json.dumps(
                {
                    "env": env,
                    "envs": 2048,
                    "jax": jax.__version__,
                    "env_steps_per_s": {k: round(v) for k, v in rates.items()},
                    "off_over_default": round(
                        rates["ynn_fusions_off"] / rates["xla_default"], 2
                    ),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
