"""Runs of policies trained elsewhere: ``landscape import`` and their restore parts.

``import_policy`` turns a brax.training PPO or SAC parameter file into a run directory
of one seed and one checkpoint, in the format every landscape command reads: the
config (with ``imported`` set), the manifest and the checkpoint of the actor (the
imported run's whole agent state). ``imported_parts`` rebuilds the agent and the
restore template from the config.

A parameter file is a pickle: it is read with only the globals its format needs
(``safe_pickle``), after every other check has passed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from omegaconf import OmegaConf

from return_landscapes import rundir
from return_landscapes.agents.brax_policy import (
    actor_state_from_brax,
    hidden_sizes_of,
    input_size_of,
    make_brax_policy_agent,
)
from return_landscapes.conf import (
    Activation,
    Algo,
    ImportConfig,
    ImportedPolicy,
    ImportSource,
    TrainConfig,
    is_host_env,
    resolve,
)
from return_landscapes.envs.brax import BACKENDS, env_names, make_env
from return_landscapes.errors import LandscapeError
from return_landscapes.formats.safe_pickle import (
    NUMPY_ARRAYS,
    RefusedGlobal,
    record,
    restricted_load,
)
from return_landscapes.provenance import check_writable
from return_landscapes.training.schedule import seed_key
from return_landscapes.training.state import TrainingParts, TrainState

logger = logging.getLogger(__name__)


def imported_parts(cfg: TrainConfig, env) -> TrainingParts:
    """The env, agent and ``init`` (the restore template) of an imported run."""
    agent = make_brax_policy_agent(cfg.imported, env.observation_size, env.action_size)

    def init(seed_keys: jax.Array) -> TrainState:
        return TrainState(
            agent=jax.vmap(agent.init)(seed_keys), replay=None, env=None, key=seed_keys
        )

    return TrainingParts(env, agent, init)


# ------------------------------------------------------------------------- import


def import_policy(config: ImportConfig | dict | None = None, **overrides) -> Path:
    """Write a run directory from a brax.training PPO or SAC parameter file.

    Args:
      config: an ``ImportConfig`` (or a mapping of its keys).
      **overrides: ``ImportConfig`` keys, e.g. ``source="brax_ppo",
        params="policy.pkl", env="hopper", out="runs/imported"``.

    Returns:
      The run directory: one seed, one checkpoint at ``step``, which ``purd``,
      ``interpolate``, ``surface``, ``stats`` and ``report`` accept.

    Raises:
      LandscapeError: a bad option, an unreadable file, or parameters that do not
        fit the env or the network sizes (the message names the sizes found).
    """
    cfg = resolve(ImportConfig, config, **overrides)
    params_path, out = _check_options(cfg)
    source = ImportSource(cfg.source)
    state = actor_state_from_brax(SOURCES[source].read(params_path), source)
    env = make_env(cfg.env, cfg.backend, 0.0)
    declared = SOURCES[source]
    imported = ImportedPolicy(
        source=source,
        hidden_sizes=list(cfg.hidden_sizes or declared.hidden_sizes),
        activation=cfg.activation or declared.activation,
        normalize_observations=cfg.normalize_observations,
        params_sha256=_sha256(params_path),
    )
    run_cfg = _run_config(cfg, imported, out)
    parts = imported_parts(run_cfg, env)
    _check_fits(state, parts, cfg.env, imported)
    _check_finite(state)
    _write_run(out, run_cfg, parts, state, cfg.step, params_path)
    logger.info(
        "imported the %s policy of %s into %s: landscape purd run=%s "
        "perturb=param_noise",
        source.value,
        params_path,
        out,
        out,
    )
    return out


def _check_options(cfg: ImportConfig) -> tuple[Path, Path]:
    choices = ", ".join(s.value for s in ImportSource)
    if cfg.source is None:
        raise LandscapeError(f"source= is required: one of {choices}")
    if not cfg.params:
        raise LandscapeError(
            "params= is required: the file brax.io.model.save_params wrote"
        )
    params_path = Path(cfg.params)
    if not params_path.is_file():
        raise LandscapeError(f"params={cfg.params} is not a file: pass the saved file")
    if not os.access(params_path, os.R_OK):
        raise LandscapeError(f"cannot read params={cfg.params}: check its permissions")
    if is_host_env(cfg.env):
        raise LandscapeError(
            f"env={cfg.env}: brax.training policies act on Brax envs; pass the Brax "
            "env the policy was trained on (on other envs, evaluate it with "
            "return_landscapes.policy_purd)"
        )
    if cfg.env not in env_names():
        raise LandscapeError(
            f"unknown env '{cfg.env}': choose one of {', '.join(env_names())}"
        )
    if cfg.backend not in BACKENDS:
        raise LandscapeError(
            f"unknown backend '{cfg.backend}': choose one of {', '.join(BACKENDS)}"
        )
    if cfg.step < 0:
        raise LandscapeError(f"step={cfg.step} must be at least 0")
    if cfg.horizon < 1:
        raise LandscapeError(f"horizon={cfg.horizon} must be at least 1")
    if cfg.hidden_sizes is not None and (
        not cfg.hidden_sizes or min(cfg.hidden_sizes) < 1
    ):
        raise LandscapeError(
            f"hidden_sizes={cfg.hidden_sizes} must list positive layer widths"
        )
    out = Path(cfg.out or f"runs/{cfg.env}-{ImportSource(cfg.source).value}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LandscapeError(
            f"{out} already exists: choose another out= (an import never writes "
            "over a folder)"
        )
    check_writable(out, "choose an out= you may write to")
    return params_path, out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


BRAX_PARAMS_GLOBALS = {
    **NUMPY_ARRAYS,
    ("brax.training.acme.running_statistics", "RunningStatisticsState"): record(
        "RunningStatisticsState"
    ),
    ("brax.training.acme.running_statistics", "NormalizationMode"): int,
    ("brax.training.types", "UInt64"): record("UInt64"),
}
"""The globals a ``brax.io.model.save_params`` file names: arrays and the
normalizer's state (read as plain records; brax is not imported)."""


def _load_pickle(path: Path):
    """The object ``brax.io.model.save_params`` pickled, read with only the
    globals such a file needs (a file naming any other is refused, unrun)."""
    try:
        with open(path, "rb") as f:
            return restricted_load(f, BRAX_PARAMS_GLOBALS)
    except RefusedGlobal as err:
        raise LandscapeError(
            f"params={path} names the global {err.name}, which a brax.io.model."
            "save_params file never does: not loaded (nothing in it was run); pass "
            "the file save_params wrote"
        ) from None
    except Exception as err:  # pickle raises many types for foreign files
        raise LandscapeError(
            f"params={path} cannot be read as brax.io.model.save_params output "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
            ": pass the file save_params wrote"
        ) from None


class Source(NamedTuple):
    """A format ``landscape import source=<name>`` reads.

    Attributes:
      algo: the algorithm that trained the policy (the run's ``algo``).
      hidden_sizes: the policy network's hidden layers by default.
      activation: its hidden activation by default.
      read: ``read(path)``: the saved parameters (one-line error for a file of
        another kind).
    """

    algo: Algo
    hidden_sizes: tuple[int, ...]
    activation: Activation
    read: Callable[[Path], Any]


SOURCES: dict[ImportSource, Source] = {
    # brax.training's make_ppo_networks / make_sac_networks defaults
    ImportSource.brax_ppo: Source(
        Algo.ppo, (32, 32, 32, 32), Activation.swish, _load_pickle
    ),
    ImportSource.brax_sac: Source(Algo.sac, (256, 256), Activation.relu, _load_pickle),
}
"""Every import source, registered once (``ImportSource`` lists their names)."""


def _run_config(cfg: ImportConfig, imported: ImportedPolicy, out: Path) -> TrainConfig:
    return TrainConfig(
        env=cfg.env,
        algo=SOURCES[ImportSource(cfg.source)].algo,
        seeds=1,
        seed=0,
        steps=cfg.step,
        checkpoints=[cfg.step],
        out=str(out),
        backend=cfg.backend,
        horizon=cfg.horizon,
        eval_episodes=0,
        progress=False,
        imported=imported,
    )


def _check_fits(state, parts: TrainingParts, env: str, imported: ImportedPolicy):
    """One line naming the mismatch if the saved policy does not fit env and sizes."""
    policy = state["policy"]
    size = int(parts.env.observation_size)
    given = input_size_of(policy)
    if given is not None and given != size:
        raise LandscapeError(
            f"the saved policy takes observations of {given} numbers and env "
            f"'{env}' gives {size}: pass the env= it was trained on"
        )
    found = hidden_sizes_of(policy)
    if found and found != list(imported.hidden_sizes):
        sizes = ",".join(map(str, found))
        raise LandscapeError(
            f"the saved policy has hidden layers {found}, not "
            f"{list(imported.hidden_sizes)}: pass hidden_sizes=[{sizes}]"
        )
    template = jax.eval_shape(parts.agent.init, jax.random.PRNGKey(0))
    want = _shapes(template)
    have = _shapes(state)
    if want != have:
        missing = sorted(set(want) - set(have))
        differ = sorted(k for k in set(want) & set(have) if want[k] != have[k])
        what = (
            f"lacks {missing[0]}"
            if missing
            else f"holds {differ[0]} as {list(have[differ[0]])}, expected "
            f"{list(want[differ[0]])}"
            if differ
            else f"has extra entries {sorted(set(have) - set(want))[:3]}"
        )
        raise LandscapeError(
            f"the saved policy {what}: it is not a {imported.source.value} policy of "
            f"this env with these options (hidden_sizes, normalize_observations)"
        )


def _shapes(tree) -> dict[str, tuple[int, ...]]:
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {jax.tree_util.keystr(path): tuple(np.shape(leaf)) for path, leaf in leaves}


def _check_finite(state) -> None:
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        if not np.all(np.isfinite(leaf)):
            raise LandscapeError(
                f"the saved policy's {jax.tree_util.keystr(path)} holds non-finite "
                "numbers (NaN or inf): import a checkpoint from before training "
                "diverged"
            )


def _write_run(out: Path, run_cfg: TrainConfig, parts, state, step: int, params):
    """Build the run in a hidden folder beside ``out``, then rename it into place:
    an interrupted import leaves no half-written run under ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(building, 0o777 & ~mask)  # mkdtemp's folder is private
    try:
        keys = jnp.stack([seed_key(run_cfg.seed, 0)])
        template = parts.init(keys)
        stacked = jax.tree.map(lambda x: np.asarray(x)[None], state)
        checkpoint = template.replace(agent=stacked, key=np.asarray(keys))
        rundir.atomic_write_text(building / rundir.CONFIG, OmegaConf.to_yaml(run_cfg))
        rundir.save_checkpoint(building, step, checkpoint, None, 0)
        rundir.write_manifest(
            building,
            {
                "env": run_cfg.env,
                "algo": Algo(run_cfg.algo).value,
                "backend": run_cfg.backend,
                "num_seeds": 1,
                "seeds": [0],
                "base_seed": 0,
                "steps": step,
                "checkpoint_steps": [step],
                "horizon": run_cfg.horizon,
                "observation_size": int(parts.env.observation_size),
                "action_size": int(parts.env.action_size),
                "imported": {
                    "source": run_cfg.imported.source.value,
                    "params": str(Path(params).absolute()),
                    "sha256": run_cfg.imported.params_sha256,
                },
            },
        )
        if out.exists():
            out.rmdir()  # an empty folder the user made
        os.replace(building, out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
