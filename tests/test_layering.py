"""The package's layers: no module imports one above it, inside a package as between
packages; relative imports count as absolute ones; no import cycle; only the CLI
imports Hydra."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "return_landscapes"
ROOT = "return_landscapes"

# Lowest first; a module may import its own layer and the layers below.
LAYERS = [
    {"errors", "constants", "types", "provenance", "conf", "_xla", "logs"},
    {"pipeline", "evaluation", "networks", "replay", "store", "rundir", "formats",
     "direction_files", "caches", "seed_devices", "tracking", "metrics_log"},
    {"envs"},
    {"agents"},
    {"training"},
    {"landscape"},
    {"report", "plot"},
    {"demo", "cli", "slurm"},
]  # fmt: skip

# The layers inside a package, lowest first, by the name of the module or
# sub-package right under it ("__init__": the package's own module). A package not
# named here is checked between packages and for cycles only.
SUBLAYERS = {
    "conf": [
        {"ranges", "quoting", "describe"},
        {"options", "agents"},
        {"train", "landscape", "report", "demo"},
        {"commands"},
        {"resolve"},
        {"__init__"},
    ],
    "store": [
        {"__init__"},
        {"purd", "interpolation", "rejection", "surface", "line", "selection"},
    ],
    "landscape": [
        {"__init__"},
        {"stats"},  # numpy statistics, flat policies (no JAX)
        {"perturb"},  # perturbations and their episode effects
        {"checks"},  # checked input
        {"hotpath"},  # engine, keys, mixing
        {"summary", "job"},  # the skeleton every command stands on
        {"grid"},  # planes and lines of points
        {"experiments"},  # purd, interpolate, reject, surface, line, policies
    ],
    "landscape.stats": [{"__init__", "flat"}, {"table", "aggregate", "units"}],
    "landscape.perturb": [
        {"episode"},
        {"registry"},
        {"builtin", "atari"},
        {"host_ppo"},  # ppo on host envs: builtin's update on host experience
        {"__init__"},
    ],
    "landscape.hotpath": [{"keys", "mixing"}, {"engine"}],
    "formats": [
        {"__init__"},
        {"safe_pickle", "neutral"},
        {"torch_file", "jax_actor", "normalizer"},
        {"sb3", "cleanrl"},
        {"sb3_training"},  # an SB3 TD3 or SAC training state, beside its actor
    ],
    "landscape.grid": [{"vectors"}, {"directions"}, {"plane"}],
    "landscape.experiments": [
        {"__init__"},
        {"purd", "interpolate", "reject", "surface", "line", "policies"},
        {"select"},  # ranks stored PURDs, confirms with purd's fresh_purds
    ],
    "report": [{"__init__", "html", "data"}, {"figures", "across_envs"}, {"build"}],
}
HYDRA_ALLOWED = {"cli", "slurm"}


def module_name(path: Path, package: Path) -> str:
    """``landscape.grid.plane`` for ``<package>/landscape/grid/plane.py``;
    ``landscape.perturb`` for its ``__init__.py``; ``""`` for the root's."""
    parts = path.relative_to(package).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(own: str, package: Path) -> bool:
    return (package.joinpath(*own.split(".")) / "__init__.py").is_file() or not own


def resolve(node: ast.ImportFrom, own: str, package: Path) -> str:
    """The absolute module a ``from ... import`` names (relative ones resolved)."""
    if node.level == 0:
        return node.module or ""
    base = own.split(".") if own else []
    if not is_package(own, package):
        base = base[:-1]  # a module's relative base is its package
    base = base[: len(base) - (node.level - 1)]
    return ".".join([ROOT, *base, *([node.module] if node.module else [])])


def targets(node: ast.ImportFrom, module: str, package: Path) -> list[str]:
    """The modules a ``from module import a, b`` loads: ``module.a`` where ``a`` is
    a submodule of the package, else ``module`` itself."""
    found = []
    inside = module.removeprefix(f"{ROOT}.") if module != ROOT else ""
    for alias in node.names:
        candidate = (
            package.joinpath(*inside.split("."), alias.name)
            if inside
            else (package / alias.name)
        )
        if (
            candidate.with_suffix(".py").is_file()
            or (candidate / "__init__.py").is_file()
        ):
            found.append(f"{module}.{alias.name}")
        else:
            found.append(module)
    return found


def imported_modules(path: Path, package: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in a file, function-level ones included,
    relative ones made absolute; imports under ``if TYPE_CHECKING:`` left out."""
    own = module_name(path, package)
    tree = ast.parse(path.read_text())
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = resolve(node, own, package)
            found += [(node.lineno, m) for m in targets(node, module, package)]
    return found


def layer_of(module: str) -> int:
    """The layer of ``return_landscapes.<module>`` (its first component decides)."""
    top = module.split(".")[0]
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    raise AssertionError(f"return_landscapes.{module} is in no layer: add it")


def sublayer_of(package: str, module: str) -> int:
    """The layer inside ``package`` of ``module`` (a module within it)."""
    rest = module.removeprefix(package).removeprefix(".")
    name = rest.split(".")[0] if rest else "__init__"
    for index, names in enumerate(SUBLAYERS[package]):
        if name in names:
            return index
    raise AssertionError(
        f"return_landscapes.{module} is in no layer of {package}: add it to SUBLAYERS"
    )


def upward(own: str, target: str) -> str | None:
    """Why importing ``target`` from ``own`` goes up a layer, or ``None``."""
    if layer_of(target) > layer_of(own):
        return "a higher layer"
    for package in sorted(SUBLAYERS, key=len, reverse=True):
        inside = [m == package or m.startswith(f"{package}.") for m in (own, target)]
        if all(inside) and sublayer_of(package, target) > sublayer_of(package, own):
            return f"a higher layer of {package}"
    return None


def import_graph(package: Path) -> dict[str, dict[str, int]]:
    """``{module: {imported module of the package: line}}`` for every module."""
    graph = {}
    for path in sorted(package.rglob("*.py")):
        own = module_name(path, package)
        edges = graph.setdefault(own, {})
        for line, module in imported_modules(path, package):
            if module.startswith(f"{ROOT}."):
                edges.setdefault(module.removeprefix(f"{ROOT}."), line)
    return graph


def violations(package: Path) -> list[str]:
    """Every upward import and every Hydra import outside the CLI, as text."""
    bad = []
    for path in sorted(package.rglob("*.py")):
        own = module_name(path, package)
        if not own:
            continue  # the lazy package root names the public functions
        for line, module in imported_modules(path, package):
            where = f"{path.relative_to(package)}:{line}"
            top = own.split(".")[0]
            if module.split(".")[0] == "hydra" and top not in HYDRA_ALLOWED:
                bad.append(f"{where} imports {module} (only the CLI may)")
            if not module.startswith(f"{ROOT}."):
                continue
            target = module.removeprefix(f"{ROOT}.")
            why = upward(own, target)
            if why:
                bad.append(f"{where}: {own} imports {target}, {why}")
    return bad


def cycles(package: Path) -> list[str]:
    """Every import cycle among the package's modules, as ``a -> b -> a``."""
    graph = import_graph(package)
    found, done, path = [], set(), []

    def visit(module: str) -> None:
        if module in path:
            loop = [*path[path.index(module) :], module]
            found.append(" -> ".join(loop))
            return
        if module in done:
            return
        path.append(module)
        for target in graph.get(module, {}):
            if target != module and target in graph:
                visit(target)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    return found


@pytest.mark.unit
def test_no_module_imports_a_higher_layer():
    assert violations(PACKAGE) == []


@pytest.mark.unit
def test_no_import_cycle():
    assert cycles(PACKAGE) == []


def planted(tmp_path, files: dict[str, str]) -> Path:
    """A package tree of ``files`` (path -> text), every folder a package."""
    copy = tmp_path / ROOT
    for name, text in files.items():
        path = copy / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in [path.parent, *path.parent.parents]:
            if folder == copy.parent:
                break
            (folder / "__init__.py").touch()
        path.write_text(text)
    return copy


@pytest.mark.unit
def test_a_planted_upward_import_is_caught(tmp_path):
    copy = planted(
        tmp_path,
        {
            "envs/brax.py": "def f():\n"
            "    from return_landscapes.landscape.hotpath.engine import get_engine\n",
            "conf/__init__.py": "import hydra\n",
        },
    )
    assert violations(copy) == [
        "conf/__init__.py:1 imports hydra (only the CLI may)",
        "envs/brax.py:2: envs.brax imports landscape.hotpath.engine, a higher layer",
    ]


@pytest.mark.unit
def test_a_planted_upward_import_inside_landscape_is_caught(tmp_path):
    copy = planted(
        tmp_path,
        {
            "landscape/hotpath/engine.py": (
                "from return_landscapes.landscape.experiments.purd import purd\n"
            ),
            "landscape/experiments/purd.py": "purd = 1\n",
            "landscape/grid/vectors.py": (
                "from return_landscapes.landscape.grid import plane\n"
            ),
            "landscape/grid/plane.py": "",
        },
    )
    assert violations(copy) == [
        "landscape/grid/vectors.py:1: landscape.grid.vectors imports "
        "landscape.grid.plane, a higher layer of landscape.grid",
        "landscape/hotpath/engine.py:1: landscape.hotpath.engine imports "
        "landscape.experiments.purd, a higher layer of landscape",
    ]


@pytest.mark.unit
def test_a_planted_relative_upward_import_is_caught(tmp_path):
    copy = planted(
        tmp_path,
        {
            "landscape/hotpath/keys.py": "from ..experiments import line\n",
            "landscape/experiments/line.py": "",
            "landscape/perturb/registry.py": "from . import builtin\n",
            "landscape/perturb/builtin.py": "from .registry import x\n",
            "store/purd.py": "from ..report.build import report\n",
            "report/build.py": "",
        },
    )
    assert violations(copy) == [
        "landscape/hotpath/keys.py:1: landscape.hotpath.keys imports "
        "landscape.experiments.line, a higher layer of landscape",
        "landscape/perturb/registry.py:1: landscape.perturb.registry imports "
        "landscape.perturb.builtin, a higher layer of landscape.perturb",
        "store/purd.py:1: store.purd imports report.build, a higher layer",
    ]


@pytest.mark.unit
def test_a_planted_cycle_is_caught(tmp_path):
    copy = planted(
        tmp_path,
        {
            "landscape/experiments/purd.py": (
                "from return_landscapes.landscape.experiments import reject\n"
            ),
            "landscape/experiments/reject.py": "def f():\n    from . import purd\n",
            "landscape/experiments/line.py": (
                "from return_landscapes.landscape.experiments.purd import x\n"
            ),
        },
    )
    assert violations(copy) == []  # one layer: only the cycle is wrong
    assert cycles(copy) == [
        "landscape.experiments.purd -> landscape.experiments.reject -> "
        "landscape.experiments.purd"
    ]
