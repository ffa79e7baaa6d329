"""What every import writes and checks: the run folder, written whole or not at all;
the saved arrays' shapes against the agent's and their finiteness; the files'
digests."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

from return_landscapes.conf import Algo
from return_landscapes.errors import LandscapeError


def write_atomically(out: Path, write: Callable[[Path], None]) -> None:
    """``write(folder)`` into a hidden folder beside ``out``, then rename it into
    place: an interrupted import leaves no half-written run under ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(building, 0o777 & ~mask)  # mkdtemp's folder is private
    try:
        write(building)
        if out.exists():
            out.rmdir()  # an empty folder the user made
        os.replace(building, out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def check_shapes(template, state, what: str, options: str) -> None:
    """One line naming the first entry of ``state`` whose shape differs from the
    agent's ``template`` (``what``: the saved thing; ``options``: those that set
    the shapes, for the message)."""
    want = shapes_of(template)
    have = shapes_of(state)
    if want != have:
        missing = sorted(set(want) - set(have))
        differ = sorted(k for k in set(want) & set(have) if want[k] != have[k])
        problem = (
            f"lacks {missing[0]}"
            if missing
            else f"holds {differ[0]} as {list(have[differ[0]])}, expected "
            f"{list(want[differ[0]])}"
            if differ
            else f"has extra entries {sorted(set(have) - set(want))[:3]}"
        )
        raise LandscapeError(
            f"the saved {what} {problem}: it does not fit this env with these "
            f"options ({options})"
        )


def shapes_of(tree) -> dict[str, tuple[int, ...]]:
    """Every leaf's shape, by its path."""
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(path): tuple(np.shape(leaf)) for path, leaf in leaves}


def check_finite(state) -> None:
    """One line naming the first leaf of ``state`` that holds NaN or inf."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        if not np.all(np.isfinite(leaf)):
            raise LandscapeError(
                f"the saved policy's {jax.tree_util.keystr(path)} holds non-finite "
                "numbers (NaN or inf): import a checkpoint from before training "
                "diverged"
            )


def import_manifest(run_cfg, parts, step: int, provenance: dict) -> dict:
    """The manifest of an imported run: one seed, one checkpoint at ``step``, and
    where its files came from (``provenance``)."""
    return {
        "env": run_cfg.env,
        "algo": Algo(run_cfg.algo).value,
        "backend": run_cfg.backend,
        "num_seeds": 1,
        "seeds": [0],
        "base_seed": 0,
        "steps": step,
        "checkpoint_steps": [step],
        "horizon": run_cfg.horizon,
        "observation_size": int(parts.env.observation_size),
        "action_size": int(parts.env.action_size),
        "imported": provenance,
    }


def sha256(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files (their paths and bytes, sorted)."""
    digest = hashlib.sha256()
    files = (
        sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
    )
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as f:
            for block in iter(lambda f=f: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
