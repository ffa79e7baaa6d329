"""Where a run's provenance comes from: the source commit from the install metadata
(never from the repository the process runs in), devices, command line, versions."""

import json
import subprocess
import sys
from importlib import metadata

import jax
import pytest

from return_landscapes import provenance
from return_landscapes import rundir as ckpt

pytestmark = pytest.mark.unit


class FakeDistribution:
    """The installed distribution, but with ``direct_url`` as its
    ``direct_url.json`` (``None``: no such file)."""

    def __init__(self, real, direct_url):
        self.real, self.direct_url = real, direct_url

    def read_text(self, name):
        if name != "direct_url.json":
            return self.real.read_text(name)
        return None if self.direct_url is None else json.dumps(self.direct_url)

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture
def installed(monkeypatch):
    """``installed(direct_url)``: pretend the package was installed with it."""
    real = metadata.distribution

    def install(direct_url):
        def distribution(name):
            if name != "return-landscapes":
                return real(name)
            return FakeDistribution(real(name), direct_url)

        monkeypatch.setattr(metadata, "distribution", distribution)

    return install


def git(folder, *args):
    return subprocess.run(
        ["git", *args], cwd=folder, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    """A tiny git repository with one commit: ``src/pkg/code.py`` tracked."""
    repo = tmp_path / "checkout"
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / "src" / "pkg" / "code.py").write_text("x = 1\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    return repo


def test_a_git_url_install_takes_the_commit_from_its_metadata(installed, checkout):
    commit = "0123456789abcdef0123456789abcdef01234567"
    installed(
        {
            "url": "https://github.com/example/return-landscapes",
            "vcs_info": {"vcs": "git", "commit_id": commit},
        }
    )
    # the package imported from inside another checkout changes nothing
    found = provenance.source_commit(checkout / "src" / "pkg")
    assert found == (commit, False, "direct_url.json vcs_info")


def test_an_editable_install_asks_git_in_its_source_tree(installed, checkout):
    installed({"url": checkout.as_uri(), "dir_info": {"editable": True}})
    head = git(checkout, "rev-parse", "HEAD")
    package = checkout / "src" / "pkg"
    found = provenance.source_commit(package)
    assert found == (head, False, f"git in {checkout.resolve()} (editable install)")
    (checkout / "notes.txt").write_text("untracked files do not count\n")
    assert provenance.source_commit(package).dirty is False
    (package / "code.py").write_text("x = 2\n")
    assert provenance.source_commit(package) == (head, True, found.source)


def test_a_copy_imported_from_elsewhere_gets_no_commit(installed, checkout, tmp_path):
    # e.g. PYTHONPATH=other/src over an editable install of checkout
    installed({"url": checkout.as_uri(), "dir_info": {"editable": True}})
    (tmp_path / "other" / "pkg").mkdir(parents=True)
    assert provenance.source_commit(tmp_path / "other" / "pkg") == (None, None, None)


@pytest.mark.parametrize(
    "direct_url",
    [
        None,  # installed from an index: no direct_url.json
        {"url": "file:///somewhere", "dir_info": {}},  # pip install ./folder
        {"url": "https://x/y.tar.gz", "archive_info": {}},
    ],
)
def test_other_installs_give_no_commit(installed, checkout, direct_url):
    installed(direct_url)
    found = provenance.source_commit(checkout / "src" / "pkg")
    assert found == (None, None, None)


def test_not_installed_gives_no_commit(monkeypatch, checkout):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    assert provenance.source_commit(checkout / "src" / "pkg") == (None, None, None)


def test_the_manifest_records_devices_command_and_versions(
    installed, monkeypatch, tmp_path
):
    commit = "fedcba9876543210fedcba9876543210fedcba98"
    installed({"url": "git+x", "vcs_info": {"vcs": "git", "commit_id": commit}})
    monkeypatch.setattr(sys, "argv", ["landscape-train", "env=hopper", "seeds=2"])
    ckpt.write_manifest(tmp_path, {"env": "hopper"})
    manifest = ckpt.read_manifest(tmp_path)
    devices = jax.devices()
    assert manifest["devices"] == {
        "platform": devices[0].platform,
        "kind": devices[0].device_kind,
        "count": len(devices),
    }
    assert manifest["command"] == ["landscape", "train", "env=hopper", "seeds=2"]
    assert manifest["git_commit"] == commit and manifest["git_dirty"] is False
    assert manifest["git_commit_source"] == "direct_url.json vcs_info"
    for name in ("envpool", "mujoco", "jax", "jaxlib"):
        try:
            expected = metadata.version(name)
        except metadata.PackageNotFoundError:
            expected = None
        assert manifest["versions"][name] == expected


def test_a_missing_package_version_is_none(monkeypatch):
    real = metadata.version

    def version(name):
        if name == "envpool":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "version", version)
    versions = provenance.package_versions()
    assert versions["envpool"] is None and versions["jax"] == jax.__version__


def test_a_manifest_written_before_the_new_fields_still_reads(tmp_path):
    old = {
        "format": ckpt.RUN_FORMAT,
        "format_version": 1,
        "created": "2024-01-01T00:00:00+00:00",
        "versions": {"jax": "0.4.30", "jaxlib": "0.4.30"},
        "git_commit": None,
        "env": "hopper",
    }
    (tmp_path / ckpt.MANIFEST).write_text(json.dumps(old))
    assert ckpt.read_manifest(tmp_path) == old
    assert ckpt.trained_versions(old) == {"jax": "0.4.30", "jaxlib": "0.4.30"}
