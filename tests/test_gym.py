"""Gymnasium envs (``env=gym:<id>``) and policies imported from Stable-Baselines3
files: actions and returns against SB3's own, PURDs, lines and surfaces, chunk
invariance, MuJoCo agreement, TD3 training with exact checkpoints and resume, bad
input."""

from pathlib import Path

import jax
import numpy as np
import pytest

from helpers import (
    TINY_AGENT,
    assert_one_error_line,
    landscape_here,
    training_snapshots,
)
from return_landscapes import (
    import_policy,
    line,
    load_line,
    load_surface,
    purd,
    report,
    surface,
    train,
)
from return_landscapes.agents.mlp_actor import normalised_action
from return_landscapes.envs.gym import make_gym_env
from return_landscapes.rundir import load_checkpoint, load_run_config
from return_landscapes.store import read_result
from return_landscapes.training.state import restore_state
from return_landscapes.training.trainers import get_trainer, make_parts
from test_train import assert_same_run, assert_trees_equal

FIXTURES = Path(__file__).parent / "fixtures"
SB3, CLEANRL = FIXTURES / "sb3", FIXTURES / "cleanrl"
PENDULUM, HOPPER = "gym:Pendulum-v1", "gym:Hopper-v5"
MODELS = {  # fixture: (env, its reference episode's horizon)
    "td3": (PENDULUM, 200),
    "sac": (PENDULUM, 200),
    "ppo": (PENDULUM, 200),
    "td3-hopper": (HOPPER, 1000),
    "td3-norm": (PENDULUM, 200),  # trained inside VecNormalize
    "cleanrl-td3": (PENDULUM, 200),
    "cleanrl-td3_jax": (PENDULUM, 200),
    "cleanrl-ppo": (PENDULUM, 200),
}
NORMALIZERS = {"td3-norm": "td3-norm-vecnormalize.pkl"}


def model_file(name: str) -> tuple[str, Path]:
    """The import source of a fixture and its model file."""
    if name.startswith("cleanrl-"):
        return "cleanrl", CLEANRL / f"{name.removeprefix('cleanrl-')}.cleanrl_model"
    return "sb3", SB3 / f"{name}.zip"


SCALE = 0.01
QUIET = {"progress": False}
TINY_GYM = {  # a few thousand steps: Pendulum's 200-step episodes end in each block
    "env": PENDULUM,
    "algo": "td3",
    "seeds": 2,
    "steps": 2000,
    "checkpoints": [700, 1400],
    "block": 350,
    "eval_interval": 700,
    "eval_episodes": 2,
    "progress": False,
    "td3": {**TINY_AGENT, "replay_capacity": 700},
}
STEPS = (700, 1400, 2000)


def reference(name: str):
    """The library's own outputs beside the fixture (its actions and return)."""
    if name.startswith("cleanrl-"):
        return np.load(CLEANRL / f"{name.removeprefix('cleanrl-')}-reference.npz")
    return np.load(SB3 / f"{name}-reference.npz")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """Every SB3 and CleanRL fixture imported on its own env, from the reference
    episode's reset seed."""
    folder = tmp_path_factory.mktemp("gym")
    return {
        name: import_policy(
            source=model_file(name)[0],
            params=str(model_file(name)[1]),
            env=env,
            gym={"reset_seed": int(reference(name)["episode_seed"])},
            horizon=horizon,
            normalizer=str(SB3 / NORMALIZERS[name]) if name in NORMALIZERS else None,
            out=str(folder / name),
        )
        for name, (env, horizon) in MODELS.items()
    }


def purd_arrays(run, perturb=None, scale=SCALE, seed=0):
    perturb = perturb or "param_noise"
    folder = Path(run) / f"landscape/purd/{perturb}/scale_{scale}/step_000000000"
    return read_result(folder / f"seed_{seed:03d}.h5").arrays


def env_actions(run, observations):
    """The imported agent's actions on ``observations``, rescaled to the env's
    bounds as the Gymnasium env does."""
    cfg = load_run_config(run)
    parts = make_parts(cfg)
    template = parts.init(jax.random.split(jax.random.PRNGKey(0), 1))
    state = load_checkpoint(run, 0, template).agent
    params = jax.tree.map(lambda x: x[0], state)
    act = jax.vmap(lambda o: normalised_action(cfg.imported, params, o))
    unit = np.asarray(act(observations), np.float64)
    if not hasattr(parts.env, "low"):  # Brax envs take the actions as they are
        return unit
    low, high = np.asarray(parts.env.low), np.asarray(parts.env.high)
    return low + (unit + 1.0) * 0.5 * (high - low)


@pytest.mark.parametrize("name", list(MODELS))
def test_imported_actor_acts_as_sb3_predict(imported, name):
    recorded = reference(name)
    ours = env_actions(imported[name], recorded["observations"])
    np.testing.assert_allclose(ours, recorded["actions"], rtol=0, atol=1e-5)
    assert np.ptp(recorded["actions"]) > 0.01  # the actions do vary


@pytest.mark.parametrize("name", list(MODELS))
def test_unperturbed_return_is_the_one_sb3_recorded(imported, name):
    purd(
        run=str(imported[name]), perturb="param_noise", scale=SCALE, samples=8, **QUIET
    )
    arrays = purd_arrays(imported[name])
    expected = float(reference(name)["episode_return"])
    # Pendulum's dynamics keep last-bit differences small; MuJoCo's float chaos
    # bound is the one envpool and Gymnasium agree to (docs/mujoco.md)
    tolerance = 1e-4 if MODELS[name][0] == PENDULUM else 2e-5
    assert float(arrays["unperturbed_return"][0]) == pytest.approx(
        expected, rel=tolerance
    )
    assert np.ptp(arrays["undiscounted_return"]) > 0  # the noise moves the policy


@pytest.mark.invariant
@pytest.mark.parametrize(
    ("name", "perturb", "scale"),
    [
        ("td3", "param_noise", 2 * SCALE),
        ("sac", "init_state", 1.0),
        ("td3-hopper", "param_noise", 0.05),
    ],
)
def test_chunk_sizes_give_identical_arrays(imported, name, perturb, scale):
    common = {
        "run": str(imported[name]),
        "perturb": perturb,
        "scale": scale,
        "samples": 24,
        "sample_seed": 3,
        **QUIET,
    }
    purd(**common, chunk=8)
    first = purd_arrays(imported[name], perturb, scale)
    purd(**common, chunk=24, overwrite=True)
    second = purd_arrays(imported[name], perturb, scale)
    for key in ("undiscounted_return", "discounted_return", "length"):
        assert np.array_equal(first[key], second[key]), key
    assert np.unique(first["discounted_return"]).size > 1  # the noise does act


@pytest.mark.parametrize("name", ["td3", "td3-hopper"])
def test_lines_and_surfaces_meet_the_imported_policy(imported, name, tmp_path):
    run = imported[name]
    purd(run=str(run), perturb="param_noise", scale=SCALE, samples=8, **QUIET)
    centre = purd_arrays(run)["unperturbed_return"][0]
    line(run=str(run), checkpoint=0, points=3, span=0.5, **QUIET)
    path = load_line(run, 0, points=3, span=0.5)
    assert path.plain_return[1] == centre
    assert np.ptp(path.plain_return) > 0
    surface(run=str(run), checkpoint=0, grid=3, span=0.5, samples=0, **QUIET)
    plane = load_surface(run, checkpoint=0, grid=3, span=0.5)
    assert plane.plain_return[1, 1] == centre
    assert np.ptp(plane.plain_return) > 0
    if name == "td3":  # the summaries of a gym: run, once
        table = landscape_here("stats", f"run={run}", cwd=tmp_path)
        assert table.returncode == 0, table.stderr
        assert "param_noise" in table.stdout
        page = report(runs=[str(run)], out=str(tmp_path / "report"))
        html = (page / "index.html").read_text() if page.is_dir() else page.read_text()
        assert f"purd_{Path(run).name}_param_noise" in html and PENDULUM in html


def test_one_sb3_file_acts_on_gym_mujoco_and_brax_envs(tmp_path):
    """One policy from the task's exact initial state: Gymnasium's Hopper-v5 with
    reset noise 0 and envpool's (mujoco:, a fixed start) give the same episode; the
    same file runs on Brax's hopper too."""
    runs = {
        env: import_policy(
            source="sb3",
            params=str(SB3 / "td3-hopper.zip"),
            env=env,
            gym={"kwargs": {"reset_noise_scale": 0.0}},
            out=str(tmp_path / env.replace(":", "-")),
        )
        for env in (HOPPER, "mujoco:Hopper-v5")
    }
    for run in runs.values():
        purd(run=str(run), perturb="param_noise", scale=SCALE, samples=8, **QUIET)
    gym, envpool = (purd_arrays(run) for run in runs.values())
    assert gym["unperturbed_length"][0] == envpool["unperturbed_length"][0]
    assert float(gym["unperturbed_return"][0]) == pytest.approx(
        float(envpool["unperturbed_return"][0]), rel=2e-5
    )
    # the same file imported on Brax's hopper, whose sizes fit, acts the same (the
    # engine's episodes on Brax envs are those of every other imported run)
    brax = import_policy(
        source="sb3",
        params=str(SB3 / "td3-hopper.zip"),
        env="hopper",
        backend="spring",
        out=str(tmp_path / "brax"),
    )
    observations = reference("td3-hopper")["observations"]
    np.testing.assert_allclose(  # float64 rescaling by [-1, 1] aside, identical
        env_actions(brax, observations),
        env_actions(runs[HOPPER], observations),
        rtol=0,
        atol=1e-12,
    )


def test_gym_env_rescales_unit_actions_to_its_bounds():
    import gymnasium

    env = make_gym_env(PENDULUM, reset_seed=7)
    assert (env.observation_size, env.action_size) == (3, 1)
    assert (env.low, env.high) == ((-2.0,), (2.0,))
    pool, first = env.episode_pool(np.zeros((2, 2), np.uint32), 5)
    assert np.array_equal(first[0], first[1])  # one reset seed for a fixed start
    pool.step(np.array([[0.5], [-1.0]]))
    observation, reward, *_ = pool.step(np.array([[0.5], [-1.0]]))
    for row, torque in enumerate([1.0, -2.0]):  # [-1, 1] onto [-2, 2]
        direct = gymnasium.make("Pendulum-v1")
        direct.reset(seed=7)
        direct.step(np.array([torque]))
        expected, expected_reward, *_ = direct.step(np.array([torque]))
        np.testing.assert_array_equal(observation[row], expected)
        assert reward[row] == expected_reward


# ------------------------------------------------------------------ training


@pytest.fixture(scope="module")
def tiny_gym_run(tmp_path_factory):
    return train(TINY_GYM, out=str(tmp_path_factory.mktemp("gym-train") / "run"))


def test_gym_checkpoints_restore_every_leaf(tiny_gym_run):
    cfg = load_run_config(tiny_gym_run)
    trainer = get_trainer(cfg)
    snapshots = training_snapshots(trainer, cfg, STEPS)
    for step, expected in snapshots.items():
        assert_trees_equal(restore_state(trainer, cfg, tiny_gym_run, step), expected)
    assert snapshots[2000].env.observation.shape == (2, 3)
    assert snapshots[2000].replay.size.tolist() == [700, 700]


@pytest.mark.invariant
def test_gym_resume_equals_no_crash(tiny_gym_run, tmp_path):
    out = tmp_path / "resumed"
    train(TINY_GYM, out=str(out), stop_at=700)
    train(TINY_GYM, out=str(out), resume=True)
    assert_same_run(tiny_gym_run, out, STEPS)


def test_gym_bad_input_gets_one_line(imported, tmp_path):
    unknown = landscape_here("train", "env=gym:NoSuchEnv-v0", cwd=tmp_path)
    assert_one_error_line(unknown, "Gymnasium cannot make 'NoSuchEnv-v0'")
    discrete = landscape_here("train", "env=gym:CartPole-v1", cwd=tmp_path)
    assert_one_error_line(discrete, "one flat Box of continuous actions")
    sizes = landscape_here(
        "import",
        "source=sb3",
        f"params={SB3 / 'td3.zip'}",
        f"env={HOPPER}",
        cwd=tmp_path,
    )
    assert_one_error_line(sizes, "observations of 3 numbers", "gives 11")
    assert not any(tmp_path.glob("runs/*"))
    scaled = landscape_here(
        "purd",
        f"run={imported['sac']}",
        "perturb=init_state",
        "scale=2",
        "samples=8",
        cwd=tmp_path,
    )
    assert_one_error_line(scaled, "takes scale=1")


def test_cleanrl_imports_say_what_the_file_lacks(tmp_path):
    ppo = landscape_here(
        "import",
        "source=cleanrl",
        f"params={CLEANRL / 'ppo.cleanrl_model'}",
        f"env={PENDULUM}",
        "out=ppo",
        cwd=tmp_path,
    )
    assert ppo.returncode == 0, ppo.stderr
    warnings = [line for line in ppo.stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "NormalizeObservation" in warnings[0]
    assert load_run_config(tmp_path / "ppo").imported.action_low == [-2.0]  # the env's
    foreign = landscape_here(
        "import",
        "source=cleanrl",
        f"params={SB3 / 'td3.zip'}",
        f"env={PENDULUM}",
        cwd=tmp_path,
    )
    assert_one_error_line(foreign, "a zip, but not torch.save's")
    garbage = tmp_path / "garbage.cleanrl_model"
    garbage.write_bytes(b"\x00not a model")
    unreadable = landscape_here(
        "import", "source=cleanrl", f"params={garbage}", f"env={PENDULUM}", cwd=tmp_path
    )
    assert_one_error_line(unreadable, "neither torch.save's zip nor flax's msgpack")


def test_policy_api_takes_gym_names():
    import jax.numpy as jnp

    from return_landscapes import evaluate_policies, policy_path, policy_purd
    from return_landscapes.formats.jax_actor import jax_policy
    from return_landscapes.formats.sb3 import read_sb3

    actor = read_sb3(SB3 / "td3.zip")
    apply, params = jax_policy(actor)

    def unit_apply(p, observation):  # the toolkit's actions are in [-1, 1]
        return apply(p, observation) / 2.0

    other = jax.tree.map(lambda x: 1.5 * x, params)
    stacked = jax.tree.map(lambda a, b: jnp.stack([a, b]), params, other)
    plain = evaluate_policies(unit_apply, stacked, PENDULUM, horizon=200)
    returns = policy_purd(
        unit_apply, params, PENDULUM, perturb="init_state", samples=4, horizon=200
    )
    assert returns.shape == (4,) and np.unique(returns).size == 4  # own seeds
    assert float(plain.undiscounted_return[0]) not in returns.tolist()
    _, path = policy_path(unit_apply, params, other, PENDULUM, points=3, horizon=200)
    assert path[0] == plain.undiscounted_return[0]  # the ends, exactly
    assert path[-1] == plain.undiscounted_return[1] != path[1]


def test_a_standing_controller_lasts_as_long_on_gym_and_envpool_hopper():
    """A PD controller as a one-layer MLP actor (it keeps the hopper standing for
    1000 steps): Gymnasium's Hopper-v5 with reset noise 0, stepped by this package,
    against envpool's fixed start, within MuJoCo's float-chaos bound."""
    from return_landscapes import evaluate_policies
    from return_landscapes.formats.jax_actor import jax_policy
    from return_landscapes.formats.neutral import MlpActor

    kernel = np.zeros((11, 3), np.float32)
    kernel[2:5] = -0.5 * np.eye(3)  # joint angles
    kernel[8:11] = -0.3 * np.eye(3)  # joint velocities
    ones = np.ones(3, np.float32)
    actor = MlpActor((kernel,), (0 * ones,), "relu", "clip", -ones, ones, "td3")
    apply, params = jax_policy(actor)
    stacked = jax.tree.map(lambda x: x[None], params)
    standing = make_gym_env(HOPPER, {"reset_noise_scale": 0.0})
    gym = evaluate_policies(apply, stacked, standing, horizon=1000)
    envpool = evaluate_policies(apply, stacked, "mujoco:Hopper-v5", horizon=1000)
    assert gym.length.tolist() == envpool.length.tolist() == [1000]
    assert float(gym.undiscounted_return[0]) == pytest.approx(
        float(envpool.undiscounted_return[0]), rel=2e-5
    )


def test_trained_gym_run_paths_meet_their_checkpoints(tiny_gym_run):
    from return_landscapes.landscape.experiments.interpolate import interpolate
    from return_landscapes.store.interpolation import load_interpolation

    run = str(tiny_gym_run)
    interpolate(
        run=run,
        pairs="same_seed",
        points=3,
        samples=0,
        checkpoints=[1400, 2000],
        seeds=[0],
        **QUIET,
    )
    purd(
        run=run,
        perturb="action_noise",
        samples=8,
        checkpoints=[1400, 2000],
        seeds=[0],
        **QUIET,
    )
    path = load_interpolation(tiny_gym_run, (0, 1400, 0, 2000), None, 0.1)
    folder = tiny_gym_run / "landscape/purd/action_noise/scale_0.1"
    unperturbed = {
        step: read_result(folder / f"step_{step:09d}/seed_000.h5").arrays[
            "unperturbed_discounted_return"
        ][0]
        for step in (1400, 2000)
    }
    plain = path.arrays["plain_discounted_return"]
    assert plain[-1] == unperturbed[1400] and plain[0] == unperturbed[2000]
