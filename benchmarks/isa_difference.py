"""How many PURD samples AVX2 code and this CPU's own code compute differently.

Computes the paper-size PURD of ``tests/test_invariants.py`` (24 ``td3`` samples,
256x256 TD3 networks, hopper under ``positional``, 100-step episodes) twice, each in
a fresh process: with ``XLA_FLAGS=--xla_cpu_max_isa=AVX2`` (the package's setting)
and with ``--xla_cpu_max_isa=`` (no limit: the CPU's own ISA, AVX-512 where present).
Prints one JSON line: per stored array, how many samples differ and by how much.

Usage:
    python benchmarks/isa_difference.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parent.parent / "tests"
ISAS = {"avx2": "AVX2", "native": ""}


def compute(isa: str, out: Path) -> None:
    """The PURD under one ISA, in a fresh process, saved to ``out``."""
    code = (
        "import sys, numpy as np; import return_landscapes;"
        "return_landscapes.configure_xla();"
        "from test_invariants import paper_size_purd;"
        "np.savez(sys.argv[1], **paper_size_purd(chunk=None))"
    )
    flags = [
        f
        for f in os.environ.get("XLA_FLAGS", "").split()
        if not f.startswith("--xla_cpu_max_isa")
    ]
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": " ".join([*flags, f"--xla_cpu_max_isa={isa}"]),
        "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path]),
    }
    subprocess.run([sys.executable, "-c", code, str(out)], env=env, check=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        paths = {name: Path(folder) / f"{name}.npz" for name in ISAS}
        for name, isa in ISAS.items():
            compute(isa, paths[name])
        avx2, native = np.load(paths["avx2"]), np.load(paths["native"])
        result = {"samples": int(avx2["undiscounted_return"].size)}
        for name in avx2.files:
            gap = np.abs(avx2[name].astype(np.float64) - native[name])
            result[name] = {
                "differ": int((avx2[name] != native[name]).sum()),
                "max_abs_difference": float(gap.max()),
            }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
