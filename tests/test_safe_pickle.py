"""Other libraries' pickles are read with an allowlist: arrays come back by value,
and a file naming any other global is refused before anything in it runs."""

import builtins
import io
import os
import pickle
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from helpers import assert_one_error_line, landscape_here
from return_landscapes.formats.safe_pickle import (
    NUMPY_ARRAYS,
    RefusedGlobal,
    record,
    restricted_load,
)

pytestmark = pytest.mark.unit


class _Payload:
    """Unpickled by the standard unpickler, this calls ``function(argument)``."""

    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


def malicious(marker, how: str) -> bytes:
    """A pickle of a parameter-like tuple whose last entry, once unpickled, creates
    ``marker`` through ``os.system`` or ``builtins.exec``."""
    if how == "os.system":
        payload = _Payload(os.system, f"touch {marker}")
    else:
        payload = _Payload(builtins.exec, f"open({str(marker)!r}, 'w').close()")
    return pickle.dumps(({"w": np.ones(3, np.float32)}, payload))


@pytest.mark.parametrize("how", ["os.system", "builtins.exec"])
def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path, how):
    marker = tmp_path / "ran"
    with pytest.raises(RefusedGlobal) as refused:
        restricted_load(io.BytesIO(malicious(marker, how)), NUMPY_ARRAYS)
    assert refused.value.name in {"posix.system", "builtins.exec"}
    assert not marker.exists()
    pickle.loads(malicious(marker, how))  # the standard unpickler runs it
    assert marker.exists()


@pytest.mark.parametrize("how", ["os.system", "builtins.exec"])
def test_import_refuses_such_a_file_in_one_line_before_any_write(tmp_path, how):
    marker = tmp_path / "ran"
    params = tmp_path / "params.pkl"
    params.write_bytes(malicious(marker, how))
    result = landscape_here(
        "import", "source=brax_ppo", f"params={params}", "out=run", cwd=tmp_path
    )
    name = "posix.system" if how == "os.system" else "builtins.exec"
    assert_one_error_line(result, f"names the global {name}", "nothing in it was run")
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_numpy_and_jax_arrays_come_back_as_numpy_arrays_by_value():
    saved = {
        "numpy": np.arange(6, dtype=np.float32).reshape(2, 3),
        "jax": jnp.asarray([[1.5, -2.0], [0.25, 3.0]], dtype=jnp.float32),
        "scalar": np.float64(0.5),
        "ints": np.array([1, 2], np.int64),
    }
    loaded = restricted_load(io.BytesIO(pickle.dumps(saved)), NUMPY_ARRAYS)
    assert set(loaded) == set(saved)
    for name, value in saved.items():
        assert isinstance(loaded[name], np.ndarray | np.generic), name
        assert loaded[name].dtype == np.asarray(value).dtype, name
        np.testing.assert_array_equal(loaded[name], np.asarray(value), err_msg=name)


class Normalizer:
    """A foreign class as a pickle names it (a record stands in for it)."""

    def __init__(self, mean, count):
        self.mean, self.count = mean, count


def test_a_foreign_class_is_a_record_of_its_fields():
    data = pickle.dumps(Normalizer(np.array([0.5, 1.0]), 7))
    allowed = {**NUMPY_ARRAYS, (__name__, "Normalizer"): record("Normalizer")}
    loaded = restricted_load(io.BytesIO(data), allowed)
    assert type(loaded).__name__ == "Normalizer" and loaded.count == 7
    np.testing.assert_array_equal(loaded.mean, [0.5, 1.0])
    with pytest.raises(RefusedGlobal, match=f"{__name__}.Normalizer"):
        restricted_load(io.BytesIO(data), NUMPY_ARRAYS)


@pytest.mark.parametrize("how", ["os.system", "builtins.exec"])
def test_a_normalizer_pickle_that_would_run_code_is_refused(tmp_path, how):
    marker = tmp_path / "ran"
    normalizer = tmp_path / "vecnormalize.pkl"
    normalizer.write_bytes(malicious(marker, how))
    model = Path(__file__).parent / "fixtures" / "sb3" / "td3-norm.zip"
    result = landscape_here(
        "import",
        "source=sb3",
        f"params={model}",
        f"normalizer={normalizer}",
        "env=gym:Pendulum-v1",
        "out=run",
        cwd=tmp_path,
    )
    name = "posix.system" if how == "os.system" else "builtins.exec"
    assert_one_error_line(result, f"names the global {name}", "nothing in it was run")
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_normalizer_files_give_sb3_statistics(tmp_path):
    from return_landscapes.formats.normalizer import read_normalizer

    folder = Path(__file__).parent / "fixtures" / "sb3"
    recorded = np.load(folder / "td3-norm-reference.npz")
    saved = read_normalizer(folder / "td3-norm-vecnormalize.pkl")
    np.testing.assert_array_equal(saved.mean, recorded["obs_mean"].astype(np.float32))
    expected_std = np.sqrt(recorded["obs_var"] + 1e-8).astype(np.float32)
    np.testing.assert_array_equal(saved.std, expected_std)
    assert saved.clip == 10.0  # VecNormalize's default clip_obs
    exported = tmp_path / "obs_rms.npz"
    np.savez(exported, mean=recorded["obs_mean"], var=recorded["obs_var"])
    plain = read_normalizer(exported)
    np.testing.assert_array_equal(plain.std, expected_std)
    assert plain.clip is None
