"""An SB3 PPO with its training state as a PPO run of the toolkit's own
(``landscape import source=sb3 params=model.zip training_state=true``).

SB3's PPO (a Gaussian ``MlpPolicy``, ``net_arch`` the same for ``pi`` and ``vf``)
is the toolkit's PPO with ``ppo.policy=clipped_gaussian`` and:

- separate tanh MLPs for the policy mean and the value, and a state-independent
  ``log_std`` (SB3's ``mlp_extractor.policy_net`` + ``action_net`` and
  ``mlp_extractor.value_net`` + ``value_net``);
- one Adam over every parameter behind global-norm clipping at ``max_grad_norm``,
  its epsilon SB3's (``adam_eps``, 1e-5);
- the clipped-ratio loss with SB3's constant ``clip_range``, the value loss
  ``vf_coef * mean((return - value)^2)`` (the toolkit's is
  ``value_cost * 0.5 * mean(...)``, so ``value_cost = 2 vf_coef``) and the entropy
  bonus ``ent_coef``;
- advantages normalised per minibatch by torch's std (``advantage_ddof=1``);
- GAE that bootstraps a time-out from the value of its last observation
  (``bootstrap_truncation``) and envs that restart fresh (``autoreset=fresh``).

The run's one checkpoint, at SB3's ``num_timesteps``, holds SB3's parameters and
its Adam moments and step count. Then ``ppo`` PURDs apply one minibatch step of
SB3's loss from SB3's Adam state on fresh rollouts of ``n_envs x n_steps`` steps,
and ``reject`` trains on with the toolkit's PPO (``n_epochs`` passes of
``batch_size`` minibatches per ``n_envs x n_steps`` steps).

Read: PPO models of continuous actions in [-1, 1] (the toolkit's PPO clips to
[-1, 1] and the env maps that to its bounds; SB3 clips to the space's own bounds),
tanh networks, a constant clip range, ``normalize_advantage=True``, no
``clip_range_vf``. Anything else is one ``error:`` line. torch's gradient clip
divides by ``norm + 1e-6`` and optax's by ``norm``: the steps differ by that
relative 1e-6 when the clip is active. SB3's ``target_kl`` stops SB3's epochs early;
``reject`` trains on without it (a warning says so).
"""

from __future__ import annotations

import logging
from pathlib import Path

import jax
import numpy as np
import optax

from return_landscapes.agents.ppo import PPOState, normalizer_init
from return_landscapes.conf import (
    Algo,
    Autoreset,
    ImportConfig,
    PPOConfig,
    PPOPolicy,
)
from return_landscapes.errors import LandscapeError
from return_landscapes.formats.sb3 import (
    SB3FormatError,
    _activation,
    _box_bounds,
    _linear_layers,
)
from return_landscapes.formats.sb3_training import SB3PPO
from return_landscapes.training.import_files import check_finite, check_shapes
from return_landscapes.training.imported_sb3 import (
    algorithm_parts,
    dense_layers,
    imported_run_config,
    model_step,
    one_seed_checkpoint,
    sb3_provenance,
    write_run,
)

logger = logging.getLogger(__name__)

PPO_PARAMETERS = (
    "n_envs",
    "n_steps",
    "batch_size",
    "n_epochs",
    "gamma",
    "gae_lambda",
    "ent_coef",
    "vf_coef",
    "max_grad_norm",
    "num_timesteps",
)
"""What the toolkit's PPO config takes from SB3's ``data``."""

POLICY, VALUE = "mlp_extractor.policy_net.", "mlp_extractor.value_net."


def ppo_config(model: SB3PPO) -> PPOConfig:
    """The toolkit's PPO config of SB3's hyper-parameters and PPO's form."""
    data = model.data
    missing = [name for name in PPO_PARAMETERS if name not in data]
    if missing:
        raise LandscapeError(
            f"the SB3 model's data lacks {', '.join(missing)}: not a PPO that "
            "Stable-Baselines3's model.save wrote"
        )
    _check_form(model)
    rows = int(data["n_envs"]) * int(data["n_steps"])
    if rows % int(data["batch_size"]):
        raise LandscapeError(
            f"the SB3 PPO's batch_size {data['batch_size']} does not divide its "
            f"n_envs x n_steps = {rows}: the toolkit's PPO takes equal minibatches"
        )
    if data.get("target_kl") is not None:
        logger.warning(
            "warning: the SB3 PPO stops its epochs early at target_kl=%s; ppo PURDs "
            "are one minibatch step either way, reject trains on without it",
            data["target_kl"],
        )
    policy_sizes, value_sizes = (
        _hidden_sizes(model, POLICY),
        _hidden_sizes(model, VALUE),
    )
    if policy_sizes != value_sizes or not policy_sizes:
        raise LandscapeError(
            f"the SB3 PPO's policy has hidden layers {policy_sizes} and its value "
            f"{value_sizes}: the toolkit's PPO takes one net_arch for both"
        )
    return PPOConfig(
        hidden_sizes=policy_sizes,
        num_envs=int(data["n_envs"]),
        unroll_length=int(data["n_steps"]),
        num_minibatches=rows // int(data["batch_size"]),
        epochs=int(data["n_epochs"]),
        learning_rate=model.adam.learning_rate,
        gamma=float(data["gamma"]),
        gae_lambda=float(data["gae_lambda"]),
        clip=model.clip_range,
        entropy_cost=float(data["ent_coef"]),
        value_cost=2.0 * float(data["vf_coef"]),
        max_grad_norm=float(data["max_grad_norm"]),
        policy=PPOPolicy.clipped_gaussian,
        normalize_observations=False,
        adam_eps=model.adam.eps,
        bootstrap_truncation=True,
        autoreset=Autoreset.fresh,
        advantage_ddof=1,
    )


def _check_form(model: SB3PPO) -> None:
    """One line for an SB3 PPO the toolkit's PPO is not."""
    data = model.data
    if not data.get("normalize_advantage", True):
        raise LandscapeError(
            "the SB3 PPO has normalize_advantage=False: the toolkit's PPO always "
            "normalises minibatch advantages"
        )
    if data.get("clip_range_vf") is not None:
        raise LandscapeError(
            "the SB3 PPO clips its value loss (clip_range_vf): the toolkit's PPO "
            "does not"
        )
    try:
        activation = _activation(data, "tanh")
        low, high = _box_bounds(data, "action_space")
    except SB3FormatError as err:
        raise LandscapeError(f"the SB3 PPO: {err}") from None
    if activation != "tanh":
        raise LandscapeError(
            f"the SB3 PPO's networks use {activation}: the toolkit's PPO networks are "
            "tanh MLPs"
        )
    if np.any(low != -1.0) or np.any(high != 1.0):
        raise LandscapeError(
            f"the SB3 PPO acts in [{low.min()}, {high.max()}]: only PPO models of "
            "actions in [-1, 1] are read with their training state (SB3 clips to "
            "the space's bounds, the toolkit's PPO to [-1, 1])"
        )


def _hidden_sizes(model: SB3PPO, prefix: str) -> list[int]:
    return [
        int(np.shape(tensor)[0])
        for name, tensor in model.tensors.items()
        if name.startswith(prefix) and name.endswith(".weight")
    ]


def ppo_trees(named: dict[str, np.ndarray]) -> dict:
    """``{"policy": ..., "value": ...}`` flax parameters of SB3's named tensors (or
    of their Adam moments, named as their parameters)."""
    policy = dense_layers(
        _linear_layers(named, POLICY) + _linear_layers(named, "action_net.")
    )
    policy["actor_logstd"] = np.asarray(named["log_std"], np.float32)
    value = dense_layers(
        _linear_layers(named, VALUE) + _linear_layers(named, "value_net.")
    )
    return {"policy": {"params": policy}, "value": {"params": value}}


def ppo_state(model: SB3PPO, observation_size: int) -> PPOState:
    """SB3's parameters and Adam state as the toolkit's ``PPOState`` (numpy)."""
    params = ppo_trees(model.tensors)
    adam = model.adam
    if adam.step:
        mu = ppo_trees(dict(zip(model.tensors, adam.exp_avg, strict=True)))
        nu = ppo_trees(dict(zip(model.tensors, adam.exp_avg_sq, strict=True)))
    else:
        mu = nu = jax.tree.map(np.zeros_like, params)
    opt_state = (
        optax.EmptyState(),
        optax.ScaleByAdamState(count=np.int32(adam.step), mu=mu, nu=nu),
    )
    normalizer = jax.tree.map(np.asarray, normalizer_init(observation_size))
    return PPOState(params["policy"], params["value"], opt_state, normalizer)


def import_sb3_ppo(cfg: ImportConfig, model: SB3PPO, params: Path, out: Path) -> Algo:
    """Write the PPO run of an SB3 PPO (the module doc); returns ``Algo.ppo``."""
    from return_landscapes.training.validate import validate

    step = model_step(model.data, cfg.step)
    run_cfg = imported_run_config(cfg, Algo.ppo, step, out, {"ppo": ppo_config(model)})
    validate(run_cfg)
    parts = algorithm_parts(run_cfg)
    template = jax.eval_shape(parts.agent.init, jax.random.PRNGKey(0))
    observation_size = template.normalizer.mean.shape[0]
    state = ppo_state(model, observation_size)
    check_shapes(template, state, "SB3 PPO", "its observation and action sizes")
    check_finite(state)
    checkpoint = one_seed_checkpoint(parts, run_cfg.seed, state)
    write_run(out, run_cfg, parts, checkpoint, None, sb3_provenance(params))
    return Algo.ppo
