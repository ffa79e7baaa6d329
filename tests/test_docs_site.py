"""The documentation site as a reader meets it: API tables as the docstrings mean
them, a home page that leads to every page, and code examples that run.

The site is built once for the module (``mkdocs build --strict``, as .ci/run
builds it). Every ```python block of docs/ runs here as printed, runs in the test
named in ``RUN_ELSEWHERE``, or is marked ``<!-- no-test: why -->`` on the line
above its fence. Examples that compute on a run, or compile a new program for
tens of seconds, are ``slow``: ``pytest -m slow tests/test_docs_site.py``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers import REPOSITORY, copy_run

DOCS = REPOSITORY / "docs"
FIXTURES = REPOSITORY / "tests" / "fixtures"

# ------------------------------------------------------------------- the site


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site, built strictly into a temporary folder (about 5 s)."""
    folder = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", folder],
        cwd=REPOSITORY,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    return folder


class ReturnsTables(HTMLParser):
    """The Returns tables of a page mkdocstrings rendered: ``tables`` holds, in page
    order, the id of the object each table documents and the text of its rows."""

    def __init__(self):
        super().__init__()
        self.tables: list[tuple[str, list[str]]] = []
        self._object = ""  # the id of the latest object heading
        self._in_section_title = False
        self._returns_table_next = False
        self._rows: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if "doc-heading" in classes and attributes.get("id"):
            self._object = attributes["id"]
        elif "doc-section-title" in classes:
            self._in_section_title = True
        elif tag == "table" and self._returns_table_next:
            self._rows = []
            self.tables.append((self._object, self._rows))
            self._returns_table_next = False
        elif tag == "tr" and "doc-section-item" in classes and self._rows is not None:
            self._rows.append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self._rows = None

    def handle_data(self, data):
        if self._in_section_title:
            self._returns_table_next = data.strip() == "Returns:"
            self._in_section_title = False
        elif self._rows:
            self._rows[-1] += data


def returns_tables(page: Path) -> list[tuple[str, list[str]]]:
    """(object id, row texts) of every Returns table of a built page."""
    parser = ReturnsTables()
    parser.feed(page.read_text())
    return parser.tables


def test_every_returns_table_of_the_api_has_one_row(site):
    """The project writes each Returns section as one paragraph (Google style) and
    mkdocs.yml renders it as one item (``returns_multiple_items: false``). A second
    row is that paragraph split into false items: each line at the section's
    indentation became a row, with the function's return type repeated beside a
    fragment of the sentence."""
    tables = [
        (f"page {page.relative_to(site).parent}/, {name}", rows)
        for page in sorted(site.glob("api/**/index.html"))
        for name, rows in returns_tables(page)
    ]
    documented = [where for where, _ in tables]
    assert "page api/commands/, return_landscapes.train" in documented, documented
    split = [
        f"{where}: {[' '.join(row.split()) for row in rows]}"
        for where, rows in tables
        if len(rows) != 1
    ]
    assert not split, "Returns tables split into rows:\n" + "\n".join(split)


def nav_pages(entry) -> list[str]:
    """The page files of a ``nav`` entry of mkdocs.yml, in order."""
    if isinstance(entry, str):
        return [entry]
    if isinstance(entry, dict):
        entry = list(entry.values())
    return [page for item in entry for page in nav_pages(item)]


def test_the_home_page_links_every_page_of_the_nav():
    pages = nav_pages(yaml.safe_load((REPOSITORY / "mkdocs.yml").read_text())["nav"])
    assert len(pages) > 20 and pages[0] == "index.md", pages
    home = (DOCS / "index.md").read_text()
    linked = set(re.findall(r"\]\(([^)#\s]+)", home))
    missing = [page for page in pages[1:] if page not in linked]
    assert not missing, f"docs/index.md links no {missing}"


# ---------------------------------------------------------------- the examples


@dataclass(frozen=True)
class Example:
    """A ```python block of a page of docs/: ``name`` is ``page#n``, the page's
    n-th block; ``no_test`` the reason given in a ``<!-- no-test: ... -->`` line
    right above its fence, if any."""

    name: str
    code: str
    no_test: str | None


FENCE = re.compile(
    r"(?:^<!-- no-test: (?P<no_test>.+?) -->\n)?"
    r"^(?P<indent>[ \t]*)```python[^\n]*\n(?P<code>.*?)^(?P=indent)```",
    re.M | re.S,
)


def page_examples(page: Path) -> list[Example]:
    """The ```python blocks of one page, in order, dedented."""
    name = page.relative_to(DOCS).as_posix()
    return [
        Example(
            f"{name}#{number}",
            re.sub(rf"(?m)^{match['indent']}", "", match["code"]),
            match["no_test"],
        )
        for number, match in enumerate(FENCE.finditer(page.read_text()), start=1)
    ]


EXAMPLES = {
    example.name: example
    for page in sorted(DOCS.rglob("*.md"))
    for example in page_examples(page)
}

RUN_ELSEWHERE = {
    # needs a flax network's params: run there on a network of its own
    "import.md#2": "tests/test_neutral.py::"
    "test_the_docs_export_lines_write_the_flax_network_they_read",
    # torch is no dependency of the suite: run there on stand-ins for its modules
    "import.md#3": "tests/test_neutral.py::"
    "test_the_docs_torch_export_lines_write_the_layers_they_read",
    # read a demo's results, which that module makes
    "plotting.md#2": "tests/test_report.py::"
    "test_the_plotting_guide_example_runs_on_the_demo_results",
    "results.md#1": "tests/test_report.py::"
    "test_the_docs_example_loads_the_demo_results",
}
"""Examples another test runs as printed, and that test."""

SLOW = {
    # seconds in a -m slow run of this module on a 2-core CPU, cold XLA cache
    "import.md#1": "policy_purd of an SB3 actor on hopper compiles: 36 s",
    "usage.md#1": "trains SAC at its default network sizes: 89 s at steps=300",
    # each compiles its command's programs (10-30 s), after the tiny TD3 run is
    # trained (76 s) where no other test of the process did
    "interpolate.md#1": "interpolate on a run",
    "purd.md#1": "purd on a run",
    "reject.md#1": "reject on a run",
    "surface.md#1": "loads a surface computed first",
    "directions.md#1": "loads the directions of a surface computed first",
    "directions.md#2": "loads a line computed first",
}
"""Examples run only under ``-m slow``, and what makes them slow."""

SIZES = {
    "import.md#1": [("scale=1e-2)", "scale=1e-2, samples=2)")],
    "import.md#4": [("samples=256", "samples=2"), ("points=21", "points=3"),
                    ("grid=21", "grid=3")],
    "interpolate.md#1": [("points=21, samples=20", "points=3, samples=2"),
                         ("(0, 50000, 1, 200000)", "(0, 100, 1, 300)")],
    "purd.md#1": [("samples=1000", "samples=2"),
                  ("checkpoint=50000", "checkpoint=100")],
    "reject.md#1": [("repeats=3", "repeats=1, max_steps=2, samples=2"),
                    ("checkpoint=50000", "checkpoint=100")],
    "surface.md#1": [("checkpoint=150000", "checkpoint=200"), ("grid=21", "grid=3")],
    "directions.md#1": [("_c000150000_grid021_", "_c000000200_grid003_")],
    "directions.md#2": [("checkpoint=150000", "checkpoint=200"),
                        ("points=41", "points=3")],
    "usage.md#1": [("steps=50_000", "steps=300")],
}  # fmt: skip
"""The only changes to an example before it runs, (as printed, as run): smaller
sizes (where the example leaves a size at its default, the small one is passed:
import.md#1's samples, reject.md#1's max_steps and samples), and the checkpoints
of the tests' tiny TD3 run (100, 200, 300) for the docs' 50000, 150000, 200000."""

PREPARED = {
    "surface.md#1": 'surface(run="runs/hopper-td3", checkpoint=200, grid=3, '
    'perturb="td3", scale=3e-4, samples=2)',
    "directions.md#1": 'surface(run="runs/h", checkpoint=200, grid=3, '
    'perturb="td3", scale=3e-4, samples=2, directions="update")',
    "directions.md#2": 'line(run="runs/h", checkpoint=200, points=3, span=0.2, '
    'perturb="td3", scale=3e-4, samples=2, directions="update")',
}
"""The results an example loads, computed before it runs (as the page's commands
compute them, at the sizes of ``SIZES``)."""

GIVEN = {"aggregate.md#1": {"scores": np.linspace(0.0, 1.0, 6).reshape(3, 2)}}
"""Names the prose around an example defines, with values of the shape it says."""

ON_A_RUN = {"interpolate.md#1", "purd.md#1", "reject.md#1", *PREPARED}
"""Examples that read runs/hopper-td3 (or runs/h): the tests' tiny TD3 run."""


def as_run(example: Example) -> str:
    """The example's code with the ``SIZES`` changes made."""
    code = example.code
    for printed, run in SIZES.get(example.name, []):
        assert printed in code, f"{example.name} no longer holds {printed!r}"
        code = code.replace(printed, run)
    return code


def test_the_tables_of_exceptions_name_examples_as_printed():
    """A table entry of an example that moved or changed fails here, in the fast
    suite, not only under ``-m slow``."""
    assert len(EXAMPLES) >= 16, sorted(EXAMPLES)
    tables = [RUN_ELSEWHERE, SLOW, SIZES, PREPARED, GIVEN]
    unknown = {name for table in tables for name in table} - set(EXAMPLES)
    assert not unknown, f"no such example: {sorted(unknown)}"
    assert not set(RUN_ELSEWHERE) & set(SLOW)
    for name in SIZES:
        as_run(EXAMPLES[name])


@pytest.mark.parametrize("name", sorted(RUN_ELSEWHERE))
def test_an_example_run_elsewhere_is_run_there(name):
    """The named test exists and reads the example's page."""
    path, function = RUN_ELSEWHERE[name].split("::")
    source = (REPOSITORY / path).read_text()
    assert f"def {function}(" in source, RUN_ELSEWHERE[name]
    assert name.split("#")[0] in source, f"{path} does not read docs/{name}"


RUFF_CHECK = [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache"]


def undefined_names(examples: list[Example], folder: Path) -> list[str]:
    """ruff's undefined-name findings (F821) and syntax errors in the examples, with
    ``GIVEN``'s names defined: one line per finding. ``folder`` is new and empty."""
    folder.mkdir()
    for number, example in enumerate(examples):
        given = "".join(f"{name} = None\n" for name in GIVEN.get(example.name, {}))
        (folder / f"{number}.py").write_text(given + example.code)
    found = subprocess.run(
        [*RUFF_CHECK, "--select", "F821,E9", "--output-format", "json", folder],
        capture_output=True,
        text=True,
    )
    assert found.returncode in (0, 1), found.stderr
    return [
        f"{examples[int(Path(item['filename']).stem)].name}: {item['message']}"
        for item in json.loads(found.stdout)
    ]


def test_no_example_uses_a_name_it_does_not_define(tmp_path):
    """No example uses a name it neither defines nor imports, slow ones included
    (the tests ``RUN_ELSEWHERE`` give their examples the names the prose defines)."""
    examples = [
        example
        for name, example in EXAMPLES.items()
        if not example.no_test and name not in RUN_ELSEWHERE
    ]
    assert not undefined_names(examples, tmp_path / "docs")
    broken = Example("broken.md#1", "a = 1\nprint(a, other_params)\n", None)
    assert undefined_names([broken], tmp_path / "broken") == [
        "broken.md#1: Undefined name `other_params`"
    ]


def test_every_import_of_the_package_in_an_example_resolves():
    """The package's names an example imports exist (cheap: the package imports
    lazily), slow examples and ones run elsewhere included."""
    for example in EXAMPLES.values():
        for statement in ast.parse(example.code).body:
            module = getattr(statement, "module", None) or ""
            if module.startswith("return_landscapes"):
                exec(compile(ast.Module([statement], []), example.name, "exec"), {})


def lay_out_the_docs_files(name: str, folder: Path, request) -> None:
    """The files an example names, in ``folder``: td3_model.zip an SB3 TD3 model of
    hopper; for the examples ``ON_A_RUN``, runs/hopper-td3 (and runs/h) a copy of
    the tests' tiny TD3 run."""
    (folder / "td3_model.zip").symlink_to(FIXTURES / "sb3" / "td3-hopper.zip")
    if name in ON_A_RUN:
        copy_run(request.getfixturevalue("tiny_td3_run"), folder / "runs/hopper-td3")
        (folder / "runs" / "h").symlink_to("hopper-td3")


def runnable(name: str):
    """The example as a pytest case: ``slow`` where ``SLOW`` lists it."""
    marks = [pytest.mark.slow] if name in SLOW else []
    return pytest.param(name, marks=marks, id=name)


RUN_HERE = [
    runnable(name)
    for name, example in EXAMPLES.items()
    if name not in RUN_ELSEWHERE and not example.no_test
]


@pytest.mark.parametrize("name", RUN_HERE)
def test_the_example_runs(name, request, tmp_path, monkeypatch):
    """The example runs as printed (with ``SIZES``'s changes), in a folder of its
    own where the files it names are the tests' fixtures."""
    lay_out_the_docs_files(name, tmp_path, request)
    monkeypatch.chdir(tmp_path)
    if name in PREPARED:
        from return_landscapes import line, surface

        exec(PREPARED[name], {"surface": surface, "line": line})
    namespace = dict(GIVEN.get(name, {}))
    exec(compile(as_run(EXAMPLES[name]), f"docs/{name}", "exec"), namespace)
