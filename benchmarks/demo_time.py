"""Wall time of ``landscape demo`` with its defaults, in a fresh process, as JSON.

Runs the installed ``landscape`` command (the README's main job) into a new temporary
folder, so nothing is reused, and prints the total wall time, the demo's own stage
timings (``timings.json``) and the machine: ``python benchmarks/demo_time.py``.
Extra arguments go to the demo, e.g. ``python benchmarks/demo_time.py seeds=2``;
``--keep DIR`` (first) copies the demo's folder to ``DIR`` afterwards, to read its
``stats.csv`` and report.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(overrides: list[str]) -> None:
    keep = None
    if overrides[:1] == ["--keep"]:
        keep, overrides = Path(overrides[1]).resolve(), overrides[2:]
    command = shutil.which("landscape") or str(
        Path(sys.executable).with_name("landscape")
    )
    with tempfile.TemporaryDirectory() as folder:
        tic = time.perf_counter()
        result = subprocess.run(
            [command, "demo", "out=demo", "progress=false", *overrides],
            cwd=folder,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - tic
        if result.returncode != 0:
            sys.exit(f"demo failed ({result.returncode}):\n{result.stderr}")
        stages = json.loads((Path(folder) / "demo" / "timings.json").read_text())
        report = Path(folder) / "demo" / "report"
        figures = sorted(p.name for p in report.glob("*.png"))
        if keep is not None:
            shutil.copytree(Path(folder) / "demo", keep)
    print(
        json.dumps(
            {
                "wall_seconds": round(wall, 1),
                "stage_seconds": {k: round(v, 1) for k, v in stages.items()},
                "figures": figures,
                "overrides": overrides,
                "cpus": os.cpu_count(),
                "machine": platform.processor() or platform.machine(),
                "jax_platforms": os.environ.get("JAX_PLATFORMS", ""),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
