"""Chunk-size, lane-count and device-count invariance at paper size, under the
default backend.

The other invariant tests use 16x16 networks and Brax's ``spring`` backend; XLA's CPU
code for a batch depends on its length and on the vector width, so these check the
promise where it is hardest: 256x256 TD3 networks, ``positional`` physics, chunks
of 1 and 3 groups of 8, and 1 or 3 lanes (threads sharing the CPU device).
``test_native_isa`` reruns every ``invariant`` test under the machine's own ISA (the
suite itself runs with the package's AVX2 code).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import with_xla_flags
from return_landscapes.agents.td3 import make_td3
from return_landscapes.conf import TD3Config
from return_landscapes.envs.brax import make_env
from return_landscapes.evaluation import EvaluationSetup, make_episode_stage
from return_landscapes.landscape.hotpath.engine import policy_apply
from return_landscapes.landscape.hotpath.keys import sample_keys
from return_landscapes.landscape.perturb import (
    CheckpointSource,
    get_perturbation,
    make_perturb_stage,
)
from return_landscapes.pipeline import LANES_VARIABLE, plan_chunks, run_chunks
from return_landscapes.replay import replay_init

pytestmark = pytest.mark.invariant

SAMPLES, HORIZON, REPLAY_ROWS = 24, 100, 512


def paper_size_purd(chunk: int | None, lanes: int = 1) -> dict[str, np.ndarray]:
    """A ``td3`` PURD of 24 samples of a fresh paper-size TD3 state (random replay
    rows) on hopper under ``positional``, 100-step episodes, in chunks of ``chunk``
    split into ``lanes`` (on one CPU device; several devices take one lane each)."""
    env = make_env("hopper", "positional", 0.0)
    agent = make_td3(TD3Config(), env.observation_size, env.action_size)
    key = jax.random.PRNGKey(0)
    replay = replay_init(REPLAY_ROWS, env.observation_size, env.action_size)
    rows = jax.tree.map(lambda x: jax.random.normal(key, x.shape, x.dtype), replay.data)
    replay = replay.replace(data=rows, size=jnp.asarray(REPLAY_ROWS, jnp.int32))
    source = CheckpointSource(agent.init(key), replay)
    stages = (
        make_perturb_stage(get_perturbation("td3"), agent),
        make_episode_stage(EvaluationSetup(env, policy_apply(agent), HORIZON)),
    )
    shared = ((source, jnp.float32(3e-4)), jnp.float32(0.0))
    keys = sample_keys(0, 0, 0, SAMPLES)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(LANES_VARIABLE, str(lanes))
        plan = plan_chunks(stages, shared, keys, SAMPLES, chunk)
    return run_chunks(plan, shared, keys)._asdict()


@pytest.fixture(scope="module")
def one_chunk():
    return paper_size_purd(chunk=None)  # one chunk of 24 in one lane: three groups


def assert_same(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    for name, array in first.items():
        np.testing.assert_array_equal(second[name], array, err_msg=name)


def test_paper_size_purds_do_not_depend_on_the_chunk_size(one_chunk):
    returns = one_chunk["undiscounted_return"]
    assert np.isfinite(returns).all() and len(np.unique(returns)) == SAMPLES
    assert_same(one_chunk, paper_size_purd(chunk=8))


def test_paper_size_purds_in_three_lanes_are_those_of_one(one_chunk):
    assert_same(one_chunk, paper_size_purd(chunk=None, lanes=3))  # 3 threads of 8


def test_paper_size_purds_on_two_devices_are_those_of_one(one_chunk, tmp_path):
    code = (  # the package's XLA flags before JAX starts, as the CLI
        "import sys; import return_landscapes; return_landscapes.configure_xla();"
        "import jax, numpy as np; assert jax.device_count() == 2, jax.devices();"
        "from test_invariants import paper_size_purd;"
        "np.savez(sys.argv[1], **paper_size_purd(chunk=None))"
    )
    out = tmp_path / "two.npz"
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        env=with_xla_flags("--xla_force_host_platform_device_count=2"),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert_same(one_chunk, dict(np.load(out)))


def has_avx512() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    return cpuinfo.exists() and " avx512f" in cpuinfo.read_text()


@pytest.mark.skipif(
    os.environ.get("LANDSCAPE_TEST_NATIVE_ISA") == "1", reason="this is that run"
)
def test_native_isa():
    """Every ``invariant`` test again, with the CPU's own vector width (AVX-512)."""
    if not has_avx512():
        pytest.skip("this CPU has no AVX-512: its own code is the AVX2 code")
    env = with_xla_flags("--xla_cpu_max_isa=")  # no limit: the CPU's own ISA
    env["LANDSCAPE_TEST_NATIVE_ISA"] = "1"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "invariant",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "0",  # in this worker's process tree: one process
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    print(done.stdout[-3000:])  # the native run's summary, in this test's output
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
