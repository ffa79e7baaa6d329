"""Configs: per-option docstrings, ``--help``, old option names, light imports."""

import dataclasses
import inspect
import re
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from return_landscapes import cli, conf
from return_landscapes.errors import LandscapeError

pytestmark = pytest.mark.unit

CONFIGS = [
    member
    for _, member in inspect.getmembers(conf, inspect.isclass)
    if dataclasses.is_dataclass(member) and member.__module__.startswith(conf.__name__)
]


def run_python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120
    )


def test_every_config_is_checked():
    names = {config.__name__ for config in CONFIGS}
    assert names >= {
        "TrainConfig",
        "PurdConfig",
        "InterpolateConfig",
        "RejectConfig",
        "SurfaceConfig",
        "StatsConfig",
        "ReportConfig",
        "DemoConfig",
        "TD3Config",
        "SACConfig",
        "PPOConfig",
        "AtariConfig",
        "OffPolicyConfig",
        "WandbOptions",
        "RunEpisodeOptions",
        "AtariEpisodeOptions",
    }


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.__name__)
def test_every_field_has_a_one_line_docstring(config):
    docs = conf.field_docs(config)
    for item in dataclasses.fields(config):
        assert docs.get(item.name), f"{config.__name__}.{item.name} has no docstring"
    for klass in config.__mro__:
        if dataclasses.is_dataclass(klass):
            for name, doc in conf.describe._own_field_docs(klass).items():
                assert "\n" not in doc and doc.strip() == doc, (klass, name)


def test_field_docs_include_the_bases_fields():
    docs = conf.field_docs(conf.PurdConfig)
    assert docs["scale"].startswith("Perturbation size")
    assert docs["wandb"].startswith("Mirror metrics")  # WandbOptions
    assert docs["chunk"].startswith("Episodes per compiled call")  # RunEpisodeOptions
    assert docs["sampled_actions"].startswith("Atari:")  # AtariEpisodeOptions
    assert conf.field_docs(conf.TD3Config)["actor_lr"] == (
        "Adam learning rate of the actor."  # from OffPolicyConfig
    )


def test_describe_options_lists_nested_groups_with_types_and_defaults():
    rows = {row.key: row for row in conf.describe_options(conf.TrainConfig)}
    assert rows["algo"][1:3] == ("td3|sac|ppo", "td3")
    assert rows["steps"][1:3] == ("int | None", "null")
    assert rows["td3.*"].default is None
    assert rows["td3.hidden_sizes"][1:3] == ("list[int]", "[256,256]")
    assert rows["atari.anneal_lr"][1:3] == ("bool", "true")
    assert "atari.num_threads" in rows and "wandb_entity" in rows
    own_first = [row.key for row in conf.describe_options(conf.PurdConfig)]
    assert own_first[:3] == ["run", "perturb", "scale"]
    assert own_first[-1] == "wandb_entity"


def test_purd_help_lists_each_option_with_its_description():
    result = run_python("-m", "return_landscapes.cli", "purd", "--help")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("landscape purd: post-update return distributions")
    scale = [line for line in lines if line.strip().startswith("scale:")]
    assert len(scale) == 1
    assert "float | None = null" in scale[0]
    assert conf.field_docs(conf.PurdConfig)["scale"] in scale[0]
    assert any(line.strip().startswith("sample_seed: int = 0") for line in lines)
    assert any(line.strip().startswith("wandb_project:") for line in lines)
    assert "seed= (now sample_seed=)" in result.stdout


@pytest.mark.parametrize("command", list(conf.SCHEMAS))
def test_every_command_has_help_before_hydra(command):
    result = run_python("-m", "return_landscapes.cli", command, "-h")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"landscape {command}: ")
    assert "Hydra" not in result.stdout + result.stderr
    for row in conf.describe_options(conf.SCHEMAS[command]):
        assert row.key in result.stdout


def test_train_help_shows_nested_options():
    text = cli.command_help("train")
    line = next(x for x in text.splitlines() if x.strip().startswith("td3.actor_lr"))
    assert "float = 0.0003" in line and "Adam learning rate of the actor." in line
    assert "  atari.*" in text and "  ppo.num_envs: int = 2048" in text


def test_top_level_help_lists_the_commands():
    result = run_python("-m", "return_landscapes.cli", "--help")
    assert result.returncode == 0
    for command in conf.SCHEMAS:
        assert f"\n  {command}" in result.stdout


@pytest.mark.parametrize(
    "schema, new",
    [
        (conf.PurdConfig, "sample_seed"),
        (conf.InterpolateConfig, "sample_seed"),
        (conf.RejectConfig, "seed_index"),
        (conf.SurfaceConfig, "seed_index"),
    ],
)
def test_old_seed_name_resolves_to_the_new_one(schema, new):
    assert "seed" not in {f.name for f in dataclasses.fields(schema)}
    assert getattr(conf.resolve(schema, None, seed=3), new) == 3
    assert getattr(conf.resolve(schema, {"seed": 4}), new) == 4
    assert getattr(conf.resolve(schema, OmegaConf.create({"seed": 5})), new) == 5
    assert getattr(conf.resolve(schema, {new: 6}), new) == 6


def test_old_name_prints_one_note():
    code = (
        "from return_landscapes.conf import PurdConfig, resolve\n"
        "print(resolve(PurdConfig, None, seed=3).sample_seed)"
    )
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3"
    assert result.stderr.strip().splitlines() == [
        "note: seed= is deprecated for landscape purd, use sample_seed="
    ]


def test_train_seed_is_not_renamed():
    assert conf.resolve(conf.TrainConfig, seed=3).seed == 3


@pytest.mark.parametrize(
    "schema, new",
    [(conf.PurdConfig, "sample_seed"), (conf.SurfaceConfig, "seed_index")],
)
def test_old_and_new_name_together_is_an_error(schema, new):
    with pytest.raises(LandscapeError, match=f"seed= and {new}= are both given"):
        conf.resolve(schema, None, seed=3, **{new: 4})
    with pytest.raises(LandscapeError, match="both given"):
        conf.resolve(schema, {"seed": 3, new: 4})


def test_cli_rewrites_old_override_names():
    overrides = ["run=r", "seed=3", "--multirun", "scale=1e-4,3e-4"]
    assert cli.rename_overrides(conf.PurdConfig, overrides) == [
        "run=r",
        "sample_seed=3",
        "--multirun",
        "scale=1e-4,3e-4",
    ]
    assert cli.rename_overrides(conf.RejectConfig, ["++seed=1,2"]) == [
        "++seed_index=1,2"
    ]
    assert cli.rename_overrides(conf.TrainConfig, ["seed=3"]) == ["seed=3"]
    with pytest.raises(LandscapeError, match="both given"):
        cli.rename_overrides(conf.InterpolateConfig, ["seed=1", "sample_seed=2"])


def test_cli_old_and_new_name_is_one_error_line():
    result = run_python(
        "-m", "return_landscapes.cli", "purd", "seed=3", "sample_seed=1"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: seed= and sample_seed=")


def test_structured_configs_resolve_with_their_bases():
    for schema in conf.SCHEMAS.values():
        node = OmegaConf.structured(schema)
        assert set(node) == {f.name for f in dataclasses.fields(schema)}
        assert isinstance(conf.resolve(schema, node), schema)
    purd = conf.resolve(conf.PurdConfig, {"wandb": True, "chunk": 8})
    assert (purd.wandb, purd.chunk, purd.gamma, purd.samples) == (True, 8, 0.99, 1000)
    with pytest.raises(LandscapeError, match="valid keys: run, perturb, scale"):
        conf.resolve(conf.PurdConfig, sed=1)


def test_constants_come_from_one_place():
    from return_landscapes import constants

    assert conf.BRAX_HORIZON == conf.DEFAULT_HORIZON == constants.DEFAULT_HORIZON
    assert conf.ATARI_FRAME_SKIP is constants.ATARI_FRAME_SKIP
    assert conf.ATARI_FRAME_CAP is constants.ATARI_FRAME_CAP
    assert conf.ATARI_PREFIX is constants.ATARI_PREFIX
    atari = conf.resolve(conf.TrainConfig, env="atari:Pong-v5", algo="ppo")
    assert atari.horizon == constants.ATARI_EPISODE_STEPS == 27_000
    assert conf.is_atari("atari:Pong-v5") and not conf.is_atari("hopper")


def test_importing_conf_loads_neither_hydra_nor_jax():
    code = (
        "import sys\n"
        "import return_landscapes.conf\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('hydra', 'jax')]\n"
        "print(heavy)"
    )
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "path, word",
    [
        ("runs/hopper-td3", "run=runs/hopper-td3"),
        ("runs/héllo", "'run=\"runs/héllo\"'"),
        ("my runs/it's", "'run=\"my runs/it'\"'\"'s\"'"),
        ("runs/a=b", "'run=\"runs/a=b\"'"),
    ],
)
def test_suggested_options_paste_into_a_shell_and_hydra_reads_the_path(path, word):
    import shlex

    from hydra.core.override_parser.overrides_parser import OverridesParser

    from return_landscapes.conf.quoting import command_option

    assert command_option("run", path) == word
    (argument,) = shlex.split(word)
    assert OverridesParser.create().parse_override(argument).value() == path


@pytest.mark.parametrize(
    "override",
    [
        "hydra/sweeper=basic",
        "hydra/launcher=basic",
        "hydra/launcher=submitit_slurm",
        "hydra/job_logging=disabled",
    ],
)
def test_hydra_group_overrides_pass_through(override):
    cli.check_override_keys(conf.TrainConfig, [override, "seeds=2"])
    cli.register_configs()
    cli.check_overrides_compose("train", [override, "seeds=2"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("hydra/nonsense=x", "unknown Hydra group 'hydra/nonsense': choose one of "),
        (
            "hydra/launcher=nope",
            "unknown option 'nope' of hydra/launcher: choose one of basic, "
            "submitit_local, submitit_slurm",
        ),
        ("hydra/=x", "'hydra/=x' is not a Hydra group override: write hydra/<group>"),
        ("hydra/launcher=", "'hydra/launcher=' is not a Hydra group override"),
    ],
)
def test_bad_hydra_group_overrides_are_refused(override, message):
    with pytest.raises(LandscapeError, match="^" + re.escape(message)) as err:
        cli.check_override_keys(conf.TrainConfig, [override])
    assert "\n" not in str(err.value)
    if "nonsense" in override:
        assert "hydra/launcher" in str(err.value) and "hydra/sweeper" in str(err.value)


def test_unknown_keys_beside_hydra_groups_are_still_refused():
    with pytest.raises(LandscapeError, match="unknown option 'sweeper'"):
        cli.check_override_keys(conf.TrainConfig, ["hydra/sweeper=basic", "sweeper=x"])
