"""An SB3 TD3 or SAC with its training state as a run of the toolkit's own
(``landscape import source=sb3 params=model.zip replay=buffer.pkl``).

SB3's TD3 is the algorithm of the toolkit's TD3 with SB3's hyper-parameters and
``td3.actor_objective=first_q`` (SB3's actor follows the first critic): the same
ReLU MLPs (actor ``tanh`` in [-1, 1], critics on ``[observation, action]``), the
same Adam (torch's and optax's defaults), the same clipped double-Q target. SB3's
SAC (``ent_coef="auto"``) is the toolkit's SAC with ``sac.log_std_bound=clip
sac.log_std_min=-20 sac.tanh_epsilon=1e-6 sac.temperature_loss=log_temperature``
and SB3's ``target_entropy``: the same actor loss ``mean(alpha * log_prob - min
Q)``, the same temperature loss, every loss read at the temperature before its
step. (SB3 halves SAC's critic loss; Adam's step does not depend on the scale but
through its epsilon.)

So the import writes an ordinary run: its config is a TD3 or SAC config with
SB3's sizes, rates, ``tau``, ``gamma``, ``batch_size`` and ``buffer_size`` (and
TD3's ``policy_delay`` and target noise); its one checkpoint, at SB3's
``num_timesteps``, holds SB3's networks, target networks, Adam states (moments and
step counts) and SAC's log temperature, and its replay rows are SB3's buffer rows
(a transition's ``discount`` is 0 where SB3 counts it done: a termination, not a
time-out). Then ``td3`` and ``sac`` PURDs apply one actor update of SB3's own loss
from SB3's own Adam state, and ``reject`` trains on with the toolkit's TD3 or SAC.

Read: models of one env whose buffer has not wrapped (``num_timesteps`` rows, at
most ``buffer_size``), ReLU networks of the same hidden sizes for actor and
critics, torch's default Adam. Anything else is one ``error:`` line. A model
trained inside VecNormalize cannot be told apart from its zip and buffer (the
buffer holds raw observations, the networks read normalised ones): it must not be
imported with its replay. A model that trained less often than once per env step
(``train_freq``, ``gradient_steps``) or a SAC whose targets moved less often
(``target_update_interval``) is read with a warning: ``reject`` trains on at one
update per step.
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
from return_landscapes.agents.sac import SACState
from return_landscapes.agents.td3 import TD3State
from return_landscapes.conf import (
    ActorObjective,
    Algo,
    ImportConfig,
    LogStdBound,
    SACConfig,
    TD3Config,
    TemperatureLoss,
    TrainConfig,
    is_host_env,
)
from return_landscapes.errors import LandscapeError
from return_landscapes.formats.sb3 import SB3FormatError, _activation
from return_landscapes.formats.sb3_training import (
    SB3PPO,
    SB3SAC,
    SB3TD3,
    SB3Adam,
    SB3Replay,
    read_sb3_replay,
    read_sb3_training,
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


SB3Model = SB3TD3 | SB3SAC


def read_model(params: Path) -> SB3Model | SB3PPO:
    """The SB3 model's training state; one-line errors for other files."""
    from return_landscapes.formats.safe_pickle import RefusedGlobal

    try:
        return read_sb3_training(params)
    except (SB3FormatError, RefusedGlobal) as err:
        raise LandscapeError(f"params={params}: {err}") from None


def read_replay(replay: Path) -> SB3Replay:
    """The SB3 replay buffer; one-line errors for other files."""
    from return_landscapes.formats.safe_pickle import RefusedGlobal

    if not replay.is_file():
        raise LandscapeError(f"replay={replay} is not a file: pass the saved file")
    try:
        return read_sb3_replay(replay)
    except (SB3FormatError, RefusedGlobal) as err:
        raise LandscapeError(f"replay={replay}: {err}") from None
    except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError) as err:
        raise LandscapeError(
            f"replay={replay} is not a pickled replay buffer ({err}): pass the file "
            "model.save_replay_buffer wrote"
        ) from None


SHARED_PARAMETERS = (
    "batch_size",
    "tau",
    "gamma",
    "learning_starts",
    "buffer_size",
    "num_timesteps",
)
"""What the toolkit's TD3 and SAC configs take from SB3's ``data``."""
TD3_PARAMETERS = ("policy_delay", "target_policy_noise", "target_noise_clip")
SAC_PARAMETERS = ("target_entropy",)


def shared_options(model: SB3Model, wanted: tuple[str, ...]) -> dict:
    """The options TD3 and SAC share, of SB3's ``data``; warns where SB3 updated
    less often than the toolkit's one update per env step."""
    data, name = model.data, type(model).__name__[3:]
    missing = [key for key in SHARED_PARAMETERS + wanted if key not in data]
    if missing:
        raise LandscapeError(
            f"the SB3 model's data lacks {', '.join(missing)}: not a {name} that "
            "Stable-Baselines3's model.save wrote"
        )
    frequency = train_frequency(data)
    interval = data.get("target_update_interval", 1)
    if frequency != (1, "step") or data.get("gradient_steps") != 1 or interval != 1:
        logger.warning(
            "warning: the SB3 %s trained with train_freq=%s, gradient_steps=%s%s, "
            "and the toolkit's %s updates everything once per env step: PURDs are "
            "one update either way; reject trains on at one update per step",
            name,
            "unread" if frequency is None else frequency,
            data.get("gradient_steps"),
            "" if interval == 1 else f", target_update_interval={interval}",
            name,
        )
    if _activation(data, "relu") != "relu":
        raise LandscapeError(
            f"the SB3 {name} uses another activation than ReLU: the toolkit's {name} "
            "networks are ReLU MLPs"
        )
    actor_sizes = _hidden_sizes(
        model.actor if isinstance(model, SB3TD3) else [*model.latent, model.mean]
    )
    critic_sizes = [_hidden_sizes(layers) for layers in model.critics]
    if any(sizes != actor_sizes for sizes in critic_sizes):
        raise LandscapeError(
            f"the SB3 {name}'s actor has hidden layers {actor_sizes} and its critics "
            f"{critic_sizes[0]}: the toolkit's {name} takes one net_arch for both"
        )
    return {
        "hidden_sizes": actor_sizes,
        "actor_lr": model.actor_adam.learning_rate,
        "critic_lr": model.critic_adam.learning_rate,
        "batch_size": int(data["batch_size"]),
        "tau": float(data["tau"]),
        "gamma": float(data["gamma"]),
        "random_start_steps": int(data["learning_starts"]),
        "replay_capacity": int(data["buffer_size"]),
    }


def td3_config(model: SB3TD3) -> TD3Config:
    """The toolkit's TD3 config of SB3's hyper-parameters."""
    data = model.data
    return TD3Config(
        **shared_options(model, TD3_PARAMETERS),
        policy_delay=int(data["policy_delay"]),
        target_noise=float(data["target_policy_noise"]),
        target_noise_clip=float(data["target_noise_clip"]),
        actor_objective=ActorObjective.first_q,
    )


def sac_config(model: SB3SAC) -> SACConfig:
    """The toolkit's SAC config of SB3's hyper-parameters and SAC's form."""
    return SACConfig(
        **shared_options(model, SAC_PARAMETERS),
        temperature_lr=model.temperature_adam.learning_rate,
        initial_temperature=float(np.exp(model.log_temperature)),
        target_entropy=float(model.data["target_entropy"]),
        log_std_min=-20.0,
        log_std_bound=LogStdBound.clip,
        tanh_epsilon=1e-6,
        temperature_loss=TemperatureLoss.log_temperature,
    )


def _hidden_sizes(layers: Layers) -> list[int]:
    return [int(weight.shape[0]) for weight, _ in layers[:-1]]


def model_step(data: dict, given: int) -> int:
    """SB3's ``num_timesteps``, checked against ``step=``."""
    step = int(data["num_timesteps"])
    if given not in (0, step):
        raise LandscapeError(
            f"step={given}, but the SB3 model was saved after {step} steps: drop "
            "step= (the run's checkpoint is at the model's own step)"
        )
    return step


def checkpoint_step(model: SB3Model, buffer: SB3Replay, given: int) -> int:
    """SB3's ``num_timesteps``, checked against the buffer and ``step=``."""
    step = model_step(model.data, given)
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
    return step


def td3_state(model: SB3TD3) -> TD3State:
    """SB3's networks and Adam states as the toolkit's ``TD3State`` (numpy)."""
    return TD3State(
        actor_params=_mlps([model.actor]),
        critic_params=_mlps(model.critics),
        target_actor_params=_mlps([model.actor_target]),
        target_critic_params=_mlps(model.critic_targets),
        actor_opt_state=_adam_state(model.actor_adam, [model.actor], _mlps),
        critic_opt_state=_adam_state(model.critic_adam, model.critics, _mlps),
    )


def sac_state(model: SB3SAC) -> SACState:
    """SB3's networks, Adam states and log entropy coefficient as the toolkit's
    ``SACState`` (numpy)."""
    actor = [[*model.latent, model.mean, model.log_std]]
    temperature = model.temperature_adam
    return SACState(
        actor_params=_gaussian_actor(actor),
        critic_params=_mlps(model.critics),
        target_critic_params=_mlps(model.critic_targets),
        log_temperature=np.float32(model.log_temperature),
        actor_opt_state=_adam_state(model.actor_adam, actor, _gaussian_actor),
        critic_opt_state=_adam_state(model.critic_adam, model.critics, _mlps),
        temperature_opt_state=optax.ScaleByAdamState(
            count=np.int32(temperature.step),
            mu=np.float32(temperature.exp_avg[0][0] if temperature.step else 0.0),
            nu=np.float32(temperature.exp_avg_sq[0][0] if temperature.step else 0.0),
        ),
    )


def _mlps(networks: list[Layers]) -> dict:
    """Flax ``MLP_i`` parameters, network ``i`` of ``networks``."""
    return {"params": {f"MLP_{i}": dense_layers(q) for i, q in enumerate(networks)}}


def _gaussian_actor(networks: list[Layers]) -> dict:
    """The ``GaussianActor`` parameters (separate heads) of SB3's SAC actor layers:
    the hidden layers, then the mean and log-std heads."""
    (layers,) = networks
    hidden = dense_layers(layers[:-2])
    heads = dense_layers(layers[-2:])
    return {"params": {**hidden, "mean": heads["Dense_0"], "log_std": heads["Dense_1"]}}


def dense_layers(layers: Layers) -> dict:
    """A flax MLP's ``Dense_i`` parameters of torch ``(weight, bias)`` layers."""
    return {
        f"Dense_{i}": {
            "bias": np.asarray(bias, np.float32),
            "kernel": np.asarray(weight, np.float32).T,
        }
        for i, (weight, bias) in enumerate(layers)
    }


def _adam_state(adam: SB3Adam, networks: list[Layers], tree) -> optax.ScaleByAdamState:
    """optax's Adam state of torch's: moments in the networks' parameter order
    (``weight``, ``bias`` of each layer, network after network), as ``tree``
    arranges the networks' parameters."""
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

    def split(pairs):
        networks_pairs, start = [], 0
        for layers in networks:
            networks_pairs.append(pairs[start : start + len(layers)])
            start += len(layers)
        return tree(networks_pairs)

    return optax.ScaleByAdamState(
        count=np.int32(adam.step), mu=split(moments[0]), nu=split(moments[1])
    )


def algorithm_parts(run_cfg: TrainConfig):
    """The run's TD3, SAC or PPO parts, built as its env family builds them
    (``families.py``; not imported from there: the families import the
    importers)."""
    from return_landscapes.training.schedule import is_on_policy

    if is_host_env(run_cfg.env):
        if is_on_policy(run_cfg):
            from return_landscapes.training.host_ppo import host_ppo_parts

            return host_ppo_parts(run_cfg)
        from return_landscapes.training.mujoco import mujoco_parts

        return mujoco_parts(run_cfg)
    from return_landscapes.envs.brax import make_env
    from return_landscapes.training.brax import off_policy_parts, ppo_parts

    env = make_env(run_cfg.env, run_cfg.backend, run_cfg.reset_noise_scale)
    if is_on_policy(run_cfg):
        return ppo_parts(run_cfg, env)
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


def import_sb3_off_policy(
    cfg: ImportConfig, model: SB3TD3 | SB3SAC, params: Path, out: Path
) -> Algo:
    """Write the TD3 or SAC run of an SB3 model and its replay buffer ``replay=``
    (the module doc); returns the run's algorithm."""
    if cfg.replay is None:
        raise LandscapeError(
            f"the SB3 {type(model).__name__[3:]}'s update samples its replay buffer: "
            "pass replay= (the file model.save_replay_buffer wrote)"
        )
    replay = Path(cfg.replay)
    return _import_off_policy(cfg, model, read_replay(replay), params, replay, out)


def _import_off_policy(
    cfg: ImportConfig,
    model: SB3TD3 | SB3SAC,
    buffer: SB3Replay,
    params: Path,
    replay: Path,
    out: Path,
) -> Algo:
    """Write the TD3 or SAC run of an SB3 model and its replay buffer."""
    from return_landscapes.training.validate import validate

    step = checkpoint_step(model, buffer, cfg.step)
    algo = Algo.td3 if isinstance(model, SB3TD3) else Algo.sac
    options = (
        {"td3": td3_config(model)} if algo is Algo.td3 else {"sac": sac_config(model)}
    )
    run_cfg = imported_run_config(cfg, algo, step, out, options)
    validate(run_cfg)
    parts = algorithm_parts(run_cfg)
    state = td3_state(model) if algo is Algo.td3 else sac_state(model)
    template = jax.eval_shape(parts.agent.init, jax.random.PRNGKey(0))
    check_shapes(
        template, state, f"SB3 {algo.value.upper()}", "its observation and action sizes"
    )
    check_finite(state)
    rows = replay_rows(buffer, step)
    if not all(np.isfinite(x).all() for x in rows):
        raise LandscapeError(
            f"replay={replay} holds non-finite numbers: import a buffer from before "
            "training diverged"
        )
    capacity = options[algo.value].replay_capacity
    checkpoint = one_seed_checkpoint(
        parts,
        run_cfg.seed,
        state,
        replay=lambda initial: initial.replay.replace(
            data=None,  # the rows are written beside the checkpoint
            position=np.full(1, step % capacity, np.int32),
            size=np.full(1, min(step, capacity), np.int32),
        ),
    )
    stacked = jax.tree.map(lambda x: np.asarray(x)[None], rows)
    write_run(out, run_cfg, parts, checkpoint, stacked, sb3_provenance(params, replay))
    return algo


def one_seed_checkpoint(parts, seed: int, agent_state, **fields):
    """The checkpoint of a one-seed run holding ``agent_state`` (arrays without the
    seed axis): the initial state's shapes (evaluated, never allocated: a replay
    buffer would be whole), a zero env state and seed 0's key. ``fields`` map more
    fields to ``field(initial) -> value``."""
    from return_landscapes.training.schedule import seed_key

    keys = jnp.stack([seed_key(seed, 0)])
    initial = jax.eval_shape(parts.init, keys)
    return initial.replace(
        agent=jax.tree.map(lambda x: np.asarray(x)[None], agent_state),
        env=jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), initial.env),
        key=np.asarray(keys),
        **{name: field(initial) for name, field in fields.items()},
    )


def sb3_provenance(params: Path, replay: Path | None = None) -> dict:
    """The manifest's record of the SB3 files a run was imported from."""
    provenance = {
        "source": "sb3",
        "params": str(params.absolute()),
        "sha256": sha256(params),
    }
    if replay is not None:
        provenance |= {
            "replay": str(replay.absolute()),
            "replay_sha256": sha256(replay),
        }
    return provenance


def imported_run_config(
    cfg: ImportConfig, algo: Algo, step: int, out: Path, options: dict
) -> TrainConfig:
    """The config of an imported run: one seed, one checkpoint at ``step``, no
    evaluation episodes; ``options`` the algorithm's config (``imported=`` for a
    policy without its training state)."""
    return TrainConfig(
        env=cfg.env,
        algo=algo,
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
        **options,
    )


def write_run(
    out: Path, run_cfg: TrainConfig, parts, checkpoint, rows, provenance: dict
) -> None:
    """Write the run (config, its one checkpoint and replay ``rows`` or ``None``,
    manifest) into ``out`` atomically."""
    step = run_cfg.steps

    def write(building: Path) -> None:
        rundir.atomic_write_text(building / rundir.CONFIG, OmegaConf.to_yaml(run_cfg))
        rundir.save_checkpoint(building, step, checkpoint, rows, 0)
        rundir.write_manifest(
            building, import_manifest(run_cfg, parts, step, provenance)
        )

    write_atomically(out, write)
