"""The cost of the package's XLA flags on the CPU: physics and dense updates.

Each setting runs in a fresh process (XLA reads ``XLA_FLAGS`` once); median of 5
calls after compiling:

* ``physics``: 2048 envs (spring) step 16 times with random actions in one jitted
  scan (env-steps/s), for hopper and halfcheetah;
* ``update``: 64 independent gradient steps of a 256x256 MLP on 256-row batches,
  vmapped over the 64 parameter sets (what a ``td3`` PURD chunk computes; steps/s).

Settings: XLA's defaults, the YNNPACK fusions off
(``--xla_cpu_experimental_ynn_fusion_type=``), and the fusions off with AVX2 code
only (``--xla_cpu_max_isa=AVX2``), which is what the ``landscape`` command and
``configure_xla()`` apply (``_xla.py``). On an AVX2 CPU the last two are the same
code; on an AVX-512 CPU the ratio shows what AVX2 code costs.

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

UPDATE = """
import statistics, time, jax, jax.numpy as jnp
sets, rows, width = 64, 256, 256
key = jax.random.PRNGKey(0)
def init(k):
    k1, k2, k3 = jax.random.split(k, 3)
    return [jax.random.normal(k1, (17, width)) / 4,
            jax.random.normal(k2, (width, width)) / 16,
            jax.random.normal(k3, (width, 6)) / 16]
params = jax.vmap(init)(jax.random.split(key, sets))
x = jax.random.normal(key, (sets, rows, 17))
def loss(p, x):
    h = jnp.tanh(x @ p[0]); h = jnp.tanh(h @ p[1])
    return jnp.mean((h @ p[2]) ** 2)
step = jax.jit(jax.vmap(lambda p, x: jax.tree.map(
    lambda a, g: a - 1e-3 * g, p, jax.grad(loss)(p, x))))
jax.block_until_ready(step(params, x))
seconds = []
for i in range(5):
    tic = time.perf_counter()
    jax.block_until_ready(step(params, x + i))
    seconds.append(time.perf_counter() - tic)
print(sets / statistics.median(seconds))
"""

SETTINGS = {
    "xla_default": "",
    "ynn_fusions_off": "--xla_cpu_experimental_ynn_fusion_type=",
    "package_flags": "--xla_cpu_experimental_ynn_fusion_type= --xla_cpu_max_isa=AVX2",
}


def rate(code: str, flags: str) -> float:
    environ = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import platform

    import jax

    cases = {
        f"physics_{env}": ROLLOUT.format(env=env, envs=2048)
        for env in ("hopper", "halfcheetah")
    }
    cases["update_256x256"] = UPDATE
    for case, code in cases.items():
        rates = {name: rate(code, flags) for name, flags in SETTINGS.items()}
        print(
            json.dumps(
                {
                    "case": case,
                    "jax": jax.__version__,
                    "cpu": platform.processor() or platform.machine(),
                    "per_s": {k: round(v) for k, v in rates.items()},
                    "ynn_off_over_default": round(
                        rates["ynn_fusions_off"] / rates["xla_default"], 2
                    ),
                    "avx2_over_native": round(
                        rates["package_flags"] / rates["ynn_fusions_off"], 2
                    ),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
