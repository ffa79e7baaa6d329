"""Damaged or foreign files and out-of-range values: one-line errors or a skip with a
note, never a traceback, and nothing outside what a command owns is written."""

import csv
import json
import logging
import math

import pytest

from return_landscapes import rundir, store
from return_landscapes.conf import (
    PurdConfig,
    ReportConfig,
    StatsConfig,
    SurfaceConfig,
    TrainConfig,
    resolve,
)
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape import stats_table
from return_landscapes.metrics_log import MetricsLog, truncate_after


def write_records(path, steps, torn: str = ""):
    lines = [json.dumps({"step": step, "kind": "eval"}) for step in steps]
    path.write_text("".join(f"{line}\n" for line in lines) + torn)


@pytest.mark.unit
def test_a_torn_last_metrics_record_is_dropped_with_a_note(tmp_path, caplog):
    path = tmp_path / "metrics.jsonl"
    write_records(path, [100, 200, 300], torn='{"step": 400, "ki')
    with caplog.at_level(logging.WARNING):
        truncate_after(path, 200)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [
        100,
        200,
    ]
    assert "torn last record" in caplog.text


@pytest.mark.unit
def test_a_damaged_metrics_line_before_the_end_is_one_error_and_no_change(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_records(path, [100])
    path.write_text(path.read_text() + "garbage\n" + json.dumps({"step": 200}) + "\n")
    before = path.read_bytes()
    with pytest.raises(LandscapeError, match="line 2 is not JSON"):
        truncate_after(path, 200)
    assert path.read_bytes() == before


@pytest.mark.unit
def test_the_metrics_log_is_never_written_through_a_symlink(tmp_path):
    outside = tmp_path / "elsewhere.jsonl"
    write_records(outside, [100, 200])
    before = outside.read_bytes()
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").symlink_to(outside)
    with pytest.raises(LandscapeError, match="symbolic link"):
        truncate_after(run / "metrics.jsonl", 100)
    with pytest.raises(LandscapeError, match="cannot append"):
        MetricsLog(run / "metrics.jsonl", resolve(TrainConfig), {})
    assert outside.read_bytes() == before


@pytest.mark.unit
def test_stray_checkpoint_and_result_names_are_skipped_not_parsed(tmp_path, caplog):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in (
        "step_000001000.npz",
        "step_000002000.npz",
        "step_000001000 (copy).npz",
    ):
        (folder / name).write_bytes(b"")
    (folder / ".step_000003000.npz.x.tmp").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        assert rundir.completed_checkpoints(tmp_path) == [1000, 2000]
    assert "step_000001000 (copy).npz" in caplog.text
    assert ".tmp" not in caplog.text  # an atomic write's temporary: no note

    seeds = tmp_path / "landscape" / "purd" / "td3" / "scale_0.0003" / "step_1000"
    seeds.mkdir(parents=True)
    for name in ("seed_000.h5", "seed_001 copy.h5", "seed_x.h5"):
        (seeds / name).write_bytes(b"")
    stray_scale = seeds.parent.parent / "scale_1e-3e" / "step_1000"
    stray_scale.mkdir(parents=True)
    (stray_scale / "seed_000.h5").write_bytes(b"")
    found = store.stored_purds(tmp_path)
    assert list(found) == [store.PurdKey("td3", 0.0003, 1000)]
    assert list(found[store.PurdKey("td3", 0.0003, 1000)]) == [0]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("schema", "overrides", "message"),
    [
        (TrainConfig, {"td3": {"actor_lr": math.nan}}, "td3.actor_lr=nan must be a"),
        (TrainConfig, {"td3": {"actor_lr": -1}}, "td3.actor_lr=-1.0 must be a finite"),
        (TrainConfig, {"sac": {"critic_lr": 0}}, "sac.critic_lr=0.0 must be a finite"),
        (TrainConfig, {"td3": {"tau": 5}}, r"td3.tau=5.0 must lie in \(0, 1\]"),
        (TrainConfig, {"td3": {"gamma": 7}}, r"td3.gamma=7.0 must lie in \(0, 1\]"),
        (TrainConfig, {"td3": {"hidden_sizes": [0]}}, "each must be at least 1"),
        (TrainConfig, {"ppo": {"gae_lambda": 1.5}}, r"must lie in \[0, 1\]"),
        (TrainConfig, {"ppo": {"learning_rate": math.inf}}, "learning_rate=inf"),
        (TrainConfig, {"reset_noise_scale": -0.1}, "must be at least 0"),
        (StatsConfig, {"threshold": math.nan}, r"threshold=nan must lie in \[0, 1\]"),
        (ReportConfig, {"threshold": 2.0}, r"threshold=2.0 must lie in \[0, 1\]"),
        (SurfaceConfig, {"span": -1.0}, "span=-1.0 must be a finite number > 0"),
    ],
)
def test_numbers_outside_their_declared_range_are_one_error(schema, overrides, message):
    with pytest.raises(LandscapeError, match=message) as raised:
        resolve(schema, **overrides)
    assert "\n" not in str(raised.value)


@pytest.mark.unit
def test_every_default_lies_in_its_range():
    for schema in (TrainConfig, PurdConfig, StatsConfig, ReportConfig, SurfaceConfig):
        resolve(schema)  # raises if a default were out of its range


@pytest.mark.unit
def test_stats_refuses_to_overwrite_a_file_it_did_not_write(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"format": "return-landscapes/run"}\n')
    before = manifest.read_bytes()
    with pytest.raises(LandscapeError, match="not a table written by"):
        stats_table.check_table_path(manifest, stats_table.COLUMNS)
    assert manifest.read_bytes() == before
    with pytest.raises(LandscapeError, match="is a folder"):
        stats_table.check_table_path(tmp_path, stats_table.COLUMNS)
    table = tmp_path / "stats.csv"
    stats_table.write_csv(table, [], stats_table.COLUMNS)
    stats_table.check_table_path(table, stats_table.COLUMNS)  # its own: allowed


@pytest.mark.unit
def test_csv_cells_that_a_spreadsheet_would_evaluate_are_quoted(tmp_path):
    row = {"run": '=HYPERLINK("x")', "perturb": "+td3", "mean": -3.5, "ltp": math.nan}
    path = tmp_path / "t.csv"
    stats_table.write_csv(path, [row], list(row))
    with open(path) as file:
        cells = list(csv.reader(file))[1]
    assert cells == ['\'=HYPERLINK("x")', "'+td3", "-3.5", ""]
