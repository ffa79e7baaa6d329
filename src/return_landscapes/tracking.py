"""Optional Weights & Biases mirror of training metrics and landscape results.

Off by default (``wandb=false``); local files stay the record. With ``wandb=true``
(``wandb_project``, ``wandb_entity``) a training run mirrors its metric means, and
``purd``, ``interpolate`` and ``reject`` log one summary row per stored result (the
run directory's name is the wandb group). wandb's own settings apply, so
``WANDB_MODE=offline`` keeps everything on disk (``<run>/wandb``, or
``<run>/landscape/wandb`` for landscape commands) for a later ``wandb sync``.

A training run keeps its wandb run id in ``<run>/wandb_run_id``; ``resume=true``
continues that wandb run. ``reject`` logs the PURD mean, LTP and CVaR at every check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path

from return_landscapes.errors import LandscapeError
from return_landscapes.provenance import atomic_write_text

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


RUN_ID_FILE = "wandb_run_id"
"""The file in a run directory that holds its training's wandb run id."""


def start_wandb(
    cfg,
    name: str,
    group: str,
    job_type: str,
    config: dict,
    directory: Path,
    resume_from: Path | None = None,
):
    """A wandb run for ``cfg`` (any config with ``wandb*`` keys), or ``None`` if off;
    its files go to ``directory``.

    With ``resume_from`` (a file, ``RUN_ID_FILE`` of a run directory), the wandb run
    whose id it holds is continued (``resume="allow"``); a new run's id is written
    there, so that a resumed training run continues its wandb run.
    """
    if not cfg.wandb:
        return None
    require_wandb(cfg)
    import wandb

    directory.mkdir(parents=True, exist_ok=True)
    stored = _stored_run_id(resume_from)
    resume = {"id": stored, "resume": "allow"} if stored else {}
    run = wandb.init(
        project=cfg.wandb_project,
        entity=cfg.wandb_entity,
        name=name,
        group=group,
        job_type=job_type,
        config=config,
        dir=str(directory),
        reinit="finish_previous",
        **resume,
    )
    if resume_from is not None and not stored and getattr(run, "id", None):
        atomic_write_text(resume_from, f"{run.id}\n")
    return run


def _stored_run_id(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    return path.read_text().strip() or None


@contextlib.contextmanager
def tracking(cfg, run_dir: Path, job_type: str, config: dict):
    """While active, ``log_row`` mirrors rows (one per stored landscape result, from
    ``landscape.summary.log_result``) to wandb."""
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


def log_row(make_row: Callable[[], dict]) -> None:
    """Log ``make_row()`` to the active wandb run, if any (the row is built only
    then)."""
    run = _ACTIVE.get()
    if run is not None:
        run.log(make_row())
