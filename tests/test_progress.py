"""Progress: a bar on a terminal, plain lines now and then in a log file (SLURM),
``progress=true/false`` forcing either way."""

import io
import sys

import pytest

from return_landscapes.logs import ProgressLines, progress_bar

pytestmark = pytest.mark.unit


class Terminal(io.StringIO):
    def isatty(self):
        return True


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize(
    "stream, enabled, kind, shown",
    [
        (Terminal(), None, "bar", True),
        (io.StringIO(), None, "lines", True),  # a SLURM log: no bar
        (io.StringIO(), True, "bar", True),  # progress=true forces the bar
        (Terminal(), False, "bar", False),  # progress=false: nothing
        (io.StringIO(), False, "bar", False),
    ],
)
def test_the_display_follows_the_terminal_unless_forced(
    monkeypatch, stream, enabled, kind, shown
):
    monkeypatch.setattr(sys, "stderr", stream)
    with progress_bar(300, enabled, "step", "train") as bar:
        assert isinstance(bar, ProgressLines) == (kind == "lines")
        if kind == "bar":
            assert bar.disable == (not shown)
            bar.update(300)
    assert ("300/300" in stream.getvalue()) == (kind == "bar" and shown)


def test_lines_come_every_interval_with_rate_and_time_left(capsys):
    clock = Clock()
    lines = ProgressLines(300, "step", "train", initial=100, interval=60, clock=clock)
    clock.now += 30
    lines.update(50)  # 30 s: too soon for a line
    assert capsys.readouterr().err == ""
    clock.now += 31
    lines.update(50)  # 61 s, 100 steps done: 1.64 steps/s, 100 left: 61 s
    lines.set_postfix(eval_return=812.4)
    clock.now += 59
    lines.update(50)  # 59 s after the last line: none
    assert capsys.readouterr().err.splitlines() == [
        "train: 200/300 steps (67%), 1.64 steps/s, 1m 01s left"
    ]
    clock.now += 1
    lines.close()  # work that wrote lines ends with one
    assert capsys.readouterr().err.splitlines() == [
        "train: 250/300 steps (83%), 1.24 steps/s, 40s left; eval_return=812"
    ]


def test_short_work_writes_no_lines(capsys):
    clock = Clock()
    with ProgressLines(8, "sample", "purd", interval=60, clock=clock) as lines:
        lines.set_postfix_str("compiling")
        clock.now += 59
        lines.update(8)
    assert capsys.readouterr().err == ""


def test_long_counts_are_grouped_and_hours_shown():
    clock = Clock()
    lines = ProgressLines(60_000_000, "step", "train", clock=clock)
    clock.now += 100
    lines.n = 1_000_000
    assert lines.line() == (
        "train: 1,000,000/60,000,000 steps (2%), 10,000 steps/s, 1h 38m left"
    )
