"""Packaging metadata agrees with itself: version, licence, citation."""

import ast
import re
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


def lock_entries() -> dict[str, tuple[str, list[str]]]:
    """``requirements-lock.txt`` as {canonical name: (version, its hashes)}: one
    requirement per logical line (``\\`` continues it)."""
    from packaging.utils import canonicalize_name

    text = (REPOSITORY / "requirements-lock.txt").read_text().replace("\\\n", " ")
    entries = {}
    for line in text.splitlines():
        fields = line.split("#")[0].split()
        if fields:
            pin, *options = fields
            name, version = pin.split("==")
            hashes = [o for o in options if o.startswith("--hash=sha256:")]
            entries[canonicalize_name(name)] = (version, hashes)
    return entries


def lock_pins() -> dict[str, str]:
    """``requirements-lock.txt`` as {canonical name: version}."""
    return {name: version for name, (version, _) in lock_entries().items()}


@pytest.mark.unit
def test_every_locked_package_has_its_hashes():
    """The lock installs with ``--require-hashes``: a pin without a hash fails it."""
    unhashed = [name for name, (_, hashes) in lock_entries().items() if not hashes]
    assert len(lock_entries()) > 100 and not unhashed, unhashed


def test_the_lock_pins_every_declared_dependency_inside_its_range():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    declared = [
        *project["dependencies"],
        *project["optional-dependencies"]["dev"],
        *project["optional-dependencies"]["envpool"],
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
    """CI installs from ``requirements-lock.txt`` (hashes required): every locked
    package is there at its locked version. Checked where the lock is the promise:
    in CI (``CI`` set; ``.ci/run`` sets ``LANDSCAPE_CHECK_LOCK=1`` too) or when asked
    with ``LANDSCAPE_CHECK_LOCK=1``; skipped elsewhere (an install without the lock
    drifts in patch versions) and in CI with ``LANDSCAPE_UNLOCKED=1``."""
    from importlib import metadata

    if not lock_is_promised():
        pytest.skip(
            "the lock is checked in CI or with LANDSCAPE_CHECK_LOCK=1 (installed from "
            "requirements-lock.txt); this environment may differ from it"
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


def fenced_commands(markdown: str) -> list[str]:
    """The lines of a Markdown file's ```bash blocks."""
    blocks = re.findall(r"```bash\n(.*?)```", markdown, flags=re.S)
    return [line for block in blocks for line in block.splitlines()]


@pytest.mark.unit
def test_the_readme_installs_and_tests_as_ci_and_the_docs_do():
    """The README's two commands: its install is the docs' and, step by step,
    ``.ci/run``'s; its test command is the one ``.ci/run`` runs."""
    readme = fenced_commands((REPOSITORY / "README.md").read_text())
    install = next(line for line in readme if "requirements-lock.txt" in line)
    for page in ("index.md", "demo.md", "development.md"):
        assert install in fenced_commands((REPOSITORY / "docs" / page).read_text())
    ci = (REPOSITORY / ".ci/run").read_text().replace(" --quiet", "")
    ci = ci.replace(".venv/bin/python -m pip", ".venv/bin/pip")
    for step in install.split(" && ")[:-1]:  # the last runs the demo
        assert re.search(rf"^{re.escape(step)}$", ci, flags=re.M), step
    test_command = '.venv/bin/python -m pytest -m "not slow"'
    assert test_command in readme and re.search(
        rf"^{re.escape(test_command)}$", ci, flags=re.M
    )
