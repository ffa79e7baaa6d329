"""``landscape demo`` end to end (tiny), the report's figures, and a report of a run
with missing pieces."""

import base64
import csv
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from helpers import (
    assert_one_error_line,
    copy_run,
    files_and_stamps,
    landscape,
    landscape_here,
)
from return_landscapes import (
    LandscapeError,
    load_rejection,
    load_selection,
    report,
    select,
)
from return_landscapes.landscape.stats.table import COLUMNS

TINY_DEMO = [
    "seeds=2",
    "steps=300",
    "checkpoints=null",
    "num_checkpoints=2",
    "random_start_steps=150",  # block edges every 30 steps: one block length
    "samples=8",
    "points=3",
    "path_samples=0",
    "reject_steps=2",
    "reject_samples=8",
    "repeats=1",
    "surface_grid=3",
    "surface_samples=0",
    "progress=false",
]

EXPECTED_FIGURES = [
    "learning_curves.png",
    "purd_hopper-td3_td3_0.0003.png",
    "mean_vs_ltp_td3_0.0003.png",
    "interpolation_hopper-td3_plain_0.0003.png",
]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """A tiny demo through the command line, as a user runs it."""
    where = tmp_path_factory.mktemp("demo")
    result = landscape("demo", "out=demo", *TINY_DEMO, cwd=where)
    assert result.returncode == 0, result.stderr
    return where / "demo", result.stderr


def embedded_images(html: str, mime: str = "image/png") -> dict[str, bytes]:
    """``{file name: image bytes}`` of the ``mime`` images inlined in a report page."""
    found = re.findall(
        rf'src="data:{re.escape(mime)};base64,([^"]+)"[^>]*data-file="([^"]+)"', html
    )
    return {name: base64.b64decode(data) for data, name in found}


def assert_valid_png(data: bytes) -> None:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pixels = image.imread(io.BytesIO(data), format="png")
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels.std() > 0  # not a blank canvas


def test_the_demo_runs_every_stage_and_reports_every_figure(demo_dir):
    out, stderr = demo_dir
    for stage in range(1, 7):
        assert f"[{stage}/6]" in stderr
    assert "demo done in" in stderr and "open demo/report/index.html" in stderr
    html = (out / "report" / "index.html").read_text()
    images = embedded_images(html)
    rejection = [n for n in images if n.startswith("rejection_hopper-td3_")]
    surfaces = [n for n in images if n.startswith("surface_hopper-td3_plain_")]
    assert len(rejection) == 1 and len(surfaces) == 1
    for name in [*EXPECTED_FIGURES, *rejection, *surfaces]:
        assert name in images, sorted(images)
        assert (out / "report" / name).read_bytes() == images[name]
        assert_valid_png(images[name])
    assert "Not available" not in html
    with open(out / "report" / "stats.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(COLUMNS)
    assert (out / "timings.json").is_file()


def test_select_on_the_demo_run_writes_its_table_and_the_report_shows_it(
    demo_dir, tmp_path, capsys
):
    out, _ = demo_dir
    run = tmp_path / "hopper-td3"
    shutil.copytree(out / "hopper-td3", run)
    table = select(run=str(run), criterion="cvar", progress=False)
    assert table == run / "landscape" / "select_cvar_all_seeds.csv"
    rows = load_selection(table)
    assert [int(r["checkpoint"]) for r in rows] and rows[0]["chosen"] == "True"
    assert {int(r["checkpoint"]) for r in rows} == {150, 300}  # every checkpoint
    assert float(rows[0]["confirm_cvar"]) == pytest.approx(
        float(rows[0]["cvar"]), rel=0.2
    )  # fresh draws of the same policy: near, and not the same numbers
    assert rows[0]["confirm_cvar"] != rows[0]["cvar"]
    printed = capsys.readouterr().out
    assert "chosen: checkpoint" in printed and "on fresh draws" in printed
    page = report(runs=[str(run)], out=str(tmp_path / "report"), resamples=100)
    html = page.read_text()
    assert "Checkpoint selection" in html and "select_cvar_all_seeds.csv" in html


def test_a_report_in_svg_or_pdf_writes_those_files_and_still_shows_every_figure(
    demo_dir, tmp_path
):
    """format=svg: SVG files, inlined as SVG. format=pdf: PDF files, each shown as a
    PNG preview that links to its PDF. No PNG file either way."""
    out, _ = demo_dir
    stems = [Path(name).stem for name in EXPECTED_FIGURES]
    svg = report(runs=[str(out / "hopper-td3")], out=str(tmp_path / "svg"),
                 format="svg", resamples=100)  # fmt: skip
    images = embedded_images(svg.read_text(), "image/svg+xml")
    assert len(images) >= len(stems) + 2  # + rejection and surface
    for stem in stems:
        data = (tmp_path / "svg" / f"{stem}.svg").read_bytes()
        assert data.startswith(b"<?xml") and b"<svg" in data[:1000]
        assert images[f"{stem}.svg"] == data
    pdf = report(runs=[str(out / "hopper-td3")], out=str(tmp_path / "pdf"),
                 format="pdf", resamples=100)  # fmt: skip
    html = pdf.read_text()
    previews = embedded_images(html)
    assert sorted(previews) == sorted(n.replace(".svg", ".pdf") for n in images)
    for name, png in previews.items():
        assert (tmp_path / "pdf" / name).read_bytes().startswith(b"%PDF-")
        assert f'<a href="{name}">{name}</a>' in html
        assert_valid_png(png)
    assert not list(tmp_path.rglob("*.png"))


def test_the_plotting_guide_example_runs_on_the_demo_results(
    demo_dir, tmp_path, monkeypatch
):
    """docs/plotting.md's example runs as printed, on the demo's output."""
    out, _ = demo_dir
    shutil.copytree(out / "hopper-td3", tmp_path / "demo" / "hopper-td3")
    monkeypatch.chdir(tmp_path)
    text = (Path(__file__).parents[1] / "docs" / "plotting.md").read_text()
    match = re.search(r"<!-- example: plot -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/plotting.md lacks the plot example"
    exec(compile(match.group(1), "plotting.md", "exec"), {})
    assert (tmp_path / "purd.pdf").read_bytes().startswith(b"%PDF-")
    assert (tmp_path / "purd.svg").read_bytes().startswith(b"<?xml")


def test_the_demo_analyses_no_policy_that_falls(demo_dir):
    """Policies whose episode ends before step 100 get a warning and no PURD; the
    root of rejection and surface is the heaviest tail among the others."""
    out, stderr = demo_dir
    with open(out / "report" / "stats.csv") as f:
        rows = list(csv.DictReader(f))
    skipped = re.findall(
        r"seed (\d) at checkpoint (\d+): policy falls at step (\d+)", stderr
    )
    assert skipped and "skipped (min_episode_steps=100)" in stderr
    assert len(rows) + len(skipped) == 2 * 2  # seeds x checkpoints
    for row in rows:
        assert float(row["unperturbed_length"]) >= 100 and row["flat"] == ""
    assert all(int(step) < 100 for *_, step in skipped)
    root = re.search(
        r"root: seed (\d) at checkpoint (\d+), the heaviest left tail", stderr
    )
    assert root and (root[1], root[2]) in {(r["seed"], r["checkpoint"]) for r in rows}
    line = re.search(
        r"held-out CVaR .* is (\S+) under cvar and (\S+) under none", stderr
    )
    assert line and "paired by repeat" in stderr and "selection biases upward" in stderr
    run = out / "hopper-td3"
    for criterion in ("cvar", "none"):
        traces = [
            r.arrays for r in load_rejection(run, int(root[2]), int(root[1]), criterion)
        ]
        heldout = np.mean([float(t["heldout_cvar"]) for t in traces])
        assert f"{heldout:.1f}" == line[1 if criterion == "cvar" else 2].rstrip(",")


def test_a_second_demo_reuses_what_is_done(demo_dir, tmp_path):
    out, _ = demo_dir
    copy = tmp_path / "demo"
    shutil.copytree(out, copy)
    results = copy / "hopper-td3" / "landscape"
    before = files_and_stamps(results)
    again = landscape_here("demo", "out=demo", *TINY_DEMO, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "already trained" in again.stderr
    assert files_and_stamps(results) == before


def test_a_run_with_missing_pieces_still_gets_a_report(tiny_td3_run, tmp_path):
    run = copy_run(tiny_td3_run, tmp_path / "bare")
    index = report(runs=[str(run)], out=str(tmp_path / "report"))
    html = index.read_text()
    assert list(embedded_images(html)) == ["learning_curves.png"]
    for what in (
        "no PURD",
        "no interpolation path",
        "no rejection trace",
        "no return surface",
    ):
        assert f"Not available: bare: {what}" in html
    assert f"landscape purd run={run}" in html
    assert not (tmp_path / "report" / "stats.csv").exists()


def test_bad_report_requests_are_refused(tiny_td3_run, tmp_path):
    with pytest.raises(LandscapeError, match="runs= is required"):
        report(runs=[], out=str(tmp_path / "r"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(LandscapeError, match="is a file: choose a folder"):
        report(runs=[str(tiny_td3_run)], out=str(tmp_path / "file"))
    with pytest.raises(LandscapeError, match="is a run directory"):
        report(runs=[str(tiny_td3_run)], out=str(tiny_td3_run))
    with pytest.raises(LandscapeError, match=r"'jpg', expected one of \[png, svg, pdf"):
        report(runs=[str(tiny_td3_run)], out=str(tmp_path / "r"), format="jpg")
    assert not (tmp_path / "r").exists()
    result = landscape_here("report", "runs=[nowhere]", cwd=tmp_path)
    assert_one_error_line(result, "nowhere is not a run directory")


def test_the_docs_example_loads_the_demo_results(demo_dir, tmp_path, monkeypatch):
    """The Python example of docs/results.md runs as printed, on the demo's output."""
    out, _ = demo_dir
    shutil.copytree(out, tmp_path / "demo")
    monkeypatch.chdir(tmp_path)
    text = (Path(__file__).parents[1] / "docs" / "results.md").read_text()
    match = re.search(r"<!-- example: results -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/results.md lacks the results example"
    namespace: dict = {}
    exec(compile(match.group(1), "docs/results.md", "exec"), namespace)
    returns = namespace["returns"]
    assert isinstance(returns, np.ndarray) and returns.shape[1] == 8


def test_bad_demo_requests_are_refused(tiny_td3_run, tmp_path):
    from return_landscapes.demo import demo

    for overrides, fragment in [
        ({"seeds": 1}, "needs at least 2 seeds for cross-seed paths"),
        ({"checkpoints": None, "num_checkpoints": 1}, "needs at least 2 for same-seed"),
        ({"checkpoints": [100, 100]}, "needs at least 2 for same-seed paths"),
        ({"steps": 1000}, "lie outside (0, steps=1000]: pass other checkpoints"),
        ({"hidden_sizes": [0]}, "hidden_sizes=[0]: each must be at least 1"),
        ({"min_episode_steps": -1}, "min_episode_steps=-1 must be 0"),
        ({"samples": 0}, "samples=0 must be at least 1"),
        ({"out": str(tiny_td3_run)}, "is a run directory"),
    ]:
        with pytest.raises(LandscapeError, match=re.escape(fragment)):
            demo(**{"out": str(tmp_path / "demo"), **overrides})
    assert not (tmp_path / "demo").exists()
