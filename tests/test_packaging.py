"""Packaging metadata agrees with itself: version, licence, citation."""

import ast
import tomllib

import pytest
import yaml

import return_landscapes
from helpers import REPOSITORY

pytestmark = pytest.mark.unit


def test_the_version_is_the_same_in_the_package_the_project_and_the_citation():
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    citation = yaml.safe_load((REPOSITORY / "CITATION.cff").read_text())
    assert return_landscapes.__version__ == project["version"] == citation["version"]


def test_the_licence_file_is_the_licence_the_project_declares():
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (REPOSITORY / "LICENSE").read_text().startswith("MIT License")
    citation = yaml.safe_load((REPOSITORY / "CITATION.cff").read_text())
    assert citation["license"] == "MIT"
    paper = citation["preferred-citation"]
    assert paper["title"].startswith("Policy Optimization in a Noisy Neighborhood")
    assert paper["year"] == 2023


def lock_pins() -> dict[str, str]:
    """``requirements-lock.txt`` as {canonical name: version}."""
    from packaging.utils import canonicalize_name

    pins = {}
    for line in (REPOSITORY / "requirements-lock.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_the_lock_pins_every_declared_dependency_inside_its_range():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    declared = [
        *project["dependencies"],
        *project["optional-dependencies"]["dev"],
        *project["optional-dependencies"]["rliable"],
        *project["optional-dependencies"]["wandb"],
    ]
    pins = lock_pins()
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements-lock.txt"
        assert requirement.specifier.contains(pins[name]), (text, pins[name])
        assert requirement.specifier, f"{text} declares no range"


def lock_is_promised() -> bool:
    """Whether this environment promises the lock: asked for with
    ``LANDSCAPE_CHECK_LOCK=1``, or in CI (``CI`` set, as ``.ci/run`` and CI services
    set it) unless ``LANDSCAPE_UNLOCKED=1``."""
    import os

    if os.environ.get("LANDSCAPE_CHECK_LOCK") == "1":
        return True
    in_ci = os.environ.get("CI", "").lower() not in ("", "0", "false")
    return in_ci and os.environ.get("LANDSCAPE_UNLOCKED") != "1"


def test_this_environment_is_the_locked_one():
    """CI installs with ``-c requirements-lock.txt``: every locked package is there
    at its locked version. Checked where the lock is the promise: in CI (``CI``
    set; ``.ci/run`` sets ``LANDSCAPE_CHECK_LOCK=1`` too) or when asked with
    ``LANDSCAPE_CHECK_LOCK=1``; skipped elsewhere (an install without the lock
    drifts in patch versions) and in CI with ``LANDSCAPE_UNLOCKED=1``."""
    from importlib import metadata

    if not lock_is_promised():
        pytest.skip(
            "the lock is checked in CI or with LANDSCAPE_CHECK_LOCK=1 (installed "
            "with -c requirements-lock.txt); this environment may differ from it"
        )
    found = {
        name: metadata.version(name) if _installed(name) else "missing"
        for name in lock_pins()
    }
    differ = {n: (v, found[n]) for n, v in lock_pins().items() if found[n] != v}
    assert not differ, f"installed versions differ from the lock: {differ}"


def _installed(name: str) -> bool:
    from importlib import metadata

    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_the_root_s_static_imports_are_the_registry_s_public_names():
    """Type checkers and the API docs read the ``if TYPE_CHECKING:`` imports of the
    package root; at run time the names come from the registry. Both say the same."""
    source = (REPOSITORY / "src/return_landscapes/__init__.py").read_text()
    static = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                for alias in statement.names:
                    static[alias.asname or alias.name] = statement.module
    assert static == return_landscapes._public()


def test_every_source_folder_is_a_package_the_wheel_keeps():
    """``packages.find`` leaves a folder without ``__init__.py`` out of the wheel."""
    source = REPOSITORY / "src/return_landscapes"
    folders = {path.parent for path in source.rglob("*.py")}
    assert [f for f in folders if not (f / "__init__.py").exists()] == []
