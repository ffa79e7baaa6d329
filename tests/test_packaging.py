"""Packaging metadata agrees with itself: version, licence, citation."""

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
