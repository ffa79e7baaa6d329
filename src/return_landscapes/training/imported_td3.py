"""An SB3 TD3 with its training state as a TD3 run of the toolkit's own
(``landscape import source=sb3 params=model.zip replay=buffer.pkl``).

SB3's TD3 is the algorithm of the toolkit's TD3 with SB3's hyper-parameters and
``td3.actor_objective=first_q`` (SB3's actor follows the first critic): the same
ReLU MLPs (actor ``tanh`` in [-1, 1], critics on ``[observation, action]``), the
same Adam (torch's and optax's defaults), the same clipped double-Q target. So the
import writes an ordinary run: its config is a TD3 config with SB3's sizes, rates,
``tau``, ``gamma``, ``batch_size``, ``policy_delay``, target noise and
``buffer_size``; its one checkpoint, at SB3's ``num_timesteps``, holds SB3's
actor, critics, target networks and both Adam states (moments and step counts),
and its replay rows are SB3's buffer rows (a transition's ``discount`` is 0 where
SB3 counts it done: a termination, not a time-out). Then ``td3`` PURDs apply one
actor update of SB3's own loss from SB3's own Adam state, and ``reject`` trains
on with the toolkit's TD3.

Read: TD3 models of one env whose buffer has not wrapped (``num_timesteps`` rows,
at most ``buffer_size``), ReLU networks of the same hidden sizes for actor and
critics, torch's default Adam. Anything else is one ``error:`` line. A model
trained inside VecNormalize cannot be told apart from its zip and buffer (the
buffer holds raw observations, the networks read normalised ones): it must not be
imported with its replay. A model that trained less
often than once per env step (``train_freq``, ``gradient_steps``) is read with a
warning: ``reject`` trains on at one update per step.
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from omegaconf import OmegaConf

from return_landscapes import rundir
from return_landscapes.agents.td3 import TD3State
from return_landscapes.conf import (
    ActorObjective,
    Algo,
    ImportConfig,
    TD3Config,
    TrainConfig,
    is_host_env,
)
from return_landscapes.errors import LandscapeError
from return_landscapes.formats.sb3 import SB3FormatError, _activation
from return_landscapes.formats.sb3_training import (
    SB3TD3,
    SB3Adam,
    SB3Replay,
    read_sb3_replay,
    read_sb3_td3,
    train_frequency,
)
from return_landscapes.training.import_files import (
    check_finite,
    check_shapes,
    import_manifest,
    sha256,
    write_atomically,
)
from return_landscapes.types import Transition

Layers = list[tuple[np.ndarray, np.ndarray]]

logger = logging.getLogger(__name__)


def read_training_files(params: Path, replay: Path) -> tuple[SB3TD3, SB3Replay]:
    """The SB3 TD3 and its replay buffer; one-line errors for other files."""
    from return_landscapes.formats.safe_pickle import RefusedGlobal

    try:
        model = read_sb3_td3(params)
    except (SB3FormatError, RefusedGlobal) as err:
        raise LandscapeError(f"params={params}: {err}") from None
    try:
        buffer = read_sb3_replay(replay)
    except (SB3FormatError, RefusedGlobal) as err:
        raise LandscapeError(f"replay={replay}: {err}") from None
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as err:
        raise LandscapeError(
            f"replay={replay} is not a pickled replay buffer ({err}): pass the file "
            "model.save_replay_buffer wrote"
        ) from None
    return model, buffer


HYPER_PARAMETERS = (
    "batch_size",
    "tau",
    "gamma",
    "learning_starts",
    "buffer_size",
    "policy_delay",
    "target_policy_noise",
    "target_noise_clip",
    "num_timesteps",
)
"""What the toolkit's TD3 config takes from SB3's ``data``."""


def td3_config(model: SB3TD3) -> TD3Config:
    """The toolkit's TD3 config of SB3's hyper-parameters."""
    data = model.data
    missing = [name for name in HYPER_PARAMETERS if name not in data]
    if missing:
        raise LandscapeError(
            f"the SB3 model's data lacks {', '.join(missing)}: not a TD3 that "
            "Stable-Baselines3's model.save wrote"
        )
    frequency = train_frequency(data)
    if frequency != (1, "step") or data.get("gradient_steps") != 1:
        logger.warning(
            "warning: the SB3 TD3 trained with train_freq=%s, gradient_steps=%s, and "
            "the toolkit's TD3 updates once per env step: td3 PURDs are one update "
            "either way; reject trains on at one update per step",
            "unread" if frequency is None else frequency,
            data.get("gradient_steps"),
        )
    if _activation(data, "relu") != "relu":
        raise LandscapeError(
            "the SB3 TD3 uses another activation than ReLU: the toolkit's TD3 "
            "networks are ReLU MLPs"
        )
    actor_sizes = _hidden_sizes(model.actor)
    critic_sizes = [_hidden_sizes(layers) for layers in model.critics]
    if any(sizes != actor_sizes for sizes in critic_sizes):
        raise LandscapeError(
            f"the SB3 TD3's actor has hidden layers {actor_sizes} and its critics "
            f"{critic_sizes[0]}: the toolkit's TD3 takes one net_arch for both"
        )
    return TD3Config(
        hidden_sizes=actor_sizes,
        actor_lr=model.actor_adam.learning_rate,
        critic_lr=model.critic_adam.learning_rate,
        batch_size=int(data["batch_size"]),
        tau=float(data["tau"]),
        gamma=float(data["gamma"]),
        random_start_steps=int(data["learning_starts"]),
        replay_capacity=int(data["buffer_size"]),
        policy_delay=int(data["policy_delay"]),
        target_noise=float(data["target_policy_noise"]),
        target_noise_clip=float(data["target_noise_clip"]),
        actor_objective=ActorObjective.first_q,
    )


def _hidden_sizes(layers: Layers) -> list[int]:
    return [int(weight.shape[0]) for weight, _ in layers[:-1]]


def checkpoint_step(model: SB3TD3, buffer: SB3Replay, given: int) -> int:
    """SB3's ``num_timesteps``, checked against the buffer and ``step=``."""
    step = int(model.data["num_timesteps"])
    capacity = int(model.data["buffer_size"])
    if buffer.observations.shape[0] != capacity:
        raise LandscapeError(
            f"the replay buffer holds {buffer.observations.shape[0]} rows and the "
            f"model's buffer_size is {capacity}: pass the buffer of this model"
        )
    wrapped = buffer.full and not (buffer.position == 0 and step == capacity)
    if wrapped or step > capacity:
        raise LandscapeError(
            f"the replay buffer has wrapped ({step} steps in {capacity} rows): only "
            "buffers that still hold every transition are read so far"
        )
    if buffer.position != step % capacity or (step == capacity) != buffer.full:
        raise LandscapeError(
            f"the replay buffer holds {buffer.position} rows and the model has "
            f"taken {step} steps: pass the buffer saved with this model"
        )
    if given not in (0, step):
        raise LandscapeError(
            f"step={given}, but the SB3 model was saved after {step} steps: drop "
            "step= (the run's checkpoint is at the model's own step)"
        )
    return step


def td3_state(model: SB3TD3) -> TD3State:
    """SB3's networks and Adam states as the toolkit's ``TD3State`` (numpy)."""
    actor = {"params": {"MLP_0": _dense_layers(model.actor)}}
    critic = {
        "params": {f"MLP_{i}": _dense_layers(q) for i, q in enumerate(model.critics)}
    }
    return TD3State(
        actor_params=actor,
        critic_params=critic,
        target_actor_params={"params": {"MLP_0": _dense_layers(model.actor_target)}},
        target_critic_params={
            "params": {
                f"MLP_{i}": _dense_layers(q) for i, q in enumerate(model.critic_targets)
            }
        },
        actor_opt_state=_adam_state(model.actor_adam, [model.actor]),
        critic_opt_state=_adam_state(model.critic_adam, model.critics),
    )


def _dense_layers(layers: Layers) -> dict:
    """A flax MLP's ``Dense_i`` parameters of torch ``(weight, bias)`` layers."""
    return {
        f"Dense_{i}": {
            "bias": np.asarray(bias, np.float32),
            "kernel": np.asarray(weight, np.float32).T,
        }
        for i, (weight, bias) in enumerate(layers)
    }


def _adam_state(adam: SB3Adam, networks: list[Layers]) -> optax.ScaleByAdamState:
    """optax's Adam state of torch's: moments in the networks' parameter order
    (``weight``, ``bias`` of each layer, network after network)."""
    shapes = [(w, b) for layers in networks for w, b in layers]
    if adam.step and len(adam.exp_avg) != 2 * len(shapes):
        raise LandscapeError(
            f"the SB3 optimizer holds moments of {len(adam.exp_avg)} parameters and "
            f"its networks have {2 * len(shapes)}: a policy with other trained parts "
            "(a features extractor) is not read"
        )
    if adam.step == 0:
        zeros = [(np.zeros_like(w), np.zeros_like(b)) for w, b in shapes]
        moments = (zeros, zeros)
    else:
        moments = tuple(
            list(zip(values[0::2], values[1::2], strict=True))
            for values in (adam.exp_avg, adam.exp_avg_sq)
        )

    def tree(pairs):
        split, start = [], 0
        for layers in networks:
            split.append(pairs[start : start + len(layers)])
            start += len(layers)
        return {"params": {f"MLP_{i}": _dense_layers(p) for i, p in enumerate(split)}}

    return optax.ScaleByAdamState(
        count=np.int32(adam.step), mu=tree(moments[0]), nu=tree(moments[1])
    )


def td3_parts(run_cfg: TrainConfig):
    """The run's TD3 parts, built as its env family builds them (``families.py``;
    not imported from there: the families import the importers)."""
    if is_host_env(run_cfg.env):
        from return_landscapes.training.mujoco import mujoco_parts

        return mujoco_parts(run_cfg)
    from return_landscapes.envs.brax import make_env
    from return_landscapes.training.brax import off_policy_parts

    env = make_env(run_cfg.env, run_cfg.backend, run_cfg.reset_noise_scale)
    return off_policy_parts(run_cfg, env)


def replay_rows(buffer: SB3Replay, step: int) -> Transition:
    """The buffer's first ``step`` rows as transitions; ``discount`` 0 where SB3
    counts a row done (a termination; a time-out is not one when SB3 handles
    them)."""
    done = buffer.dones[:step]
    if buffer.handle_timeout_termination:
        done = done * (1.0 - buffer.timeouts[:step])
    return Transition(
        observation=buffer.observations[:step],
        action=buffer.actions[:step],
        reward=buffer.rewards[:step],
        next_observation=buffer.next_observations[:step],
        discount=(1.0 - done).astype(np.float32),
    )


def import_td3_training(cfg: ImportConfig, params: Path, out: Path) -> Path:
    """Write the TD3 run of an SB3 TD3 and its replay buffer (the module doc)."""
    from return_landscapes.training.schedule import seed_key
    from return_landscapes.training.validate import validate

    replay = Path(cfg.replay)
    if not replay.is_file():
        raise LandscapeError(f"replay={cfg.replay} is not a file: pass the saved file")
    model, buffer = read_training_files(params, replay)
    step = checkpoint_step(model, buffer, cfg.step)
    run_cfg = TrainConfig(
        env=cfg.env,
        algo=Algo.td3,
        seeds=1,
        seed=0,
        steps=step,
        checkpoints=[step],
        out=str(out),
        backend=cfg.backend,
        horizon=cfg.horizon,
        eval_episodes=0,
        progress=False,
        gym=cfg.gym,
        td3=td3_config(model),
    )
    validate(run_cfg)
    parts = td3_parts(run_cfg)
    state = td3_state(model)
    template = jax.eval_shape(parts.agent.init, jax.random.PRNGKey(0))
    check_shapes(template, state, "SB3 TD3", "its observation and action sizes")
    check_finite(state)
    rows = replay_rows(buffer, step)
    if not all(np.isfinite(x).all() for x in rows):
        raise LandscapeError(
            f"replay={replay} holds non-finite numbers: import a buffer from before "
            "training diverged"
        )
    keys = jnp.stack([seed_key(run_cfg.seed, 0)])
    # shapes only: the initial state would allocate the whole buffer
    initial = jax.eval_shape(parts.init, keys)
    capacity = run_cfg.td3.replay_capacity
    checkpoint = initial.replace(
        agent=jax.tree.map(lambda x: np.asarray(x)[None], state),
        replay=initial.replay.replace(
            data=None,
            position=np.full(1, step % capacity, np.int32),
            size=np.full(1, min(step, capacity), np.int32),
        ),
        env=jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), initial.env),
        key=np.asarray(keys),
    )
    provenance = {
        "source": "sb3",
        "params": str(params.absolute()),
        "sha256": sha256(params),
        "replay": str(replay.absolute()),
        "replay_sha256": sha256(replay),
    }

    def write(building: Path) -> None:
        rundir.atomic_write_text(building / rundir.CONFIG, OmegaConf.to_yaml(run_cfg))
        stacked = jax.tree.map(lambda x: np.asarray(x)[None], rows)
        rundir.save_checkpoint(building, step, checkpoint, stacked, 0)
        rundir.write_manifest(
            building, import_manifest(run_cfg, parts, step, provenance)
        )

    write_atomically(out, write)
    return out
