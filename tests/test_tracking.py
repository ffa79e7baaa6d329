"""Optional wandb mirroring: offline runs stay local, rows summarize each result,
and wandb is never required."""

import sys
import types

import numpy as np
import pytest

from helpers import TINY_TD3, copy_run, copy_stopped_early, landscape
from return_landscapes import LandscapeError, purd, train
from return_landscapes.landscape.stats import purd_statistics
from return_landscapes.store import purd as purd_store
from return_landscapes.tracking import RUN_ID_FILE


class FakeRun:
    def __init__(self, **settings):
        self.settings, self.rows, self.finished = settings, [], False
        self.id = settings.get("id") or f"new-{id(self):x}"  # as wandb: its own id

    def log(self, row, step=None):
        self.rows.append((step, row))

    def finish(self):
        self.finished = True


@pytest.fixture
def fake_wandb(monkeypatch):
    runs = []
    module = types.ModuleType("wandb")
    module.init = lambda **settings: runs.append(FakeRun(**settings)) or runs[-1]
    monkeypatch.setitem(sys.modules, "wandb", module)
    return runs


def test_an_offline_run_writes_only_local_files(tiny_td3_run, tmp_path):
    # In a subprocess, as a user runs it: wandb's service threads then never live in
    # the test process (they crashed it once, inside a later XLA compile).
    run = copy_run(tiny_td3_run, tmp_path / "run")
    result = landscape(
        "purd", f"run={run}", "perturb=td3", "scale=1e-2", "samples=8",
        "checkpoints=[100]", "wandb=true", "progress=false",
        cwd=tmp_path, env={"WANDB_MODE": "offline", "WANDB_SILENT": "true"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = list((run / "landscape" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(records) == 1 and records[0].stat().st_size > 0


def test_each_result_is_one_summary_row(fake_wandb, tiny_td3_run, tmp_path):
    run = copy_run(tiny_td3_run, tmp_path / "run")
    purd(run=str(run), perturb="td3", scale=1e-2, samples=8, checkpoints=[100, 200],
         wandb=True, wandb_project="p", wandb_entity="e", progress=False)  # fmt: skip
    (wandb_run,) = fake_wandb
    assert wandb_run.finished
    assert wandb_run.settings["project"] == "p" and wandb_run.settings["entity"] == "e"
    assert wandb_run.settings["group"] == "run"
    assert wandb_run.settings["config"]["samples"] == 8
    rows = [row for _, row in wandb_run.rows]
    assert [(r["purd/checkpoint"], r["purd/seed"]) for r in rows] == [
        (100, 0), (100, 1), (200, 0), (200, 1)
    ]  # fmt: skip
    for row in rows:
        result = purd_store.load_purd_result(run, row["purd/checkpoint"], "td3", 1e-2)
        returns = result.arrays["undiscounted_return"][row["purd/seed"]]
        assert row["purd/cvar"] == purd_statistics(returns)["cvar"]
        assert row["purd/mean"] == pytest.approx(float(np.mean(returns)))


def test_training_mirrors_metric_means(fake_wandb, tiny_td3_run, tmp_path):
    # the session run's config: its trainer and compiled programs are reused
    train(TINY_TD3, out=str(tmp_path / "run"), wandb=True)
    (wandb_run,) = fake_wandb
    steps = [step for step, _ in wandb_run.rows]
    assert steps == sorted(steps) and steps[-1] == 300
    evals = [row for _, row in wandb_run.rows if "eval/return" in row]
    assert len(evals) == 4  # steps 0, 100, 200 and 300
    assert wandb_run.settings["config"]["env"] == "hopper" and wandb_run.finished
    assert "resume" not in wandb_run.settings  # a new run: a new wandb run
    stored = (tmp_path / "run" / RUN_ID_FILE).read_text().strip()
    assert stored == wandb_run.id


def test_a_resumed_run_continues_its_wandb_run(fake_wandb, tiny_td3_run, tmp_path):
    run = copy_stopped_early(tiny_td3_run, tmp_path / "run")
    (run / RUN_ID_FILE).write_text("abc123\n")
    train(TINY_TD3, out=str(run), wandb=True, resume=True)
    (wandb_run,) = fake_wandb
    assert (wandb_run.settings["id"], wandb_run.settings["resume"]) == (
        "abc123",
        "allow",
    )
    # from the checkpoint on: training blocks ending at 250 and 300, the eval at 300
    assert [step for step, _ in wandb_run.rows] == [250, 300, 300]
    assert (run / RUN_ID_FILE).read_text() == "abc123\n"


def test_wandb_is_never_required(tiny_td3_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ImportError
    run = copy_run(tiny_td3_run, tmp_path / "run")
    purd(run=str(run), scale=1e-2, samples=8, checkpoints=[100], progress=False)
    with pytest.raises(LandscapeError, match="wandb=true needs the wandb package"):
        purd(run=str(run), scale=1e-2, samples=8, wandb=True, progress=False)
