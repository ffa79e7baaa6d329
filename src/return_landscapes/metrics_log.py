"""Metrics to a local JSONL file, and optionally to Weights & Biases.

The JSONL file is the record; wandb only mirrors per-step means of it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from return_landscapes.tracking import start_wandb


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

    def __init__(self, path: Path, cfg, config: dict):
        """``cfg``: the training config (its ``wandb*`` keys); ``config`` as logged."""
        self.path = path
        self.file = open(path, "a")  # noqa: SIM115 - closed in close()
        name = path.parent.name
        self.wandb_run = start_wandb(cfg, name, name, "train", config, path.parent)

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
