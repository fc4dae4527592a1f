"""The analytics package reads one way: no module needs one that needs it back.

Imports under `TYPE_CHECKING` count too: they still tie the two modules together
(health_rules and the store ports once imported each other that way)."""

import ast
from pathlib import Path

import central_cms.analytics

PACKAGE = "central_cms.analytics"
FOLDER = Path(central_cms.analytics.__file__).parent


def _imported(path: Path) -> set[str]:
    """The analytics modules that `path` imports, by their short name."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n.removeprefix(PACKAGE + ".") for n in names if n.startswith(PACKAGE + ".")}
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for needed in sorted(graph.get(module, ())):
            if found := visit(needed, [*path, module]):
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        if found := visit(module, []):
            return found
    return None


def test_analytics_modules_import_one_another_without_cycles():
    modules = {p.stem for p in FOLDER.glob("*.py")}
    graph = {p.stem: _imported(p) & modules for p in FOLDER.glob("*.py")}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])
