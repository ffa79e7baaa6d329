"""Metrics to a local JSONL file, and optionally to Weights & Biases.

The JSONL file is the record; wandb only mirrors per-step means of it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from return_landscapes.conf import WandbConfig
from return_landscapes.errors import LandscapeError


def _jsonable(value):
    """Numbers and arrays as plain JSON; NaN becomes null."""
    if isinstance(value, np.ndarray | np.generic):
        value = value.tolist()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def truncate_after(path: Path, step: int) -> None:
    """Drop records past ``step`` (left by a run that crashed after its checkpoint)."""
    if not path.is_file():
        return
    kept = [
        line
        for line in path.read_text().splitlines()
        if line.strip() and json.loads(line)["step"] <= step
    ]
    path.write_text("".join(f"{line}\n" for line in kept))


class MetricsLog:
    """Appends one JSON object per line; mirrors means to wandb when enabled."""

    def __init__(self, path: Path, wandb: WandbConfig, run_name: str, config: dict):
        self.path = path
        self.file = open(path, "a")  # noqa: SIM115 - closed in close()
        self.wandb_run = _start_wandb(wandb, run_name, config, path.parent)

    def write(self, record: dict) -> None:
        record = {name: _jsonable(value) for name, value in record.items()}
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.wandb_run is not None:
            self.wandb_run.log(_means(record), step=record["step"])

    def close(self) -> None:
        self.file.close()
        if self.wandb_run is not None:
            self.wandb_run.finish()


def _means(record: dict) -> dict:
    kind = record.get("kind", "metrics")
    means = {}
    for name, value in record.items():
        if name in ("step", "kind"):
            continue
        values = [v for v in np.ravel(value) if v is not None]
        if values:
            means[f"{kind}/{name}"] = float(np.mean(values))
    return means


def _start_wandb(cfg: WandbConfig, run_name: str, config: dict, run_dir: Path):
    if not cfg.enabled:
        return None
    try:
        import wandb
    except ImportError:
        raise LandscapeError(
            "wandb.enabled=true needs the wandb package: pip install wandb, or leave "
            "wandb off"
        ) from None
    return wandb.init(
        project=cfg.project,
        entity=cfg.entity,
        mode=cfg.mode,
        name=run_name,
        config=config,
        dir=str(run_dir),
        resume="allow",
    )
