"""Optional Weights & Biases mirror of training metrics and landscape results.

Off by default (``wandb=false``); local files stay the record. With ``wandb=true``
(``wandb_project``, ``wandb_entity``) a training run mirrors its metric means, and
``purd``, ``interpolate`` and ``reject`` log one summary row per stored result (the
run directory's name is the wandb group). wandb's own settings apply, so
``WANDB_MODE=offline`` keeps everything on disk (``<run>/wandb``, or
``<run>/landscape/wandb`` for landscape commands) for a later ``wandb sync``.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from pathlib import Path

import numpy as np

from return_landscapes.errors import LandscapeError

_ACTIVE: ContextVar = ContextVar("wandb_run", default=None)


def require_wandb(cfg) -> None:
    """Fail in one line, before any work, if ``wandb=true`` and wandb is missing."""
    if not cfg.wandb:
        return
    try:
        import wandb  # noqa: F401
    except ImportError:
        raise LandscapeError(
            "wandb=true needs the wandb package: pip install 'return-landscapes[wandb]'"
            ", or leave wandb off"
        ) from None


def start_wandb(cfg, name: str, group: str, job_type: str, config: dict, directory):
    """A wandb run for ``cfg`` (any config with ``wandb*`` keys), or ``None`` if off;
    its files go to ``directory``."""
    if not cfg.wandb:
        return None
    require_wandb(cfg)
    import wandb

    directory.mkdir(parents=True, exist_ok=True)
    return wandb.init(
        project=cfg.wandb_project,
        entity=cfg.wandb_entity,
        name=name,
        group=group,
        job_type=job_type,
        config=config,
        dir=str(directory),
        reinit="finish_previous",
    )


@contextlib.contextmanager
def tracking(cfg, run_dir: Path, job_type: str, config: dict):
    """While active, ``log_result`` mirrors each stored landscape result to wandb."""
    name = Path(run_dir).name
    run = start_wandb(
        cfg, f"{name}-{job_type}", name, job_type, config, Path(run_dir) / "landscape"
    )
    token = _ACTIVE.set(run)
    try:
        yield run
    finally:
        _ACTIVE.reset(token)
        if run is not None:
            run.finish()


def log_result(arrays: dict, attrs: dict) -> None:
    """Log a summary of one stored result to the active wandb run, if any."""
    run = _ACTIVE.get()
    if run is not None:
        run.log(result_summary(arrays, attrs))


def result_summary(arrays: dict, attrs: dict) -> dict:
    """A flat row describing one result: its identity and headline numbers."""
    from return_landscapes.landscape.stats import purd_statistics

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
