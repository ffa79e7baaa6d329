"""An SB3 TD3, SAC or PPO imported with its training state: one update of ours
moves the networks as SB3's own ``train`` does, and its ``td3`` / ``sac`` PURDs
run on the replay it saved, its ``ppo`` PURDs on fresh rollouts.

Fixtures: ``tests/fixtures/sb3/make_update_fixtures.py`` (SB3 itself, in an
environment of its own)."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import assert_one_error_line, landscape_here
from return_landscapes import import_policy, load_purd, load_rejection, reject
from return_landscapes.formats.sb3_training import read_sb3_replay
from return_landscapes.landscape.experiments.purd import purd
from return_landscapes.rundir import load_run_config, read_manifest
from return_landscapes.store import read_result
from return_landscapes.training.state import restore_state
from return_landscapes.training.trainers import get_parts, get_trainer
from return_landscapes.types import Transition

SB3 = Path(__file__).parent / "fixtures" / "sb3"
MODEL, REPLAY = SB3 / "td3-update.zip", SB3 / "td3-update-replay.pkl"
SAC_MODEL, SAC_REPLAY = SB3 / "sac-update.zip", SB3 / "sac-update-replay.pkl"
PPO_MODEL = SB3 / "ppo-update.zip"
PENDULUM = "gym:Pendulum-v1"


@pytest.fixture(scope="module")
def td3_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sb3_update") / "run"
    return import_policy(
        source="sb3", params=str(MODEL), replay=str(REPLAY), env=PENDULUM, out=str(out)
    )


@pytest.fixture(scope="module")
def sac_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sb3_sac_update") / "run"
    return import_policy(
        source="sb3",
        params=str(SAC_MODEL),
        replay=str(SAC_REPLAY),
        env=PENDULUM,
        out=str(out),
    )


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sb3_ppo_update") / "run"
    return import_policy(
        source="sb3",
        params=str(PPO_MODEL),
        training_state=True,
        env="mujoco:Hopper-v5",
        out=str(out),
    )


def reference(algo: str = "td3"):
    return np.load(SB3 / f"{algo}-update-reference.npz")


def imported_agent(run, step: int):
    """The run's agent functions and its one seed's state at ``step``."""
    cfg = load_run_config(run)
    state = restore_state(get_trainer(cfg), cfg, run, step)
    return get_parts(cfg).agent, jax.tree.map(lambda x: x[0], state.agent)


def recorded_batch(ref) -> Transition:
    """The minibatch SB3 sampled, as the toolkit's transitions."""
    return Transition(
        observation=jnp.asarray(ref["observations"]),
        action=jnp.asarray(ref["actions"]),
        reward=jnp.asarray(ref["rewards"][:, 0]),
        next_observation=jnp.asarray(ref["next_observations"]),
        discount=jnp.asarray(1.0 - ref["dones"][:, 0]),
    )


def test_the_import_is_a_td3_run_with_sb3s_settings_and_replay(td3_run):
    cfg = load_run_config(td3_run)
    assert cfg.algo.value == "td3" and cfg.steps == 400 and cfg.checkpoints == [400]
    assert cfg.td3.actor_objective.value == "first_q"
    assert (cfg.td3.hidden_sizes, cfg.td3.actor_lr) == ([16, 16], 1e-3)
    assert (cfg.td3.replay_capacity, cfg.td3.random_start_steps) == (1000, 100)
    manifest = read_manifest(td3_run)
    assert manifest["imported"]["source"] == "sb3"
    assert len(manifest["imported"]["replay_sha256"]) == 64
    state = restore_state(get_trainer(cfg), cfg, td3_run, 400)
    buffer = read_sb3_replay(REPLAY)
    assert int(state.replay.size[0]) == 400 and int(state.replay.position[0]) == 400
    rows = jax.tree.map(lambda x: np.asarray(x[0, :400]), state.replay.data)
    np.testing.assert_array_equal(rows.observation, buffer.observations[:400])
    np.testing.assert_array_equal(rows.next_observation, buffer.next_observations[:400])
    np.testing.assert_array_equal(rows.reward, buffer.rewards[:400])
    # Pendulum's episodes end by time-out only: no row stops the bootstrap
    assert buffer.dones[:400].sum() == 2 and np.all(rows.discount == 1.0)
    before = reference()
    kernel = state.agent.actor_params["params"]["MLP_0"]["Dense_0"]["kernel"][0]
    np.testing.assert_array_equal(kernel, before["before:mu.0.weight"].T)


def test_one_update_moves_the_actor_as_sb3s_train_does(td3_run):
    """SB3's ``train(gradient_steps=1)`` with its critics held (see the fixture
    script) against our ``td3`` actor update, on the same recorded minibatch, from
    the Adam state SB3 saved."""
    agent, agent_state = imported_agent(td3_run, 400)
    ref = reference()
    rate = float(ref["learning_rate"])
    updated = agent.actor_update(
        agent_state, recorded_batch(ref), jax.random.PRNGKey(0), rate
    )
    layers = updated.actor_params["params"]["MLP_0"]
    moved = 0.0
    for i, index in enumerate((0, 2, 4)):
        after_w, after_b = (
            ref[f"after:mu.{index}.weight"],
            ref[f"after:mu.{index}.bias"],
        )
        np.testing.assert_allclose(layers[f"Dense_{i}"]["kernel"], after_w.T, atol=1e-5)
        np.testing.assert_allclose(layers[f"Dense_{i}"]["bias"], after_b, atol=1e-5)
        moved = max(moved, np.abs(after_w - ref[f"before:mu.{index}.weight"]).max())
    assert moved > 1e-3  # the step is far above the tolerance
    assert (
        int(updated.actor_opt_state.count) == int(agent_state.actor_opt_state.count) + 1
    )


def test_td3_purd_of_the_import_at_rate_zero_is_the_unperturbed_return(td3_run):
    purd(run=str(td3_run), perturb="td3", scale=0.0, samples=8, progress=False)
    returns = load_purd(td3_run, 400, "td3", 0.0)
    path = td3_run / "landscape/purd/td3/scale_0.0/step_000000400/seed_000.h5"
    arrays = read_result(path).arrays
    assert np.all(returns[0] == arrays["unperturbed_return"][0])
    purd(run=str(td3_run), perturb="td3", samples=8, progress=False)  # SB3's rate
    moved = load_purd(td3_run, 400, "td3", 1e-3)
    assert np.isfinite(moved).all() and np.unique(moved).size > 1


def test_the_sac_import_is_sb3s_sac_with_its_temperature(sac_run):
    cfg = load_run_config(sac_run)
    assert cfg.algo.value == "sac" and cfg.checkpoints == [400]
    sac = cfg.sac
    assert (sac.log_std_bound.value, sac.log_std_min, sac.tanh_epsilon) == (
        "clip",
        -20.0,
        1e-6,
    )
    assert (sac.temperature_loss.value, sac.target_entropy) == ("log_temperature", -1)
    assert (sac.hidden_sizes, sac.actor_lr, sac.temperature_lr) == (
        [16, 16],
        3e-4,
        3e-4,
    )
    state = restore_state(get_trainer(cfg), cfg, sac_run, 400)
    temperature = float(np.exp(state.agent.log_temperature[0]))
    assert temperature == pytest.approx(float(reference("sac")["ent_coef"]), rel=1e-6)
    rows = jax.tree.map(lambda x: np.asarray(x[0, :400]), state.replay.data)
    buffer = read_sb3_replay(SAC_REPLAY)
    np.testing.assert_array_equal(rows.action, buffer.actions[:400])


def test_one_sac_update_moves_the_actor_as_sb3s_train_does(sac_run):
    """SB3's SAC ``train(gradient_steps=1)`` with its critics held, against our
    ``sac`` actor update from SB3's Adam state and temperature, on the recorded
    minibatch and the standard-normal noise torch drew for it (the only draw in an
    actor update, so ``jax.random.normal`` returns it here)."""
    agent, agent_state = imported_agent(sac_run, 400)
    ref = reference("sac")
    noise = jnp.asarray(ref["noise"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jax.random, "normal", lambda key, shape, dtype=None: noise)
        updated = agent.actor_update(
            agent_state,
            recorded_batch(ref),
            jax.random.PRNGKey(0),
            float(ref["learning_rate"]),
        )
    params = updated.actor_params["params"]
    names = {"Dense_0": "latent_pi.0", "Dense_1": "latent_pi.2"}
    names |= {"mean": "mu", "log_std": "log_std"}
    moved = 0.0
    for ours, theirs in names.items():
        after_w, after_b = ref[f"after:{theirs}.weight"], ref[f"after:{theirs}.bias"]
        np.testing.assert_allclose(params[ours]["kernel"], after_w.T, atol=1e-6)
        np.testing.assert_allclose(params[ours]["bias"], after_b, atol=1e-6)
        moved = max(moved, np.abs(after_w - ref[f"before:{theirs}.weight"]).max())
    assert moved > 1e-4  # SB3's step (its rate is 3e-4) is far above the tolerance
    assert float(updated.log_temperature) == float(agent_state.log_temperature)


def test_sac_purd_of_the_import_at_rate_zero_is_the_unperturbed_return(sac_run):
    purd(run=str(sac_run), perturb="sac", scale=0.0, samples=8, progress=False)
    returns = load_purd(sac_run, 400, "sac", 0.0)
    path = sac_run / "landscape/purd/sac/scale_0.0/step_000000400/seed_000.h5"
    assert np.all(returns[0] == read_result(path).arrays["unperturbed_return"][0])


def test_the_ppo_import_is_sb3s_ppo(ppo_run):
    cfg = load_run_config(ppo_run)
    assert cfg.algo.value == "ppo" and cfg.checkpoints == [128]
    ppo = cfg.ppo
    assert (ppo.num_envs, ppo.unroll_length, ppo.num_minibatches, ppo.epochs) == (
        1,
        64,
        2,
        2,
    )
    assert (ppo.value_cost, ppo.max_grad_norm, ppo.adam_eps) == (1.0, 0.5, 1e-5)
    assert (ppo.advantage_ddof, ppo.bootstrap_truncation) == (1, True)
    assert (ppo.policy.value, ppo.autoreset.value) == ("clipped_gaussian", "fresh")
    state = restore_state(get_trainer(cfg), cfg, ppo_run, 128)
    assert int(state.agent.opt_state[1].count[0]) == 8  # 2 iterations x 2 x 2 steps


def test_one_ppo_minibatch_step_moves_the_networks_as_sb3s_train_does(ppo_run):
    """SB3's PPO ``train()`` on one minibatch (``n_epochs=1``, its buffer pinned to
    a minibatch it gave; see the fixture script) against our ``ppo`` minibatch step
    from SB3's Adam state: policy mean, log std and value alike."""
    from return_landscapes.agents.ppo import Batch
    from return_landscapes.training.imported_sb3_ppo import ppo_trees

    agent, agent_state = imported_agent(ppo_run, 128)
    ref = reference("ppo")
    batch = Batch(
        observation=jnp.asarray(ref["observations"]),
        raw_action=jnp.asarray(ref["actions"]),
        log_prob=jnp.asarray(ref["old_log_prob"]),
        advantage=jnp.asarray(ref["advantages"]),
        value_target=jnp.asarray(ref["returns"]),
    )
    updated, _ = agent.minibatch_step(agent_state, batch, float(ref["learning_rate"]))

    def named(prefix):
        return ppo_trees(
            {k[len(prefix) :]: ref[k] for k in ref if k[: len(prefix)] == prefix}
        )

    after, before = named("after:"), named("before:")
    ours = {"policy": updated.policy_params, "value": updated.value_params}
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6), ours, after)
    moved = jax.tree.map(lambda a, b: np.abs(a - b).max(), after, before)
    assert min(jax.tree.leaves(moved)) > 1e-4  # every leaf moves, far above 1e-6


def test_ppo_purd_of_the_import_at_rate_zero_is_the_unperturbed_return(ppo_run):
    purd(run=str(ppo_run), perturb="ppo", scale=0.0, samples=8, progress=False)
    returns = load_purd(ppo_run, 128, "ppo", 0.0)
    path = ppo_run / "landscape/purd/ppo/scale_0.0/step_000000128/seed_000.h5"
    assert np.all(returns[0] == read_result(path).arrays["unperturbed_return"][0])


def test_a_training_import_of_other_files_gets_one_line(tmp_path):
    import zipfile

    fixed = tmp_path / "fixed-ent-coef.zip"  # a SAC zip as SB3 writes ent_coef=0.1
    with zipfile.ZipFile(SAC_MODEL) as source, zipfile.ZipFile(fixed, "w") as out:
        for name in source.namelist():
            if name != "ent_coef_optimizer.pth":
                out.writestr(name, source.read(name))
    sac = landscape_here(
        "import",
        "source=sb3",
        f"params={fixed}",
        f"replay={SAC_REPLAY}",
        f"env={PENDULUM}",
        cwd=tmp_path,
    )
    assert_one_error_line(sac, "a SAC with a fixed ent_coef", 'ent_coef="auto"')
    other = landscape_here(
        "import",
        "source=cleanrl",
        f"params={SB3.parent / 'cleanrl' / 'td3.cleanrl_model'}",
        f"replay={REPLAY}",
        f"env={PENDULUM}",
        cwd=tmp_path,
    )
    assert_one_error_line(other, "replay= applies to source=sb3", "drop replay=")
    pendulum_ppo = landscape_here(
        "import",
        "source=sb3",
        f"params={SB3 / 'ppo.zip'}",
        "training_state=true",
        f"env={PENDULUM}",
        cwd=tmp_path,
    )
    assert_one_error_line(pendulum_ppo, "acts in [-2.0, 2.0]", "actions in [-1, 1]")
    ppo_replay = landscape_here(
        "import",
        "source=sb3",
        f"params={PPO_MODEL}",
        f"replay={REPLAY}",
        "env=mujoco:Hopper-v5",
        cwd=tmp_path,
    )
    assert_one_error_line(ppo_replay, "fresh rollouts", "drop replay=")
    td3_alone = landscape_here(
        "import",
        "source=sb3",
        f"params={MODEL}",
        "training_state=true",
        f"env={PENDULUM}",
        cwd=tmp_path,
    )
    assert_one_error_line(td3_alone, "samples its replay buffer", "pass replay=")
    wrong_buffer = landscape_here(
        "import",
        "source=sb3",
        f"params={MODEL}",
        f"replay={MODEL}",
        f"env={PENDULUM}",
        cwd=tmp_path,
    )
    assert_one_error_line(wrong_buffer, "replay=", "save_replay_buffer")
    assert not any(tmp_path.glob("runs/*"))


@pytest.mark.parametrize("algo", ["td3", "sac"])
def test_rejection_trains_on_from_the_import(algo, td3_run, sac_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    imported = td3_run if algo == "td3" else sac_run
    shutil.copytree(imported, run, ignore=shutil.ignore_patterns("landscape"))
    reject(
        run=str(run),
        checkpoint=400,
        seed=0,
        criterion="none",
        max_steps=20,
        check_interval=10,
        samples=8,
        repeats=1,
        progress=False,
    )
    (trace,) = load_rejection(run, 400, 0, "none")
    assert trace.arrays["accepted"].shape == (3,)  # the root and two checks
    assert np.isfinite(trace.arrays["cvar"]).all()


def test_an_update_purd_of_a_policy_only_sb3_import_names_replay(tmp_path):
    run = import_policy(
        source="sb3", params=str(MODEL), env=PENDULUM, out=str(tmp_path / "policy")
    )
    refused = landscape_here("purd", f"run={run}", "perturb=td3", cwd=tmp_path)
    assert_one_error_line(refused, "perturb=td3 needs", "param_noise", "replay=")


@pytest.mark.unit
def test_a_ppo_clip_range_is_read_only_when_constant():
    import base64
    import json
    import pickle
    import zipfile

    from return_landscapes.formats.sb3_training import _constant

    data = json.loads(zipfile.ZipFile(PPO_MODEL).read("data"))
    assert _constant(data["clip_range"]) == 0.2  # FloatSchedule(ConstantSchedule)
    assert _constant(0.1) == 0.1
    other = base64.b64encode(pickle.dumps(Transition)).decode()  # a refused global
    assert _constant({":serialized:": other}) is None
    assert _constant({":serialized:": "bm90IGEgcGlja2xl"}) is None


@pytest.mark.unit
def test_train_frequency_reads_sb3s_pickled_train_freq_without_sb3():
    import json
    import zipfile

    from return_landscapes.formats.sb3_training import train_frequency

    data = json.loads(zipfile.ZipFile(MODEL).read("data"))
    assert train_frequency(data) == (1, "step")
    assert train_frequency({"train_freq": [4, "episode"]}) == (4, "episode")
    assert train_frequency({"train_freq": {":serialized:": "bm90IGEgcGlja2xl"}}) is None


def test_a_hopper_import_stops_the_bootstrap_where_sb3_saw_a_termination(tmp_path):
    model, replay = SB3 / "td3-hopper-update.zip", SB3 / "td3-hopper-update-replay.pkl"
    run = import_policy(
        source="sb3",
        params=str(model),
        replay=str(replay),
        env="mujoco:Hopper-v5",
        out=str(tmp_path / "hopper"),
    )
    cfg = load_run_config(run)
    state = restore_state(get_trainer(cfg), cfg, run, 300)
    buffer = read_sb3_replay(replay)
    discount = np.asarray(state.replay.data.discount[0, :300])
    ended = (buffer.dones[:300] == 1) & (buffer.timeouts[:300] == 0)
    assert ended.sum() > 3  # Hopper's episodes end by falling
    np.testing.assert_array_equal(discount, np.where(ended, 0.0, 1.0))
    purd(run=str(run), perturb="td3", scale=0.0, samples=8, progress=False)
    path = run / "landscape/purd/td3/scale_0.0/step_000000300/seed_000.h5"
    arrays = read_result(path).arrays
    assert np.all(arrays["undiscounted_return"] == arrays["unperturbed_return"][0])
