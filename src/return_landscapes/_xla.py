"""XLA settings applied when the package is imported, before JAX starts its backend.

On the CPU, XLA 0.10's YNNPACK fusions make Brax physics 2 to 2.4 times slower than
XLA's own code (2048 spring envs on a 2-core machine: hopper 74k vs 181k env-steps/s,
halfcheetah 11k vs 22k; ``benchmarks/xla_cpu_flags.py`` measures it). The flag
``--xla_cpu_experimental_ynn_fusion_type=`` turns them off. A value already in
``XLA_FLAGS`` is left alone, and the flag only reaches XLA if this package is imported
before JAX first compiles anything.
"""

from __future__ import annotations

import os

YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type"


def configure() -> None:
    """Add the package's XLA flags to ``XLA_FLAGS`` unless the user set them."""
    flags = os.environ.get("XLA_FLAGS", "")
    if YNN_FLAG not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {YNN_FLAG}=".strip()
