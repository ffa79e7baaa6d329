"""Policies trained elsewhere: `landscape import` of brax.training parameters and the
public API on plain parameters (`policy_purd`, `policy_surface`, ...)."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import assert_one_error_line, counted_compiles, landscape_here
from return_landscapes import (
    LandscapeError,
    evaluate_policies,
    import_policy,
    load_purd,
    load_surface,
    policy_path,
    policy_purd,
    policy_surface,
    purd,
    report,
    surface,
)
from return_landscapes.agents.brax_policy import actor_state_from_brax
from return_landscapes.envs.brax import import_quietly, make_env
from return_landscapes.store import purd as purd_store
from test_train import assert_trees_equal
from toy_env import PointReach

HIDDEN = [8, 8]  # a tiny brax.training PPO policy (its default is [32] * 4)
HORIZON = 60
SCALE = 3e-2
SAMPLES = 8
BACKEND = "spring"  # compiles fastest
QUIET = {"progress": False, "horizon": HORIZON}


def brax_ppo_params(seed: int = 1):
    """brax.training PPO parameters as its train() returns them: (normalizer,
    policy, value), built with its own networks, the normalizer fed observations."""
    networks = import_quietly("brax.training.agents.ppo.networks")
    statistics = import_quietly("brax.training.acme.running_statistics")
    specs = import_quietly("brax.training.acme.specs")
    env = make_env("hopper", BACKEND, 0.0)
    net = networks.make_ppo_networks(
        env.observation_size,
        env.action_size,
        preprocess_observations_fn=statistics.normalize,
        policy_hidden_layer_sizes=tuple(HIDDEN),
        value_hidden_layer_sizes=(8,),
    )
    policy_key, value_key, data_key = jax.random.split(jax.random.PRNGKey(seed), 3)
    normalizer = statistics.init_state(specs.Array((env.observation_size,), "float32"))
    observations = 0.5 + 2.0 * jax.random.normal(data_key, (64, env.observation_size))
    normalizer = statistics.update(normalizer, observations)
    params = (
        normalizer,
        net.policy_network.init(policy_key),
        net.value_network.init(value_key),
    )
    return net, params


@pytest.fixture(scope="module")
def params_file(tmp_path_factory):
    model = import_quietly("brax.io.model")
    net, params = brax_ppo_params()
    path = tmp_path_factory.mktemp("brax") / "ppo_params.pkl"
    model.save_params(str(path), params)
    return path, net


@pytest.fixture(scope="module")
def imported_run(params_file, tmp_path_factory):
    path, _ = params_file
    out = tmp_path_factory.mktemp("imported") / "run"
    return import_policy(
        source="brax_ppo",
        params=str(path),
        env="hopper",
        out=str(out),
        hidden_sizes=HIDDEN,
        normalize_observations=True,
        horizon=HORIZON,
        backend=BACKEND,
    )


def direct_rollout(net, params, horizon: int) -> float:
    """The return of brax.training's own deterministic policy on a fixed start
    state, stepped one env step at a time (no vmap, no chunks)."""
    networks = import_quietly("brax.training.agents.ppo.networks")
    policy = jax.jit(networks.make_inference_fn(net)(params, deterministic=True))
    env = make_env("hopper", BACKEND, 0.0)
    step = jax.jit(env.step)
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    total = 0.0
    for _ in range(horizon):
        action, _ = policy(state.obs, jax.random.PRNGKey(0))
        state = step(state, action)
        total += float(state.reward)
        if float(state.done):
            break
    return total


def test_imported_brax_policy_gives_purd_surface_and_report(
    params_file, imported_run, tmp_path
):
    path, net = params_file
    brax_params = import_quietly("brax.io.model").load_params(str(path))
    purd(
        run=str(imported_run),
        perturb="param_noise",
        scale=SCALE,
        samples=SAMPLES,
        **QUIET,
    )
    result = purd_store.load_purd_result(imported_run, 0, "param_noise", SCALE)
    unperturbed = float(result.arrays["unperturbed_return"][0])
    expected = direct_rollout(net, brax_params, HORIZON)
    assert unperturbed == pytest.approx(expected, rel=1e-4)
    returns = load_purd(imported_run, 0, "param_noise", SCALE)
    assert returns.shape == (1, SAMPLES) and np.all(np.isfinite(returns))
    assert np.ptp(returns) > 0  # the noise moves the policy

    surface(run=str(imported_run), checkpoint=0, grid=3, span=0.5, samples=0, **QUIET)
    plane = load_surface(imported_run, checkpoint=0, grid=3, span=0.5)
    assert plane.plain_return.shape == (3, 3)
    assert plane.plain_return[1, 1] == pytest.approx(unperturbed, rel=1e-5)
    assert np.ptp(plane.plain_return) > 0

    page = report(runs=[str(imported_run)], out=str(tmp_path / "report"))
    html = (page / "index.html").read_text() if page.is_dir() else page.read_text()
    assert "purd_run_param_noise" in html
    assert "landscape reject" not in html  # nothing asks for what cannot apply


def test_public_api_matches_the_commands(params_file, imported_run):
    """`policy_purd` on the same parameters draws the same samples as
    `landscape purd` on the imported run (step 0, seed 0)."""
    path, net = params_file
    saved = import_quietly("brax.io.model").load_params(str(path))
    params = actor_state_from_brax(saved, "brax_ppo")
    networks = import_quietly("brax.training.agents.ppo.networks")
    statistics = import_quietly("brax.training.acme.running_statistics")
    make_policy = networks.make_inference_fn(net)

    def apply(p, observation):
        normalizer = statistics.NestedMeanStd(
            mean=p["normalizer"]["mean"], std=p["normalizer"]["std"]
        )
        return make_policy((normalizer, p["policy"]), True)(observation, None)[0]

    returns = policy_purd(
        apply,
        params,
        "hopper",
        scale=SCALE,
        samples=SAMPLES,
        horizon=HORIZON,
        backend=BACKEND,
    )
    purd(
        run=str(imported_run),
        perturb="param_noise",
        scale=SCALE,
        samples=SAMPLES,
        **QUIET,
    )
    np.testing.assert_array_equal(
        returns, load_purd(imported_run, 0, "param_noise", SCALE)[0]
    )


@pytest.mark.unit
def test_policy_api_on_a_toy_env_by_value():
    """A path's ends are the two policies' own returns; a policy that ignores its
    weights returns the same all over the plane; parameter noise moves returns."""

    def apply(params, observation):
        return jnp.tanh(observation @ params["w"])

    start, end = {"w": jnp.asarray([[0.5], [-1.0]])}, {"w": jnp.asarray([[2.0], [0.1]])}
    env = PointReach()
    alphas, returns = policy_path(apply, start, end, env, points=3, horizon=30)
    np.testing.assert_array_equal(alphas, [0.0, 0.5, 1.0])
    ends = jax.tree.map(lambda a, b: jnp.stack([a, b]), start, end)
    direct = evaluate_policies(apply, ends, env, horizon=30).undiscounted_return
    np.testing.assert_array_equal(returns[[0, 2]], direct)
    assert len(set(returns.tolist())) == 3

    axis, grid = policy_surface(
        lambda params, obs: jnp.zeros(1), start, env, grid=3, horizon=30
    )
    np.testing.assert_array_equal(axis, [-1.0, 0.0, 1.0])
    assert np.all(grid == grid[1, 1])

    noisy = policy_purd(apply, start, env, scale=0.5, samples=8, horizon=30)
    assert noisy.shape == (8,) and np.all(np.isfinite(noisy)) and np.ptp(noisy) > 0


@pytest.mark.unit
def test_update_perturbations_are_refused_for_plain_parameters():
    with pytest.raises(LandscapeError, match="param_noise, param_noise_per_step"):
        policy_purd(
            lambda p, o: jnp.zeros(3), {"w": jnp.zeros(3)}, "hopper", perturb="td3"
        )


def toy_apply(params, observation):
    return jnp.tanh(observation @ params["w"])


@pytest.mark.unit
def test_a_second_identical_policy_call_compiles_nothing_and_a_new_shape_does():
    """The seed, scale and parameter values are data; the sample count a shape."""
    env, params = PointReach(), {"w": jnp.asarray([[0.5], [-1.0]])}
    options = {"scale": 0.5, "samples": 8, "horizon": 30}
    moved = {"w": params["w"] + 1}
    first = policy_purd(toy_apply, params, env, **options)
    with counted_compiles() as again:
        same = policy_purd(toy_apply, params, env, **options)
        policy_purd(toy_apply, moved, env, **options | {"seed": 3})
        policy_purd(toy_apply, params, env, **options | {"scale": 0.2})
    assert not again
    np.testing.assert_array_equal(same, first)
    with counted_compiles() as reshaped:
        policy_purd(toy_apply, params, env, **options | {"samples": 16})
    assert reshaped


@pytest.mark.unit
def test_non_finite_parameters_are_refused_before_any_compile():
    """Every policy-API entry refuses NaN or infinity in any leaf, naming it."""
    bad = {"w": jnp.asarray([[0.5], [jnp.inf]]), "b": jnp.zeros(1)}
    good = {"w": jnp.zeros((2, 1)), "b": jnp.zeros(1)}
    stacked = jax.tree.map(lambda a: a[None], bad)
    env = PointReach()
    calls = [
        ("params['w']", lambda: policy_purd(jnp.dot, bad, env, samples=2)),
        ("end['w']", lambda: policy_path(jnp.dot, good, bad, env)),
        ("params['w']", lambda: policy_surface(jnp.dot, bad, env, grid=3)),
        ("params['w']", lambda: evaluate_policies(jnp.dot, stacked, env)),
    ]
    for leaf, call in calls:
        refused = pytest.raises(LandscapeError, match=re.escape(leaf))
        with counted_compiles() as compiled, refused:
            call()
        assert not compiled


def test_import_names_what_does_not_fit(params_file, tmp_path):
    path, _ = params_file
    common = {"source": "brax_ppo", "params": str(path), "normalize_observations": True}
    with pytest.raises(
        LandscapeError, match=r"hidden layers \[8, 8\].*hidden_sizes=\[8,8\]"
    ):
        import_policy(**common, out=str(tmp_path / "a"))  # brax's default [32] * 4
    with pytest.raises(
        LandscapeError, match="observations of 11 numbers and env 'ant'"
    ):
        import_policy(**common, hidden_sizes=HIDDEN, env="ant", out=str(tmp_path / "b"))
    not_pickle = tmp_path / "params.txt"
    not_pickle.write_text("not a pickle")
    with pytest.raises(LandscapeError, match=r"cannot be read as brax\.io\.model"):
        import_policy(
            source="brax_ppo", params=str(not_pickle), out=str(tmp_path / "c")
        )
    assert not any(p.name in "abc" for p in tmp_path.iterdir())  # nothing written


def test_imported_run_refuses_updates_in_one_line(imported_run, tmp_path):
    result = landscape_here("purd", f"run={imported_run}", "perturb=ppo", cwd=tmp_path)
    assert_one_error_line(
        result, "perturb=ppo", "imported from brax_ppo", "param_noise"
    )
    result = landscape_here(
        "reject", f"run={imported_run}", "checkpoint=0", cwd=tmp_path
    )
    assert_one_error_line(result, "rejection continues training")
    result = landscape_here(
        "import", "source=brax_ppo", f"params={tmp_path}/none.pkl", cwd=tmp_path
    )
    assert_one_error_line(result, "is not a file")
    existing = landscape_here(
        "import", "source=brax_ppo", f"params={imported_run}/config.yaml",
        f"out={imported_run}", cwd=tmp_path,
    )  # fmt: skip
    assert_one_error_line(existing, "already exists")


def test_imported_sac_policy_acts_as_brax_inference(tmp_path):
    """A brax.training SAC file (relu, [256, 256] by default): the imported run's
    restored policy gives brax.training's own deterministic actions."""
    from return_landscapes.landscape.hotpath.engine import policy_apply
    from return_landscapes.rundir import load_run_config
    from return_landscapes.training.state import restore_without_replay_rows
    from return_landscapes.training.trainers import get_parts

    networks = import_quietly("brax.training.agents.sac.networks")
    statistics = import_quietly("brax.training.acme.running_statistics")
    specs = import_quietly("brax.training.acme.specs")
    net = networks.make_sac_networks(11, 3, statistics.normalize)
    normalizer = statistics.update(
        statistics.init_state(specs.Array((11,), "float32")),
        3.0 * jax.random.normal(jax.random.PRNGKey(2), (32, 11)),
    )
    saved = (normalizer, net.policy_network.init(jax.random.PRNGKey(3)))
    path = tmp_path / "sac.pkl"
    import_quietly("brax.io.model").save_params(str(path), saved)
    run = import_policy(
        source="brax_sac",
        params=str(path),
        out=str(tmp_path / "run"),
        normalize_observations=True,
        step=7,
    )
    run_cfg = load_run_config(run)
    parts = get_parts(run_cfg)
    state = restore_without_replay_rows(parts, run_cfg, run, 7)
    params = jax.tree.map(lambda x: x[0], state.agent)
    observations = jax.random.normal(jax.random.PRNGKey(4), (5, 11))
    ours = jax.vmap(lambda o: policy_apply(parts.agent)(params, o))(observations)
    theirs = networks.make_inference_fn(net)(saved, deterministic=True)
    expected = jax.vmap(lambda o: theirs(o, None)[0])(observations)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-7)
    assert np.ptp(np.asarray(ours)) > 0

    # the same parameters as brax.training's SAC training checkpoints them (orbax)
    checkpoint = import_quietly("brax.training.agents.sac.checkpoint")
    config = checkpoint.network_config(11, 3, True, networks.make_sac_networks)
    checkpoint.save(tmp_path / "ckpt", 7, saved, config)
    folder = import_policy(
        source="brax_sac",
        params=str(tmp_path / "ckpt" / f"{7:012d}"),
        out=str(tmp_path / "from-checkpoint"),
        step=7,
    )
    again = restore_without_replay_rows(parts, run_cfg, folder, 7)
    assert_trees_equal(again.agent, state.agent)
    assert load_run_config(folder).imported.normalize_observations


@pytest.mark.unit
def test_every_import_source_is_registered_once():
    from return_landscapes.conf import ImportSource
    from return_landscapes.training.imported import SOURCES

    assert list(SOURCES) == list(ImportSource)
    assert SOURCES[ImportSource.brax_ppo].hidden_sizes == (32, 32, 32, 32)


def test_brax_orbax_checkpoint_acts_as_brax_inference(tmp_path):
    """A step folder written by brax.training's own checkpoint.save (orbax arrays and
    ppo_network_config.json) is imported with its network read from the config."""
    import functools

    import flax.linen as nn

    networks = import_quietly("brax.training.agents.ppo.networks")
    checkpoint = import_quietly("brax.training.agents.ppo.checkpoint")
    _, params = brax_ppo_params(seed=4)
    factory = functools.partial(
        networks.make_ppo_networks,
        policy_hidden_layer_sizes=tuple(HIDDEN),
        value_hidden_layer_sizes=(8,),
        activation=nn.tanh,
    )
    env = make_env("hopper", BACKEND, 0.0)
    config = checkpoint.network_config(
        env.observation_size, env.action_size, True, factory
    )
    checkpoint.save(tmp_path / "ckpt", 7, params, config)
    folder = tmp_path / "ckpt" / f"{7:012d}"
    run = import_policy(
        source="brax_ppo",
        params=str(folder),
        env="hopper",
        backend=BACKEND,
        step=7,
        out=str(tmp_path / "run"),
    )
    from return_landscapes.rundir import load_checkpoint, load_run_config
    from return_landscapes.training.trainers import make_parts

    cfg = load_run_config(run)
    assert (cfg.imported.hidden_sizes, cfg.imported.activation.value) == (
        HIDDEN,
        "tanh",
    )
    assert cfg.imported.normalize_observations
    parts = make_parts(cfg)
    template = parts.init(jax.random.split(jax.random.PRNGKey(0), 1))
    state = jax.tree.map(lambda x: x[0], load_checkpoint(run, 7, template).agent)
    tanh_net = factory(
        env.observation_size,
        env.action_size,
        preprocess_observations_fn=import_quietly(
            "brax.training.acme.running_statistics"
        ).normalize,
    )
    theirs = networks.make_inference_fn(tanh_net)(
        checkpoint.load(folder), deterministic=True
    )
    observations = 2.0 * jax.random.normal(jax.random.PRNGKey(5), (64, 11))
    ours = jax.vmap(lambda o: parts.agent.policy(state)(o, None))(observations)
    expected = jax.vmap(lambda o: theirs(o, jax.random.PRNGKey(0))[0])(observations)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)
    assert np.ptp(np.asarray(expected)) > 0.1

    config.network_factory_kwargs["distribution_type"] = "normal"
    checkpoint.save(tmp_path / "normal", 7, params, config)
    refused = landscape_here(
        "import",
        "source=brax_ppo",
        f"params={tmp_path / 'normal' / f'{7:012d}'}",
        "env=hopper",
        cwd=tmp_path,
    )
    assert_one_error_line(refused, "distribution_type='normal'", "does not rebuild")
