"""Apps import one way only (docs/architecture.md), and no module imports itself back:
dataprotection <- accounts <- organizations <- consent <- requests."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["dataprotection", "accounts", "organizations", "consent", "requests"]
ALLOWED = {app: set(LAYERS[: index + 1]) for index, app in enumerate(LAYERS)}


def imported_top_level_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("app", LAYERS)
def test_app_imports_only_lower_layers(app):
    violations = []
    for path in sorted((ROOT / app).rglob("*.py")):
        forbidden = (imported_top_level_packages(path) & (set(LAYERS) | {"config"})) - ALLOWED[app]
        if forbidden:
            violations.append(f"{path.relative_to(ROOT)} imports {sorted(forbidden)}")
    assert violations == []


def test_the_checker_sees_a_violation(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from organizations.models import Member\nimport consent.models\n")
    assert imported_top_level_packages(sample) == {"organizations", "consent"}


# --------------------------------------------------------------------------- no cycles, hidden or not

PROJECT = [*LAYERS, "config"]


def module_graph() -> dict[str, set[str]]:
    """Every project module (migrations and management commands aside) and the project
    modules it imports -- at module level or inside a function alike."""
    modules: dict[str, Path] = {}
    for top in PROJECT:
        for path in (ROOT / top).rglob("*.py"):
            if {"migrations", "management"} & set(path.parts):
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(filter(None, (known(alias.name) for alias in node.names)))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                for alias in node.names:
                    target = known(f"{base}.{alias.name}") if base else None
                    targets.add(target if target and target != name else known(base))
        targets.discard(None)
        targets.discard(name)
        # A package that imports its own modules (``models/__init__.py``) is not a cycle.
        graph[name] = {target for target in targets if not target.startswith(f"{name}.")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules():
    """An import inside a function hides a cycle, it does not remove it: the checker
    reads those too. A service that must reach a task the task module would import
    goes through a hook (docs/architecture.md, "Hooks")."""
    assert cycles(module_graph()) == []


def test_the_cycle_finder_sees_a_hidden_cycle():
    graph = {"a.services": {"a.tasks"}, "a.tasks": {"a.services"}, "a.views": {"a.services"}}
    assert cycles(graph) == [["a.services", "a.tasks"]]
