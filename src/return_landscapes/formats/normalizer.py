"""Observation normalisers saved beside a policy: Stable-Baselines3's (rl-zoo's)
``vecnormalize.pkl`` and an ``.npz`` of running statistics any framework writes.

Both give the statistics SB3's ``VecNormalize.normalize_obs`` reads, as the
``MlpActor`` normaliser: ``clip((obs - mean) / sqrt(var + epsilon), -clip_obs,
clip_obs)``. The pickle is read with the globals of a ``VecNormalize`` and its
spaces only, all as plain records (SB3 and Gymnasium are not imported); a pickle
naming any other global is refused unrun.

The ``.npz`` holds ``mean`` and ``var`` (``[observations]``), and optionally
``epsilon`` (default 1e-8, SB3's) and ``clip_obs`` (default: unclipped).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from return_landscapes.formats.safe_pickle import (
    NUMPY_ARRAYS,
    RefusedGlobal,
    record,
    restricted_load,
)


class NormalizerFormatError(ValueError):
    """The file holds no observation statistics this reader knows (the message
    says what was found)."""


class ObservationNormalizer(NamedTuple):
    """``(obs - mean) / std``, clipped to ``+-clip`` (``None``: unclipped)."""

    mean: np.ndarray
    std: np.ndarray
    clip: float | None


def _stand_in(name: str):
    made = record(name)
    return lambda *args, **kwargs: made()


VECNORMALIZE_GLOBALS = {
    **NUMPY_ARRAYS,
    ("stable_baselines3.common.vec_env.vec_normalize", "VecNormalize"): record(
        "VecNormalize"
    ),
    ("stable_baselines3.common.running_mean_std", "RunningMeanStd"): record(
        "RunningMeanStd"
    ),
    ("gymnasium.spaces.box", "Box"): record("Box"),
    # the spaces' random generators: kept as empty records, never rebuilt
    ("numpy.random._pickle", "__generator_ctor"): _stand_in("Generator"),
    ("numpy.random._pickle", "__bit_generator_ctor"): _stand_in("BitGenerator"),
    ("numpy.random._pickle", "__randomstate_ctor"): _stand_in("RandomState"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"): _stand_in(
        "SeedSequence"
    ),
    ("numpy.random.bit_generator", "SeedSequence"): record("SeedSequence"),
    ("numpy.random._pcg64", "PCG64"): record("PCG64"),
}
"""The globals a ``VecNormalize.save`` file names (SB3 2.x, Gymnasium Box spaces)."""

SB3_EPSILON = 1e-8  # VecNormalize's default


def read_normalizer(path: str | Path) -> ObservationNormalizer:
    """The observation normaliser in ``path``: a ``vecnormalize.pkl`` or an .npz.

    Raises:
      NormalizerFormatError: not such a file, or statistics that are not flat,
        finite, or positive in variance.
      safe_pickle.RefusedGlobal: the pickle names a global a ``VecNormalize`` file
        never does (nothing in it was run).
    """
    path = Path(path)
    if path.suffix == ".npz":
        return _checked(*_from_npz(path))
    return _checked(*_from_vecnormalize(path))


def _from_npz(path: Path):
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as err:
        raise NormalizerFormatError(f"not an .npz file numpy reads ({err})") from None
    if not {"mean", "var"} <= set(arrays):
        raise NormalizerFormatError(
            f"the .npz holds {sorted(arrays)}, not 'mean' and 'var' (and optionally "
            "'epsilon', 'clip_obs')"
        )
    epsilon = float(arrays.get("epsilon", SB3_EPSILON))
    clip = float(arrays["clip_obs"]) if "clip_obs" in arrays else None
    return arrays["mean"], arrays["var"], epsilon, clip


def _from_vecnormalize(path: Path):
    import pickle

    try:
        with open(path, "rb") as f:
            saved = restricted_load(f, VECNORMALIZE_GLOBALS)
    except RefusedGlobal:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise NormalizerFormatError(
            f"not a pickle VecNormalize.save wrote ({type(err).__name__})"
        ) from None
    statistics = getattr(saved, "obs_rms", None)
    if type(saved).__name__ != "VecNormalize" or statistics is None:
        raise NormalizerFormatError(
            f"the pickle holds a {type(saved).__name__}, not a VecNormalize with "
            "observation statistics (obs_rms)"
        )
    if not getattr(saved, "norm_obs", True):
        raise NormalizerFormatError(
            "the VecNormalize was made with norm_obs=False: it normalises no "
            "observations; import without normalizer="
        )
    if isinstance(statistics, dict):
        raise NormalizerFormatError(
            "the VecNormalize normalises dict observations: only flat Box "
            "observations are read"
        )
    return (
        statistics.mean,
        statistics.var,
        float(getattr(saved, "epsilon", SB3_EPSILON)),
        float(saved.clip_obs) if getattr(saved, "clip_obs", None) else None,
    )


def _checked(mean, var, epsilon: float, clip: float | None) -> ObservationNormalizer:
    mean, var = np.asarray(mean, np.float64), np.asarray(var, np.float64)
    if mean.ndim != 1 or mean.shape != var.shape:
        raise NormalizerFormatError(
            f"mean {list(mean.shape)} and var {list(var.shape)} are not one flat "
            "vector each of the observation size"
        )
    if not (np.isfinite(mean).all() and np.isfinite(var).all() and (var >= 0).all()):
        raise NormalizerFormatError("the statistics hold NaN, inf or negative variance")
    std = np.sqrt(var + epsilon)
    if not (std > 0).all():
        raise NormalizerFormatError(
            "a variance plus epsilon is 0: nothing to divide by"
        )
    return ObservationNormalizer(mean.astype(np.float32), std.astype(np.float32), clip)
