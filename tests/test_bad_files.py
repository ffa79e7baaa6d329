"""Damaged or foreign files and out-of-range values: one-line errors or a skip with a
note, never a traceback, and nothing outside what a command owns is written."""

import csv
import errno
import json
import logging
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from return_landscapes import provenance, rundir, store, train
from return_landscapes.cli import OS_ERROR_FIXES, user_errors
from return_landscapes.conf import (
    DemoConfig,
    PurdConfig,
    ReportConfig,
    StatsConfig,
    SurfaceConfig,
    TrainConfig,
    resolve,
)
from return_landscapes.errors import LandscapeError
from return_landscapes.landscape.checks import (
    check_finite,
    check_finite_returns,
    same_setting,
)
from return_landscapes.landscape.stats import table as stats_table
from return_landscapes.metrics_log import MetricsLog, truncate_after
from return_landscapes.store import purd as purd_store


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
    found = purd_store.stored_purds(tmp_path)
    assert list(found) == [purd_store.PurdKey("td3", 0.0003, 1000)]
    assert list(found[purd_store.PurdKey("td3", 0.0003, 1000)]) == [0]


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
        (TrainConfig, {"td3": {"hidden_sizes": []}}, "must list at least one value"),
        (TrainConfig, {"sac": {"hidden_sizes": []}}, r"pass e.g. its default, sac"),
        (TrainConfig, {"ppo": {"hidden_sizes": []}}, r"ppo.hidden_sizes=\[64,64\]"),
        (DemoConfig, {"hidden_sizes": []}, r"hidden_sizes=\[\] must list at least"),
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


@pytest.mark.unit
def test_a_non_finite_leaf_anywhere_in_a_checkpoint_names_its_seeds():
    tree = {
        "critic": np.ones((3, 4), np.float32),
        "adam_mu": np.zeros((3, 2, 2), np.float32),
        "count": np.arange(3, dtype=np.int32),  # integers cannot be non-finite
    }
    check_finite(tree, "runs/r", 1000, [0, 1, 2], "training state")
    tree["adam_mu"][2, 1, 0] = np.inf
    tree["critic"][1, 3] = np.nan
    with pytest.raises(LandscapeError, match=r"training state for seed\(s\) \[1, 2\]"):
        check_finite(tree, "runs/r", 1000, [0, 1, 2], "training state")


@pytest.mark.unit
def test_a_stored_setting_is_compared_by_value_with_the_asked_one():
    assert same_setting("[100, 200, 300]", [100, 200, 300])  # lists stored as JSON
    assert same_setting("[100, 200, 300]", np.array([100, 200, 300]))
    assert same_setting("[100, 200, 300]", (100.0, 200, 300))
    assert same_setting(np.int64(3), 3) and same_setting(np.float32(0.5), 0.5)
    assert same_setting("", None)
    assert not same_setting("[100, 200]", [100, 200, 300])
    assert not same_setting("[100, 200, 300]", [100, 200, 301])
    assert not same_setting("pca", "random") and not same_setting("[1", [1])


@pytest.mark.unit
def test_a_purd_with_a_non_finite_return_is_refused_before_it_is_stored():
    check_finite_returns(np.array([1.0, 2.0]), 1000, 0)
    with pytest.raises(LandscapeError, match="1 of 3 returns are not finite"):
        check_finite_returns(np.array([1.0, np.nan, 2.0]), 1000, 0)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("code", "fix"),
    [(errno.ENOSPC, "free space"), (errno.EACCES, "may write to")],
)
def test_a_full_disk_or_a_closed_folder_is_one_error_line(capsys, code, fix):
    with pytest.raises(SystemExit) as stopped, user_errors():
        raise OSError(code, os.strerror(code), "runs/r/landscape/x.h5")
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and fix in err
    assert "runs/r/landscape/x.h5" in err


@pytest.mark.unit
def test_a_full_disk_under_an_hdf5_write_is_one_error_line(capsys):
    report = (  # h5py's text for a write that found the disk full
        "Can't synchronously write data (file write failed: time = Mon Dec  7 "
        "11:18:23 2026\n, filename = 'runs/r/landscape/x.h5', file descriptor = 3, "
        "errno = 28, error message = 'No space left on device', buf = 0x7f, total "
        "write size = 736512, bytes this sub-write = 736512, offset = 65536)"
    )
    with pytest.raises(SystemExit) as stopped, user_errors():
        raise OSError(errno.ENOSPC, report)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "error: No space left on device (runs/r/landscape/x.h5): "
        f"{OS_ERROR_FIXES[errno.ENOSPC]}\n"
    )


@pytest.mark.unit
def test_other_os_errors_keep_their_traceback():
    with pytest.raises(ConnectionResetError), user_errors():
        raise ConnectionResetError(errno.ECONNRESET, "reset")


@pytest.mark.unit
def test_a_damaged_run_config_is_one_error(tmp_path):
    (tmp_path / "config.yaml").write_text("env: !!python/object:os.system {}\n")
    with pytest.raises(LandscapeError, match=r"config\.yaml cannot be read"):
        rundir.load_run_config(tmp_path)
    (tmp_path / "config.yaml").write_text("- just\n- a list\n")
    with pytest.raises(LandscapeError, match="is not a config"):
        rundir.load_run_config(tmp_path)


@pytest.mark.unit
def test_train_into_a_file_is_one_error_before_anything_is_built(tmp_path):
    target = tmp_path / "taken"
    target.write_text("mine")
    with pytest.raises(LandscapeError, match="is a file"):
        train(env="hopper", seeds=1, steps=1000, out=str(target))
    assert target.read_text() == "mine"


@pytest.mark.unit
def test_a_purd_file_missing_an_array_is_one_error(tmp_path):
    path = tmp_path / "seed_000.h5"
    arrays = {
        "seeds": np.array([0], np.int32),
        "undiscounted_return": np.ones((1, 3)),
        "discounted_return": np.ones((1, 3)),
        "length": np.ones((1, 3), np.int32),
        "unperturbed_return": np.ones(1),
        "unperturbed_length": np.ones(1, np.int32),
    }
    store.write_result(path, arrays, {"kind": "purd"})
    assert store.read_result(path).arrays.keys() == arrays.keys()
    del arrays["undiscounted_return"]
    store.write_result(path, arrays, {"kind": "purd"})
    with pytest.raises(LandscapeError, match="lacks undiscounted_return"):
        store.read_result(path)


@pytest.mark.unit
def test_a_second_trainer_on_a_locked_run_is_one_error_naming_the_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with (
            pytest.raises(LandscapeError, match=rf"pid {holder.pid} since"),
            rundir.run_lock(tmp_path),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
    with rundir.run_lock(tmp_path):  # released with its process, however it ended
        assert f"pid {os.getpid()}" in (tmp_path / rundir.LOCK).read_text()


HOLD_LOCK = """
import sys, time
from return_landscapes import rundir
with rundir.run_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.mark.unit
def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "seed_000.h5"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host = provenance._host()
    orphan = tmp_path / f".seed_000.h5.{host}.{gone.stdout.strip()}.abc123.tmp"
    live = tmp_path / f".seed_000.h5.{host}.{os.getppid()}.def456.tmp"
    other_host = tmp_path / ".seed_000.h5.elsewhere.1.ghi789.tmp"
    for path in (orphan, live, other_host):
        path.write_bytes(b"")
    provenance.atomic_write_text(target, "result")
    assert target.read_text() == "result"
    assert not orphan.exists()
    assert live.exists() and other_host.exists()


@pytest.mark.unit
def test_statistics_of_a_stored_non_finite_purd_are_unavailable_not_numbers():
    from return_landscapes.landscape.stats import STATISTICS, purd_statistics
    from return_landscapes.landscape.stats.flat import flat_reason

    returns = np.array([10.0, 11.0, np.nan, 12.0])
    statistics = purd_statistics(returns)
    assert set(statistics) == set(STATISTICS)
    assert all(math.isnan(value) for value in statistics.values())  # LTP too, not 0
    reason = flat_reason(1000, 1000, returns)
    assert reason is not None and reason.startswith(
        "1 of 4 PURD samples are not finite"
    )
    assert flat_reason(1000, 1000, returns[[0, 1, 3]]) is None


@pytest.mark.unit
def test_a_stray_name_is_noted_once_however_often_its_folder_is_listed(
    tmp_path, caplog
):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in ("step_000001000.npz", "step_000001000 (copy).npz", "step_1.npz"):
        (folder / name).write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert rundir.completed_checkpoints(tmp_path) == [1000]
    assert caplog.text.count("step_000001000 (copy).npz") == 1
    assert caplog.text.count("step_1.npz") == 1
