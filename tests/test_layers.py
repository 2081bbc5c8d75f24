"""The package's imports point down only: no module imports a layer above it, and no circles."""

from __future__ import annotations

import ast
from pathlib import Path

import realtime

PACKAGE = Path(realtime.__file__).parent

# Lower numbers sit lower. A module may import its own layer and the layers below it.
LAYERS = {
    "realtime.models": 0,
    "realtime.errors": 0,
    "realtime.config": 0,
    "realtime.topics": 0,
    "realtime.store": 1,
    "realtime.live": 2,
    "realtime.web": 4,
    "realtime.cli": 5,
    "realtime.__main__": 5,
}
SERVICE_LAYER = 3  # everything else: the service and its domain modules
WEB_ONLY = ("starlette", "uvicorn")
LOADTEST = "realtime.loadtest"


def layer(module: str) -> int:
    for prefix, level in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return level
    return SERVICE_LAYER


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Absolute module names imported anywhere in the file (inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: {target for target in imports(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def test_imports_point_down() -> None:
    """No module imports one from a higher layer (the loadtest is a client: models only)."""
    upward = []
    for module, targets in graph().items():
        for target in targets:
            if module.startswith(LOADTEST):
                allowed = target.startswith(LOADTEST) or target == "realtime.models"
            elif target.startswith(LOADTEST):
                allowed = layer(module) == LAYERS["realtime.cli"]
            else:
                allowed = layer(target) <= layer(module)
            if not allowed:
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_only_the_web_layer_imports_starlette_and_uvicorn() -> None:
    """The service, store and hubs know nothing of the web framework."""
    offenders = [
        f"{module_name(path)} imports {name}"
        for path in PACKAGE.rglob("*.py")
        for name in imports(path)
        if name.split(".")[0] in WEB_ONLY and layer(module_name(path)) < LAYERS["realtime.web"]
    ]
    assert offenders == []


def test_no_import_cycles() -> None:
    """Not even through a package's __init__ or an import inside a function."""
    edges = graph()
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str], on_path: set[str], done: set[str]) -> None:
        for target in sorted(edges.get(node, ())):
            if target in on_path:
                cycles.append([*path[path.index(target) :], target])
            elif target not in done:
                visit(target, [*path, target], on_path | {target}, done)
        done.add(node)

    finished: set[str] = set()
    for start in sorted(edges):
        if start not in finished:
            visit(start, [start], {start}, finished)
    # A package's __init__ re-exporting its own modules is not a cycle of layers.
    real = [cycle for cycle in cycles if not _package_reexport(cycle)]
    assert real == []


def _package_reexport(cycle: list[str]) -> bool:
    return any(other.startswith(cycle[0] + ".") for other in cycle[1:]) or any(
        cycle[0].startswith(other + ".") for other in cycle[1:]
    )
