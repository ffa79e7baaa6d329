"""Directions as files: the two directions of a surface or line, and how they were made.

Every surface and line stores its directions in ``directions.h5`` beside its rows, so
a figure can be redrawn and another surface can reuse them (``directions=file``).
The format, also for directions written by hand (h5py):

* attributes ``format = "return-landscapes/directions"``, ``format_version = 1``,
  ``kind`` (``random``, ``update``, ``pca``, ``file`` or anything a user writes) and,
  where known, how they were made (``normalization``, ``bias``, ``orthogonalize``,
  ``update_batches``, ``perturbation``, ``scale``, ``seed``, ``checkpoint``,
  ``sample_seed``, ``explained_variance``, ``update_step_x``);
* groups ``x`` and ``y``: one dataset per leaf of the actor's parameters, at the
  leaf's path in the parameter tree (for a flax MLP ``x/params/Dense_0/kernel``),
  shaped and typed like the leaf;
* optionally ``trajectory`` ``(checkpoints, 2)`` and ``trajectory_steps``: where a
  seed's checkpoints lie in the plane (``pca``).

``landscape surface directions=file directions_file=<path>`` reads ``x`` and ``y``;
a leaf missing or of another shape is a one-line error naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np

from return_landscapes.errors import LandscapeError
from return_landscapes.provenance import (
    atomic_write,
    hdf5_attribute,
    plain_attribute,
)

DIRECTIONS_FORMAT = "return-landscapes/directions"
DIRECTIONS_FORMAT_VERSION = 1
DIRECTIONS_FILE = "directions.h5"
AXES = ("x", "y")
EXTRA_ARRAYS = ("trajectory", "trajectory_steps")


class Directions(NamedTuple):
    """Two directions in actor-parameter space and how they were made.

    Attributes:
      x: the first direction, a tree shaped like the actor's parameters.
      y: the second direction (a line uses ``x`` alone).
      attrs: how they were made (``kind``, ``normalization``, ...).
      arrays: extra arrays (``trajectory``, ``trajectory_steps`` of a PCA plane).
    """

    x: Any
    y: Any
    attrs: dict[str, Any]
    arrays: dict[str, np.ndarray]


def leaf_name(path) -> str:
    """The dataset name of a parameter-tree leaf: its keys joined by ``/``."""
    parts = []
    for entry in path:
        for field in ("key", "idx", "name"):
            if hasattr(entry, field):
                parts.append(str(getattr(entry, field)))
                break
        else:
            parts.append(str(entry))
    return "/".join(parts)


def named_leaves(tree) -> dict[str, np.ndarray]:
    """Every leaf of ``tree`` by its dataset name."""
    import jax  # here: reading a file without a template needs no JAX

    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {leaf_name(path): np.asarray(leaf) for path, leaf in flat}


def write_directions(
    path: Path,
    x,
    y,
    attrs: dict[str, Any],
    arrays: dict[str, np.ndarray] | None = None,
) -> None:
    """Write two directions (trees) with their attributes, atomically."""

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w", locking=False) as f:
            f.attrs["format"] = DIRECTIONS_FORMAT
            f.attrs["format_version"] = DIRECTIONS_FORMAT_VERSION
            for name, value in attrs.items():
                f.attrs[name] = hdf5_attribute(value)
            for axis, tree in zip(AXES, (x, y), strict=True):
                for name, leaf in named_leaves(tree).items():
                    f.create_dataset(f"{axis}/{name}", data=leaf)
            for name, array in (arrays or {}).items():
                f.create_dataset(name, data=np.asarray(array))

    atomic_write(Path(path), write)


def read_directions(path: Path, template=None) -> Directions:
    """Read a directions file; with ``template`` (the actor's parameters) the
    directions come back shaped like it, every leaf checked.

    Raises:
      LandscapeError: a missing, foreign or damaged file, or one whose leaves do not
        match ``template``, in one line.
    """
    path = Path(path)
    if not path.is_file():
        raise LandscapeError(
            f"directions file {path} does not exist: give the path of a surface's "
            "directions.h5 or of a file you wrote"
        )
    try:
        with h5py.File(path, "r", locking=False) as f:
            attrs = {name: plain_attribute(value) for name, value in f.attrs.items()}
            axes = {axis: _datasets(f[axis]) if axis in f else {} for axis in AXES}
            arrays = {name: f[name][()] for name in EXTRA_ARRAYS if name in f}
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise LandscapeError(
            f"{path} is not a readable HDF5 directions file "
            f"({str(err).splitlines()[0][:80]})"
        ) from None
    if attrs.get("format") != DIRECTIONS_FORMAT:
        raise LandscapeError(
            f"{path} is not a directions file (attribute format must be "
            f"{DIRECTIONS_FORMAT!r}): see docs/directions.md for the format"
        )
    if attrs.get("format_version") != DIRECTIONS_FORMAT_VERSION:
        raise LandscapeError(
            f"{path} has directions format version {attrs.get('format_version')}, "
            f"this return-landscapes reads version {DIRECTIONS_FORMAT_VERSION}"
        )
    if template is None:
        return Directions(axes["x"], axes["y"], attrs, arrays)
    x, y = (_shaped(path, axis, axes[axis], template) for axis in AXES)
    return Directions(x, y, attrs, arrays)


def load_directions(path, template=None) -> Directions:
    """The two directions stored in ``path`` (a surface's or line's
    ``directions.h5``, or a file in the documented format).

    Args:
      path: the HDF5 file.
      template: the actor's parameters; when given, ``x`` and ``y`` come back shaped
        like it (every leaf checked), else as ``{leaf path: array}`` mappings.

    Returns:
      ``Directions(x, y, attrs, arrays)``.
    """
    return read_directions(path, template)


def _datasets(group) -> dict[str, np.ndarray]:
    found = {}
    group.visititems(
        lambda name, item: (
            found.__setitem__(name, item[()])
            if isinstance(item, h5py.Dataset)
            else None
        )
    )
    return found


def _shaped(path: Path, axis: str, leaves: dict[str, np.ndarray], template):
    import jax

    flat, treedef = jax.tree_util.tree_flatten_with_path(template)
    out = []
    for leaf_path, leaf in flat:
        name = leaf_name(leaf_path)
        if name not in leaves:
            raise LandscapeError(
                f"{path} lacks dataset {axis}/{name} of the actor's parameters: a "
                "directions file needs every actor leaf under x/ and y/"
            )
        value = leaves[name]
        if value.shape != np.shape(leaf):
            raise LandscapeError(
                f"{path}: {axis}/{name} has shape {value.shape}, the actor's leaf "
                f"{np.shape(leaf)}: the directions were made for another network"
            )
        if not np.all(np.isfinite(value)):
            raise LandscapeError(f"{path}: {axis}/{name} holds non-finite values")
        out.append(value.astype(np.asarray(leaf).dtype))
    return treedef.unflatten(out)


def directions_info(folder: Path) -> dict[str, Any] | None:
    """How a surface's or line's directions were made: the ``directions.h5`` in
    ``folder``: its attributes and small arrays (not the directions), or ``None``
    without one."""
    path = Path(folder) / DIRECTIONS_FILE
    if not path.is_file():
        return None
    directions = read_directions(path)
    info = dict(directions.attrs)
    for name in ("explained_variance",):
        if isinstance(info.get(name), str) and info[name]:
            info[name] = json.loads(info[name])
    return {**info, **directions.arrays}
