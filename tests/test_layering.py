"""The package's layers: no module imports one above it; only the CLI imports Hydra."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "return_landscapes"

# Lowest first; a module may import its own layer and the layers below.
LAYERS = [
    {"errors", "constants", "types", "provenance", "conf", "_xla", "logs"},
    {"pipeline", "evaluation", "networks", "replay", "store", "rundir",
     "direction_files",
     "seed_devices", "tracking", "metrics_log"},
    {"envs"},
    {"agents"},
    {"training"},
    {"landscape"},
    {"report", "plot"},
    {"demo", "cli", "slurm"},
]  # fmt: skip
HYDRA_ALLOWED = {"cli", "slurm"}


def layer_of(module: str) -> int:
    """The layer of ``return_landscapes.<module>`` (its first component decides)."""
    top = module.split(".")[0]
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    raise AssertionError(f"return_landscapes.{module} is in no layer: add it")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in a file, function-level ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "return_landscapes":  # from return_landscapes import x
                found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def violations(package: Path) -> list[str]:
    """Every upward import and every Hydra import outside the CLI, as text."""
    bad = []
    for path in sorted(package.rglob("*.py")):
        own = ".".join(path.relative_to(package).with_suffix("").parts)
        if own == "__init__":
            continue  # the lazy package root names the public functions
        for line, module in imported_modules(path):
            where = f"{path.relative_to(package)}:{line}"
            if module.split(".")[0] == "hydra" and own.split(".")[0] not in (
                HYDRA_ALLOWED
            ):
                bad.append(f"{where} imports {module} (only the CLI may)")
            if not module.startswith("return_landscapes."):
                continue
            target = module.removeprefix("return_landscapes.")
            if layer_of(target) > layer_of(own):
                bad.append(f"{where}: {own} imports {target}, a higher layer")
    return bad


@pytest.mark.unit
def test_no_module_imports_a_higher_layer():
    assert violations(PACKAGE) == []


@pytest.mark.unit
def test_a_planted_upward_import_is_caught(tmp_path):
    copy = tmp_path / "return_landscapes"
    (copy / "envs").mkdir(parents=True)
    (copy / "envs" / "brax.py").write_text(
        "def f():\n    from return_landscapes.landscape.engine import get_engine\n"
    )
    (copy / "conf.py").write_text("import hydra\n")
    assert violations(copy) == [
        "conf.py:1 imports hydra (only the CLI may)",
        "envs/brax.py:2: envs.brax imports landscape.engine, a higher layer",
    ]
