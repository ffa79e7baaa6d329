"""The results store by hand: a PURD block written and read back, value for value;
the light imports of the package root and of ``load_purd``."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

from return_landscapes import store
from return_landscapes.errors import LandscapeError
from return_landscapes.store import purd as purd_store

pytestmark = pytest.mark.unit

HEAVY = ("jax", "jaxlib", "flax", "optax", "brax", "hydra", "omegaconf", "matplotlib")


def purd_block(seed: int, samples: int = 4) -> tuple[dict, dict]:
    """The arrays and attributes of one seed's PURD block, as ``purd`` writes them."""
    returns = np.arange(samples, dtype=np.float32) + 10.0 * seed
    arrays = {
        "seeds": np.array([seed], np.int32),
        "undiscounted_return": returns[None],
        "discounted_return": (returns / 2)[None],
        "length": np.full((1, samples), 50, np.int32),
        "unperturbed_return": np.array([100.0 + seed], np.float32),
        "unperturbed_discounted_return": np.array([50.0 + seed], np.float32),
        "unperturbed_length": np.array([50], np.int32),
    }
    attrs = {
        "kind": "purd",
        "run": "/somewhere/run",
        "env": "hopper",
        "algo": "td3",
        "backend": "spring",
        "perturbation": "td3",
        "scale": 3e-4,
        "checkpoint": 200,
        "seed": seed,
        "samples": samples,
        "horizon": 50,
        "chunk": None,
        "seeds_of_run": [0, 1],
    }
    return arrays, attrs


def test_a_purd_block_reads_back_value_for_value(tmp_path):
    arrays, attrs = purd_block(seed=1)
    path = purd_store.purd_path(tmp_path, "td3", 3e-4, 200, 1)
    assert path == (
        tmp_path / "landscape/purd/td3/scale_0.0003/step_000000200/seed_001.h5"
    )
    store.write_result(path, arrays, attrs)
    assert sorted(p.name for p in path.parent.iterdir()) == ["seed_001.h5"]

    result = store.read_result(path)
    assert sorted(result.arrays) == sorted(arrays)
    for name, array in arrays.items():
        assert result.arrays[name].dtype == array.dtype, name
        np.testing.assert_array_equal(result.arrays[name], array, err_msg=name)
    for name in ("kind", "run", "env", "algo", "perturbation", "checkpoint", "seed"):
        assert result.attrs[name] == attrs[name], name
    assert result.attrs["scale"] == 3e-4 and result.attrs["samples"] == 4
    assert result.attrs["chunk"] == ""  # None is stored as an empty string
    assert json.loads(result.attrs["seeds_of_run"]) == [0, 1]  # lists as JSON
    # provenance every block carries
    assert result.attrs["format"] == store.RESULT_FORMAT
    assert result.attrs["format_version"] == store.RESULT_FORMAT_VERSION
    assert "numpy" in json.loads(result.attrs["versions"])
    assert result.attrs["created"].startswith("20")


def test_load_purd_stacks_the_seeds_in_order(tmp_path):
    for seed in (1, 0):
        store.write_result(
            purd_store.purd_path(tmp_path, "td3", 3e-4, 200, seed), *purd_block(seed)
        )
    assert list(purd_store.stored_purds(tmp_path)) == [
        purd_store.PurdKey("td3", 3e-4, 200)
    ]

    returns = purd_store.load_purd(tmp_path, 200, "td3", 3e-4)
    np.testing.assert_array_equal(returns, [[0, 1, 2, 3], [10, 11, 12, 13]])
    assert purd_store.load_purd(tmp_path, 200, "td3", 3e-4, seeds=[1]).tolist() == [
        [10, 11, 12, 13]
    ]
    result = purd_store.load_purd_result(tmp_path, 200, "td3", 3e-4)
    assert result.seeds.tolist() == [0, 1]
    assert "seeds" not in result.arrays
    np.testing.assert_array_equal(result.arrays["unperturbed_return"], [100, 101])
    np.testing.assert_array_equal(result.arrays["length"], np.full((2, 4), 50))
    assert result.attrs["seed"] == 0  # the first block's attributes

    from return_landscapes import load_purd  # the public name is the store's

    np.testing.assert_array_equal(load_purd(tmp_path, 200, "td3", 3e-4), returns)


def test_missing_mixed_and_foreign_blocks_are_one_line_errors(tmp_path):
    store.write_result(
        purd_store.purd_path(tmp_path, "td3", 3e-4, 200, 0), *purd_block(0)
    )
    with pytest.raises(LandscapeError, match=r"seed\(s\) \[5\]") as err:
        purd_store.load_purd(tmp_path, 200, "td3", 3e-4, seeds=[0, 5])
    assert "td3/0.0003/200" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(LandscapeError, match="no seed"):
        purd_store.load_purd(tmp_path, 100, "td3", 3e-4)

    store.write_result(
        purd_store.purd_path(tmp_path, "td3", 3e-4, 200, 1), *purd_block(1, samples=6)
    )
    with pytest.raises(LandscapeError, match=r"different sample counts \[4, 6\]"):
        purd_store.load_purd(tmp_path, 200, "td3", 3e-4)

    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(LandscapeError, match="not a return-landscapes result file"):
        store.read_result(foreign)
    with pytest.raises(LandscapeError, match="is missing"):
        store.read_result(tmp_path / "nothing.h5")


def modules_after(code: str) -> list[str]:
    """The heavy top-level packages in ``sys.modules`` after ``code`` runs in a fresh
    Python."""
    check = (
        f"{code}\nimport sys\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().replace("'", '"'))


@pytest.mark.parametrize(
    "code",
    ["import return_landscapes", "from return_landscapes import load_purd"],
)
def test_the_package_root_and_load_purd_import_no_jax_hydra_or_matplotlib(code):
    assert modules_after(code) == []


def test_the_import_check_sees_jax_when_it_is_loaded():
    assert "jax" in modules_after("import return_landscapes.networks")
