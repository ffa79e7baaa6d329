import json

import numpy as np
import pytest

from return_landscapes import rundir as ckpt
from return_landscapes.errors import LandscapeError

pytestmark = pytest.mark.unit


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("old")

    def fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        ckpt.atomic_write(target, fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_manifest_round_trip_and_unknown_version(tmp_path):
    ckpt.write_manifest(tmp_path, {"env": "hopper"})
    manifest = ckpt.read_manifest(tmp_path)
    assert manifest["env"] == "hopper"
    assert manifest["format_version"] == ckpt.RUN_FORMAT_VERSION
    assert "jax" in manifest["versions"]
    manifest["format_version"] = 99
    (tmp_path / ckpt.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(LandscapeError, match="format version 99"):
        ckpt.read_manifest(tmp_path)


def test_not_a_run_directory(tmp_path):
    with pytest.raises(LandscapeError, match="not a run directory"):
        ckpt.read_manifest(tmp_path)


def test_truncated_checkpoint_is_a_one_line_error(tmp_path):
    state = {"w": np.arange(1000.0)}
    ckpt.save_checkpoint(tmp_path, 10, state, {"r": np.zeros((1, 10))}, 0)
    path = ckpt.checkpoint_path(tmp_path, 10)
    assert ckpt.completed_checkpoints(tmp_path) == [10]
    assert np.array_equal(ckpt.load_checkpoint(tmp_path, 10, state)["w"], state["w"])
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(LandscapeError, match="corrupt or truncated") as err:
        ckpt.load_checkpoint(tmp_path, 10, state)
    assert "\n" not in str(err.value)
    with pytest.raises(LandscapeError, match="no checkpoint at step 20"):
        ckpt.load_checkpoint(tmp_path, 20, state)


def test_a_run_config_written_before_an_option_loads_with_the_runs_behaviour(tmp_path):
    """TD3's actor objective and the init scheme were added later: a saved config
    without them is a run trained with first_q and LeCun init, not today's
    defaults."""
    from omegaconf import OmegaConf

    from return_landscapes.conf import ActorObjective, Init, TrainConfig
    from return_landscapes.rundir import CONFIG, load_run_config

    saved = OmegaConf.structured(TrainConfig())
    plain = OmegaConf.to_container(saved, enum_to_str=True)
    for node in ("td3", "sac"):
        del plain[node]["init"]
    del plain["td3"]["actor_objective"]
    (tmp_path / CONFIG).write_text(OmegaConf.to_yaml(OmegaConf.create(plain)))
    cfg = load_run_config(tmp_path)
    assert cfg.td3.actor_objective is ActorObjective.first_q
    assert cfg.td3.init is Init.lecun and cfg.sac.init is Init.lecun
    # a config that has them keeps them
    plain = OmegaConf.to_container(saved, enum_to_str=True)
    plain["td3"]["init"] = plain["sac"]["init"] = "orthogonal"
    (tmp_path / CONFIG).write_text(OmegaConf.to_yaml(OmegaConf.create(plain)))
    cfg = load_run_config(tmp_path)
    assert cfg.td3.actor_objective is ActorObjective.min_q
    assert cfg.td3.init is Init.orthogonal and cfg.sac.init is Init.orthogonal
