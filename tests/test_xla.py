"""The package's XLA flags follow the jaxlib version: set with the versions checked
to accept them, left out (silently, so an error stays one line) with any other."""

import logging

import pytest

from return_landscapes import _xla

pytestmark = pytest.mark.unit


@pytest.fixture
def no_flags_yet(monkeypatch):
    """A process whose JAX has not started and whose XLA_FLAGS is empty."""
    monkeypatch.setenv("XLA_FLAGS", "")
    monkeypatch.setattr(_xla, "backend_started", lambda: False)
    monkeypatch.setattr(_xla.platform, "machine", lambda: "x86_64")


def test_the_installed_jaxlib_is_one_the_flags_were_checked_on():
    """A lock moved to a jaxlib nobody checked would silently drop the flags."""
    assert _xla.jaxlib_version() in _xla.KNOWN_JAXLIB


@pytest.mark.parametrize("version", _xla.KNOWN_JAXLIB)
def test_a_checked_jaxlib_gets_both_flags(no_flags_yet, monkeypatch, version):
    monkeypatch.setattr(_xla, "jaxlib_version", lambda: version)
    assert _xla.configure_xla()
    assert _xla.effective_xla_flags().split() == [
        "--xla_cpu_experimental_ynn_fusion_type=",
        "--xla_cpu_max_isa=AVX2",
    ]


def test_another_jaxlib_gets_neither_and_no_log_line_above_debug(
    no_flags_yet, monkeypatch, caplog
):
    monkeypatch.setattr(_xla, "jaxlib_version", lambda: "0.11.2")
    with caplog.at_level(logging.INFO):
        assert not _xla.configure_xla()
    assert _xla.effective_xla_flags() == ""
    assert caplog.records == []
