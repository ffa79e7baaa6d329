"""The run directory: manifest, config, checkpoints and replay rows, written atomically.

Also where a run's saved training config is read back (``load_run_config``).

Layout of a run directory::

    manifest.json                  format version, provenance (versions, commit,
                                   devices, command), env, algo, seeds, schedule,
                                   version changes of resumed parts
    wandb_run_id                   the wandb run that resume=true continues
    config.yaml                    the resolved training config
    metrics.jsonl                  one JSON record per evaluation / training block
    checkpoints/step_000050000.npz full training state of every seed, except replay rows
    replay/rows_000000000_000050000.npz  replay rows written in [start, end)

A checkpoint at step ``t`` plus the replay row files that tile ``[0, t)`` restore the
training state exactly, replay buffer included: transition ``s`` sits at row
``s % capacity``. Every file is written to a temporary name and renamed into place, so
a crash never leaves a half-written file under a final name.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from pathlib import Path

import numpy as np

from return_landscapes._xla import effective_xla_flags
from return_landscapes.conf import TrainConfig, resolve
from return_landscapes.errors import LandscapeError
from return_landscapes.provenance import (
    atomic_write,
    atomic_write_text,
    matching_files,
    run_provenance,
)

RUN_FORMAT = "return-landscapes/run"
RUN_FORMAT_VERSION = 1
MANIFEST = "manifest.json"
LOCK = ".train.lock"  # held by the one `landscape train` writing the run
CONFIG = "config.yaml"
METRICS = "metrics.jsonl"


# ----------------------------------------------------------------------------- manifest


def write_manifest(run_dir: Path, fields: dict) -> None:
    """Write ``manifest.json``: the format tag, the provenance (versions, source
    commit and whether the tree was dirty, devices, command line; see
    ``provenance.run_provenance``), the XLA flags and ``fields``.

    Manifests written before ``git_dirty``, ``git_commit_source``, ``devices`` and
    ``command`` existed lack them and read the same (format version 1 either way).
    """
    manifest = {
        "format": RUN_FORMAT,
        "format_version": RUN_FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.UTC).isoformat(),
        **run_provenance(),
        "xla_flags": effective_xla_flags(),
        **fields,
    }
    atomic_write_text(run_dir / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def read_manifest(run_dir: Path) -> dict:
    """Read and check a run's manifest; one-line errors for anything unusable."""
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        raise LandscapeError(
            f"{run_dir} is not a run directory (no {MANIFEST}): pass the out= "
            "directory of a 'landscape train' run"
        )
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise LandscapeError(
            f"{path} is corrupt ({err}): restore it from a copy"
        ) from None
    if manifest.get("format") != RUN_FORMAT:
        raise LandscapeError(f"{path} is not a return-landscapes run manifest")
    version = manifest.get("format_version")
    if version != RUN_FORMAT_VERSION:
        raise LandscapeError(
            f"{path} has run format version {version}, this return-landscapes reads "
            f"version {RUN_FORMAT_VERSION}: install the version that wrote it"
        )
    return manifest


BIT_IDENTITY_PACKAGES = ("jax", "jaxlib")
"""Packages whose version change breaks bit-identity with a run's earlier part."""


def trained_versions(manifest: dict) -> dict[str, str | None]:
    """The ``BIT_IDENTITY_PACKAGES`` versions the run's latest part was trained
    under: those of its newest recorded version change, else its creation's."""
    changes = manifest.get("version_changes") or []
    versions = changes[-1]["to"] if changes else manifest.get("versions", {})
    return {name: versions.get(name) for name in BIT_IDENTITY_PACKAGES}


def record_version_change(
    run_dir: Path, step: int, before: dict, after: dict, command: list[str]
) -> None:
    """Append to the manifest's ``version_changes``: from ``step`` on, the run was
    trained under ``after`` (``{package: version}``) instead of ``before``."""
    manifest = read_manifest(run_dir)
    manifest.setdefault("version_changes", []).append(
        {
            "step": step,
            "from": before,
            "to": after,
            "time": datetime.datetime.now(datetime.UTC).isoformat(),
            "command": command,
        }
    )
    atomic_write_text(run_dir / MANIFEST, json.dumps(manifest, indent=2) + "\n")


# --------------------------------------------------------------------------- pytrees


def _flatten(tree) -> dict[str, np.ndarray]:
    import jax  # only for pytrees: the rest reads without JAX

    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def _unflatten(template, arrays: dict[str, np.ndarray], source: Path):
    import jax  # only for pytrees: the rest reads without JAX

    paths, treedef = jax.tree_util.tree_flatten_with_path(template)
    leaves = []
    for path, leaf in paths:
        name = jax.tree_util.keystr(path)
        if name not in arrays:
            raise LandscapeError(
                f"{source} lacks {name}: it was written by another config or version"
            )
        array = arrays[name]
        if array.shape != leaf.shape or array.dtype != leaf.dtype:
            raise LandscapeError(
                f"{source} holds {name} as {array.dtype}{list(array.shape)}, expected "
                f"{leaf.dtype}{list(leaf.shape)}: it belongs to another config"
            )
        leaves.append(array)
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise LandscapeError(f"{path} is missing") from None
    except ValueError as err:
        pickled = _pickled(err)
        if pickled:  # never unpickled: unpickling a file may run any code in it
            raise LandscapeError(
                f"{path} holds {pickled}, which checkpoints and replay rows never "
                "hold: this tool did not write it, and it is not unpickled; delete "
                "it and re-run with resume=true from an earlier checkpoint"
            ) from None
        raise _damaged(path, err) from None
    except Exception as err:  # zipfile / numpy raise many types for damaged files
        raise _damaged(path, err) from None


def _pickled(err: ValueError) -> str | None:
    """What pickled content numpy refused to load (``allow_pickle=False``), as the
    error names it; ``None`` for another ``ValueError``."""
    if "allow_pickle" not in str(err):
        return None
    if str(err).startswith("Object arrays"):
        return "an object (pickled) array"
    return "pickled data"


def _damaged(path: Path, err: Exception) -> LandscapeError:
    return LandscapeError(
        f"{path} is corrupt or truncated ({type(err).__name__}): delete it and "
        "re-run with resume=true from an earlier checkpoint"
    )


# ------------------------------------------------------------------------ checkpoints


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step_{step:09d}.npz"


def replay_rows_path(run_dir: Path, start: int, end: int) -> Path:
    return Path(run_dir) / "replay" / f"rows_{start:09d}_{end:09d}.npz"


def completed_checkpoints(run_dir: Path) -> list[int]:
    """Steps of the checkpoints fully written to ``run_dir``, ascending."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = matching_files(folder, "step_*.npz", r"step_(\d{9})\.npz")
    return sorted(int(match.group(1)) for match in found)


def save_checkpoint(run_dir: Path, step: int, state, replay_rows, rows_start: int):
    """Save the replay rows of ``[rows_start, step)`` and then the state at ``step``.

    Args:
      run_dir: the run directory.
      step: env steps done by every seed.
      state: the training state (leading axis: seeds) without replay rows.
      replay_rows: a pytree of arrays ``(num_seeds, step - rows_start, ...)``, or
        ``None`` for agents without a replay buffer.
      rows_start: the step of the previous checkpoint (0 for the first).
    """
    if replay_rows is not None:
        _save_npz(replay_rows_path(run_dir, rows_start, step), _flatten(replay_rows))
    # The state file lands last: its presence marks a complete checkpoint.
    _save_npz(checkpoint_path(run_dir, step), _flatten(state))


def load_checkpoint(run_dir: Path, step: int, template):
    """Load the state saved at ``step`` into the structure of ``template``."""
    path = checkpoint_path(run_dir, step)
    if not path.is_file():
        have = ", ".join(map(str, completed_checkpoints(run_dir))) or "none"
        raise LandscapeError(
            f"{run_dir} has no checkpoint at step {step} (it has: {have}): pick one "
            "of those"
        )
    return _unflatten(template, _load_npz(path), path)


def load_checkpoint_arrays(run_dir: Path, step: int) -> dict[str, np.ndarray]:
    """The arrays of the checkpoint at ``step`` as stored (leading axis: seeds)."""
    return _load_npz(checkpoint_path(run_dir, step))


def replay_rows_paths(run_dir: Path, step: int) -> list[Path]:
    """The replay row files that rebuild the buffer as of checkpoint ``step``."""
    ends = [s for s in completed_checkpoints(run_dir) if s <= step]
    starts = [0, *ends[:-1]]
    return [replay_rows_path(run_dir, a, b) for a, b in zip(starts, ends, strict=True)]


def check_replay_rows_exist(run_dir: Path, step: int) -> None:
    """Refuse, in one line, a run that lacks a replay row file of the buffer at
    checkpoint ``step``: resuming from it and the landscape commands that perturb
    with the run's own update rebuild that buffer."""
    for path in replay_rows_paths(run_dir, step):
        if not path.is_file():
            end = int(path.stem.split("_")[-1])
            raise LandscapeError(
                f"{path} is missing, so the replay buffer at step {step} cannot be "
                "rebuilt (a resume and later landscape commands need it): restore "
                f"the run's replay/ folder, or delete {checkpoint_path(run_dir, end)} "
                "and every later checkpoint and re-run with resume=true to train "
                "them again"
            )


def load_stored_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of one checkpoint or replay row file, as stored."""
    return _load_npz(path)


def load_replay_rows(
    run_dir: Path,
    step: int,
    template_rows,
    capacity: int,
    seeds: list[int] | None = None,
):
    """Rebuild the replay data as it was after ``step`` env steps.

    Args:
      run_dir: the run directory.
      step: a checkpoint step.
      template_rows: a pytree of arrays ``(num_seeds, 0, ...)`` giving the fields.
      capacity: the buffer's rows per seed.
      seeds: indices of the seeds to rebuild (all by default).

    Returns:
      The pytree of arrays ``(len(seeds), capacity, ...)``, rows ``s % capacity`` for
      every step ``s < step``, zeros elsewhere.
    """
    import jax  # only for pytrees: the rest reads without JAX

    num_seeds = jax.tree.leaves(template_rows)[0].shape[0]
    seeds = list(range(num_seeds)) if seeds is None else list(seeds)
    data = jax.tree.map(
        lambda t: np.zeros((len(seeds), capacity, *t.shape[2:]), t.dtype),
        template_rows,
    )
    check_replay_rows_exist(run_dir, step)
    start = 0
    for end in [s for s in completed_checkpoints(run_dir) if s <= step]:
        path = replay_rows_path(run_dir, start, end)
        rows = _unflatten_rows(template_rows, _load_npz(path), path, end - start)
        positions = np.arange(start, end) % capacity
        for stored, loaded in zip(
            jax.tree.leaves(data), jax.tree.leaves(rows), strict=True
        ):
            stored[:, positions] = loaded[seeds]
        start = end
    return data


def _unflatten_rows(template_rows, arrays, path: Path, count: int):
    import jax  # only for pytrees: the rest reads without JAX

    template = jax.tree.map(
        lambda t: jax.ShapeDtypeStruct((t.shape[0], count, *t.shape[2:]), t.dtype),
        template_rows,
    )
    return _unflatten(template, arrays, path)


# Options added after runs were written, with the value those runs were trained with:
# a saved config without them describes the behaviour of its time, not today's default.
LEGACY_OPTIONS = {
    "td3": {"actor_objective": "first_q", "init": "lecun"},
    "sac": {
        "init": "lecun",
        "target_entropy_scale": 1.0,
        "log_std_min": -5.0,
        "temperature_loss": "log_temperature",
        "heads": "joint",
    },
    "ppo": {
        "policy": "tanh_gaussian",
        "normalize_observations": True,
        "adam_eps": 1e-8,
        "init": "lecun",
        "bootstrap_truncation": True,
        "autoreset": "fresh",
    },
}


def load_run_config(run_dir: Path) -> TrainConfig:
    """The training config saved in a run directory.

    Options the run's config predates take the values it was trained with
    (``LEGACY_OPTIONS``), not today's defaults.
    """
    from omegaconf import DictConfig, OmegaConf

    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise LandscapeError(f"{path} is missing: {run_dir} is not a complete run")
    try:
        saved = OmegaConf.load(path)
    except Exception as err:  # YAML's and OmegaConf's errors alike
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise LandscapeError(
            f"{path} cannot be read ({first}): the run's config is damaged; restore "
            "it from a copy (it is written once, when the run starts)"
        ) from None
    if not isinstance(saved, DictConfig):
        raise LandscapeError(f"{path} is not a config: restore it from a copy")
    if not isinstance(saved.get("wandb", False), bool):  # written before it was a flag
        saved.pop("wandb")
    for node, options in LEGACY_OPTIONS.items():
        for name, value in options.items():
            if node in saved and name not in saved[node]:
                saved[node][name] = value
    return resolve(TrainConfig, saved)


@contextlib.contextmanager
def run_lock(run_dir: Path):
    """Hold the run's advisory lock (``LOCK``) while training writes it.

    A POSIX record lock (``fcntl.lockf``: NFS locks it through the server), which
    the system releases when the process ends, however it ends. A second ``train``
    on the same run fails in one line naming the holder; landscape commands take
    no lock and keep writing their own files concurrently.
    """
    import fcntl
    import os
    import socket

    path = Path(run_dir) / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise LandscapeError(
                f"{run_dir} is being trained by another process ({holder}): wait "
                "for it to finish or stop it, then resume=true"
            ) from None
        started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(
            fd,
            f"host {socket.gethostname()} pid {os.getpid()} since {started}\n".encode(),
            0,
        )
        yield path
    finally:
        os.close(fd)
