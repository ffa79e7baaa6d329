"""Metrics to a local JSONL file, and optionally to Weights & Biases.

The JSONL file is the record; wandb only mirrors per-step means of it.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import numpy as np

from return_landscapes.errors import LandscapeError
from return_landscapes.provenance import atomic_write_text
from return_landscapes.tracking import RUN_ID_FILE, start_wandb

logger = logging.getLogger(__name__)


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
    """Drop records past ``step`` (left by a run that crashed after its checkpoint).

    A torn last line (what a full disk or a power cut leaves) belongs to work after
    the last checkpoint and is dropped with a note; a damaged line before it is an
    error. The file is rewritten in place, never through a symbolic link.
    """
    kept = records_up_to(path, step)
    if kept is not None:
        atomic_write_text(path, "".join(f"{line}\n" for line in kept))


def records_up_to(path: Path, step: int, note: bool = True) -> list[str] | None:
    """The log's lines up to ``step`` (``None``: no log), checked as
    ``truncate_after`` checks them (``note``: log a dropped torn last record);
    nothing is written."""
    if path.is_symlink():
        raise LandscapeError(
            f"{path} is a symbolic link: a run's log is rewritten only in its own "
            "folder; replace the link with the file it points to"
        )
    if not path.is_file():
        return None
    # bytes that are not UTF-8 leave their line no JSON: damage like any other (a
    # torn last record is dropped, an earlier one is an error naming its line)
    text = path.read_bytes().decode("utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    kept = []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                if not note:
                    continue
                logger.warning(
                    "%s: dropped a torn last record (%d bytes)", path, len(line)
                )
                continue
            raise LandscapeError(
                f"{path} line {number} is not JSON: the log is damaged before its "
                "end; delete that line to resume"
            ) from None
        if record["step"] <= step:
            kept.append(line)
    return kept


class MetricsLog:
    """Appends one JSON object per line; mirrors means to wandb when enabled."""

    def __init__(self, path: Path, cfg, config: dict):
        """``cfg``: the training config (its ``wandb*`` keys); ``config`` as logged."""
        self.path = path
        try:  # O_NOFOLLOW: never append through a symbolic link
            fd = os.open(
                path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666
            )
        except OSError as err:
            raise LandscapeError(
                f"cannot append to {path} ({err.strerror}): it must be a plain file in "
                "the run's folder"
            ) from None
        self.file = os.fdopen(fd, "a")
        name = path.parent.name
        self.wandb_run = start_wandb(
            cfg, name, name, "train", config, path.parent, path.parent / RUN_ID_FILE
        )

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
