"""The hooks of the lower layers (docs/architecture.md, "Hooks"): each app fills them in
one place, ``<app>/hooks.py``; the table in the docs names every hook and who fills it;
after setup every registry holds what the apps put there, once."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ["dataprotection", "accounts", "organizations", "consent", "requests"]
TABLE_ROW = re.compile(r"^\| (`[^|]+`) \| ([a-z, ]+) \| [^|]+ \|$")


def documented_hooks() -> dict[str, set[str]]:
    """hook (dotted path) -> the apps the table says fill it."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("### Hooks", 1)[1].split("\n## ", 1)[0]
    hooks: dict[str, set[str]] = {}
    for line in section.splitlines():
        match = TABLE_ROW.match(line)
        if not match:
            continue
        names = re.findall(r"`([\w.]+)`", match.group(1))
        module = names[0].rpartition(".")[0]
        for name in names:
            hooks[name if "." in name else f"{module}.{name}"] = {app.strip() for app in match.group(2).split(",")}
    return hooks


def hook_calls(path: Path, hook_names: set[str]) -> list[str]:
    """The hooks a module fills: calls of a registry function, or ``.connect`` on a signal."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        called = ast.unparse(node.func)
        target = called.removesuffix(".connect") if called.endswith(".connect") else called
        last = target.rpartition(".")[2]
        for hook in hook_names:
            hook_last = hook.rpartition(".")[2]
            qualified = hook.rpartition(".")[0].rpartition(".")[2] + "." + hook_last
            if last == hook_last and (hook_last != "register" or target.endswith(qualified)):
                found.append(hook)
    return found


def test_every_documented_hook_exists():
    hooks = documented_hooks()
    assert len(hooks) >= 15, "the table in docs/architecture.md was not found"
    for dotted in hooks:
        module, _, name = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), name), dotted


@pytest.mark.parametrize("app", APPS)
def test_hooks_are_filled_only_from_the_apps_hooks_module(app):
    """No ``ready()`` full of imports, no service that registers itself: a hook filled
    anywhere but ``<app>/hooks.py`` is hidden wiring."""
    hooks = documented_hooks()
    elsewhere = []
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.parts or path.name == "hooks.py":
            continue
        for hook in hook_calls(path, set(hooks)):
            elsewhere.append(f"{path.relative_to(ROOT)} fills {hook}")
    assert elsewhere == []


def test_the_table_says_who_fills_each_hook():
    """Each row's "filled by" is exactly the apps whose hooks.py fill that hook."""
    hooks = documented_hooks()
    filled: dict[str, set[str]] = {hook: set() for hook in hooks}
    for app in APPS:
        for hook in hook_calls(ROOT / app / "hooks.py", set(hooks)):
            filled[hook].add(app)
    assert filled == hooks


def test_registries_after_setup():
    """What the recovery sweep, the cascades and key rotation find after setup."""
    from dataprotection import anonymization, liveness, rotation
    from dataprotection.models import JobKind

    assert {kind.key for kind in liveness.kinds()} == {
        "anonymization", "sms", "roster_import", "deletion_notice", "export_archive",
    }  # fmt: skip
    planners = anonymization._planners
    owners = {kind: {planner.__module__.split(".")[0] for planner in planners[kind]} for kind in planners}
    assert owners[JobKind.ACCOUNT_DELETION] >= {"dataprotection", "accounts", "organizations", "consent"}
    assert owners[JobKind.DISBAND] >= {"organizations", "consent"}
    for kind, registered in planners.items():
        assert len(registered) == len(set(registered)), f"{kind}: a planner registered twice"
    assert {"organizations.Certification", "organizations.RosterImport", "requests.ExportArchive"} <= set(
        rotation._file_columns
    )


@pytest.mark.parametrize("app", APPS)
def test_connecting_again_changes_nothing(app):
    """Every registry ignores a second registration of the same function."""
    from dataprotection import anonymization, liveness, rotation

    def state():
        return (
            {kind: list(planners) for kind, planners in anonymization._planners.items()},
            {kind: list(finishers) for kind, finishers in anonymization._finishers.items()},
            sorted(liveness._kinds),
            {label: dict(columns) for label, columns in rotation._file_columns.items()},
        )

    before = state()
    importlib.import_module(f"{app}.hooks").connect()
    assert state() == before
