"""Apps import one way only (docs/architecture.md):
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
