"""The ``landscape`` command as a user runs it: a subprocess for a real run, its
re-run and error paths through ``cli.main`` in this process."""

import pytest

from helpers import landscape, landscape_here
from return_landscapes import rundir as ckpt

TINY = [
    "env=hopper",
    "backend=spring",  # compiles faster than positional, which is not the point
    "seeds=1",
    "steps=100",
    "checkpoints=[50]",
    "block=50",
    "horizon=20",
    "eval_interval=50",
    "eval_episodes=1",
    "td3.hidden_sizes=[8,8]",
    "td3.batch_size=8",
    "td3.random_start_steps=50",
    "td3.replay_capacity=100",
]


def hide_envpool(folder) -> dict:
    """Environment variables under which ``import envpool`` fails as it does where
    envpool is not installed."""
    hidden = folder / "no-envpool" / "envpool"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'envpool'\", name='envpool')\n"
    )
    return {"PYTHONPATH": str(hidden.parent)}


def test_train_needs_no_envpool_and_resume_of_a_finished_run_is_a_no_op(tmp_path):
    done = landscape(
        "train", *TINY, "out=run", cwd=tmp_path, env=hide_envpool(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert "writing run" in done.stderr
    assert ckpt.completed_checkpoints(tmp_path / "run") == [50, 100]
    assert (tmp_path / "run" / ckpt.CONFIG).is_file()
    again = landscape_here("train", *TINY, "out=run", "resume=true", cwd=tmp_path)
    assert again.returncode == 0 and "already trained" in again.stderr


def test_a_mujoco_task_without_envpool_is_one_line_naming_the_extra(
    tmp_path, envpool_hidden
):
    result = landscape_here("train", "env=mujoco:Hopper-v5", "out=run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: env=mujoco:<Task>-v5 (Gymnasium's MuJoCo tasks) needs envpool, which "
        'is not installed: pip install "return-landscapes[envpool]" (Linux x86-64 '
        "only; Brax envs and gym:<id> need no envpool)"
    ]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["env=hopz"], "unknown env 'hopz'"),
        (["algo=dqn"], "Invalid value 'dqn', expected one of"),
        (["steps=100", "checkpoints=[500]"], "outside the budget"),
        (["seeds=0"], "seeds=0 must be at least 1"),
        (["seed_count=3"], "unknown option 'seed_count': valid options are"),
        (["td3.lr=1"], "unknown option 'td3.lr' under 'td3'"),
        (["seeds=abc"], "could not be converted to Integer"),
    ],
)
def test_bad_input_is_one_error_line(tmp_path, args, fragment):
    result = landscape_here("train", *args, "out=run", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0]
    assert not (tmp_path / "run").exists()


def test_unknown_command(tmp_path):
    result = landscape_here("trian", cwd=tmp_path)
    assert result.returncode == 2 and "unknown command 'trian'" in result.stderr
