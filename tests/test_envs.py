import jax
import jax.numpy as jnp
import pytest

from return_landscapes.envs.brax import (
    autoreset_step,
    make_env,
    reset_carry,
    run_episode,
)
from return_landscapes.errors import LandscapeError
from toy_env import Countdown, PointReach

pytestmark = pytest.mark.unit


def zero_policy(observation, key):
    return jnp.zeros(1)


@pytest.mark.parametrize("horizon, expected_length", [(10, 4), (3, 3)])
def test_run_episode_stops_at_termination_or_horizon(horizon, expected_length):
    stats = run_episode(Countdown(4), zero_policy, jax.random.PRNGKey(0), horizon)
    gamma = 0.99
    assert int(stats.length) == expected_length
    assert float(stats.undiscounted_return) == expected_length
    expected_discounted = sum(gamma**t for t in range(expected_length))
    assert float(stats.discounted_return) == pytest.approx(expected_discounted, 1e-6)


def test_autoreset_marks_termination_and_truncation():
    env = Countdown(3)
    carry = reset_carry(env, jax.random.PRNGKey(0))
    finished, discounts = [], []
    for i in range(7):
        carry, out = autoreset_step(env, carry, jnp.zeros(1), jax.random.PRNGKey(i), 5)
        finished.append(bool(out.finished))
        discounts.append(float(out.transition.discount))
    # Terminates on every third step: discount 0 there, fresh episode after.
    assert finished == [False, False, True, False, False, True, False]
    assert discounts == [1, 1, 0, 1, 1, 0, 1]

    env = PointReach()  # never terminates: the horizon truncates, discount stays 1
    carry = reset_carry(env, jax.random.PRNGKey(0))
    for i in range(5):
        carry, out = autoreset_step(env, carry, jnp.zeros(1), jax.random.PRNGKey(i), 5)
    assert bool(out.finished) and float(out.transition.discount) == 1.0
    assert int(carry.episode_step) == 0


def test_make_env_builds_brax_envs_by_name():
    env = make_env("hopper", reset_noise_scale=0.0)
    s1 = env.reset(jax.random.PRNGKey(0))
    s2 = env.reset(jax.random.PRNGKey(1))
    assert env.observation_size == 11 and env.action_size == 3
    assert jnp.array_equal(s1.obs, s2.obs)  # no start-state noise


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"name": "hoper"}, "unknown env 'hoper'"),
        ({"name": "hopper", "backend": "bullet"}, "unknown backend 'bullet'"),
        ({"name": "inverted_pendulum", "reset_noise_scale": 0.1}, "no start-state"),
        ({"name": "hopper", "reset_noise_scale": -1.0}, "negative"),
    ],
)
def test_make_env_rejects_bad_input_in_one_line(kwargs, fragment):
    with pytest.raises(LandscapeError, match=fragment) as err:
        make_env(**kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.unit
@pytest.mark.parametrize(
    "env, family",
    [("hopper", "brax"), ("atari:Pong-v5", "atari"), ("mujoco:Hopper-v5", "mujoco")],
)
def test_an_env_name_chooses_its_family(env, family):
    from return_landscapes.training.families import family_of

    assert family_of(env).name == family
    assert family_of(env).discrete_actions == (family == "atari")


@pytest.mark.parametrize(
    "name, meant",
    [
        ("Hopper-v5", "did you mean mujoco:Hopper-v5, hopper or gym:Hopper-v5?"),
        ("Breakout", "did you mean atari:Breakout-v5?"),
        ("BreakoutNoFrameskip-v4", "did you mean atari:Breakout-v5?"),
        ("Pendulum-v1", "did you mean gym:Pendulum-v1?"),
        ("Walker2D", "did you mean mujoco:Walker2d-v5 or walker2d?"),
    ],
)
def test_an_unknown_env_name_suggests_the_family_that_has_it(name, meant):
    with pytest.raises(LandscapeError) as err:
        make_env(name)
    message = str(err.value)
    assert message.startswith(f"unknown env '{name}': {meant} env names are")
    assert "\n" not in message


def test_an_unknown_env_name_lists_every_family():
    from return_landscapes.envs.names import unknown_env

    message = str(unknown_env("hopz", ["halfcheetah"]))
    assert "did you mean" not in message
    for family in ("halfcheetah", "mujoco:<Task>-v5", "atari:<Game>-v5", "gym:<id>"):
        assert family in message
    assert "envpool extra" not in message  # envpool is installed here


def test_without_envpool_the_hint_stays_and_the_extra_is_named(envpool_hidden):
    from return_landscapes.envs.mujoco import task_id
    from return_landscapes.envs.names import unknown_env

    message = str(unknown_env("Hopper-v5", ["hopper"]))
    assert "did you mean mujoco:Hopper-v5" in message
    assert message.endswith("mujoco: and atari: need the envpool extra")
    with pytest.raises(LandscapeError, match=r"return-landscapes\[envpool\]"):
        task_id("mujoco:Ant-v5")
