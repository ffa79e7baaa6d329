"""One summary row per stored landscape result, for the optional wandb mirror."""

from __future__ import annotations

import numpy as np

from return_landscapes.landscape.stats import purd_statistics
from return_landscapes.tracking import log_row


def log_result(arrays: dict, attrs: dict) -> None:
    """Log a summary of one stored result to the active wandb run, if any."""
    log_row(lambda: result_summary(arrays, attrs))


def result_summary(arrays: dict, attrs: dict) -> dict:
    """A flat row describing one result: its identity and headline numbers."""
    kind = attrs["kind"]
    keys = {
        "purd": ("perturbation", "scale", "checkpoint", "seed"),
        "interpolation": ("pair_kind", "perturbation", "scale", "seed1",
                          "checkpoint1", "seed2", "checkpoint2"),
        "rejection": ("criterion", "alpha", "checkpoint", "seed", "repeat"),
        "surface": ("plane", "perturbation", "scale", "anchors", "grid", "row"),
    }[kind]  # fmt: skip
    row = {f"{kind}/{key}": attrs[key] for key in keys}
    if kind == "purd":
        stats = purd_statistics(np.asarray(arrays["undiscounted_return"])[0])
        row |= {f"purd/{name}": value for name, value in stats.items()}
        row["purd/unperturbed_return"] = float(arrays["unperturbed_return"][0])
    elif kind == "surface":
        plain = np.asarray(arrays["plain_return"])
        row |= {"surface/plain_min": float(plain.min()),
                "surface/plain_max": float(plain.max())}  # fmt: skip
        if np.shape(arrays["undiscounted_return"])[0] > 0:
            means = np.asarray(arrays["undiscounted_return"]).mean(axis=0)
            row["surface/purd_mean_min"] = float(means.min())
    elif kind == "interpolation":
        plain = np.asarray(arrays["plain_return"])  # alpha from 0 (second) to 1
        row |= {
            "interpolation/plain_min": float(plain.min()),
            "interpolation/plain_at_first": float(plain[-1]),
            "interpolation/plain_at_second": float(plain[0]),
        }
        if np.shape(arrays["undiscounted_return"])[0] > 0:
            means = np.asarray(arrays["undiscounted_return"]).mean(axis=0)
            row["interpolation/purd_mean_min"] = float(means.min())
    else:
        last = int(np.flatnonzero(arrays["accepted"])[-1])
        row["rejection/kept_checks"] = int(np.sum(arrays["accepted"][1:]))
        for name in ("mean", "ltp", "cvar"):
            row[f"rejection/{name}_start"] = float(arrays[name][0])
            row[f"rejection/{name}_end"] = float(arrays[name][last])
    return row
