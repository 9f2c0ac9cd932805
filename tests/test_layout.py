"""The project layout and its one hard rule: the `requests` app shadows the PyPI library
of that name, so nothing the project runs in-process may import or install it."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_requests_resolves_to_the_data_subject_request_app():
    spec = importlib.util.find_spec("requests")
    assert spec is not None
    assert Path(spec.origin).resolve() == ROOT / "requests" / "__init__.py"


def test_pypi_requests_is_not_installed_in_the_project_environment():
    """If any dependency pulled in PyPI `requests`, it would import our app instead and
    break at run time; the environment must simply not contain it."""
    names = {dist.metadata["Name"].lower() for dist in importlib.metadata.distributions()}
    assert "requests" not in names


def test_top_level_layout():
    expected = {
        "manage.py",
        "config",
        "accounts",
        "organizations",
        "consent",
        "requests",
        "templates",
        "tests",
        "requirements.txt",
        "requirements-dev.txt",
        "pyproject.toml",
        "Makefile",
        "README.md",
        ".ci",
        "bench",
        "docs",
    }
    present = {path.name for path in ROOT.iterdir()}
    assert expected <= present


def test_nothing_else_at_the_top_level():
    """The brief fixes the top level: the four apps, config, templates, tests and the
    project files, plus one cross-cutting package (``dataprotection``) and the static
    assets. A script or a helper goes inside one of them (``make run`` is
    ``python -m config.run``), never into a new top-level folder."""
    allowed = {
        *("manage.py", "config", "accounts", "organizations", "consent", "requests", "templates", "tests"),
        *("requirements.txt", "requirements-dev.txt", "README.md", "Makefile", "pyproject.toml"),
        *(".ci", "bench", "docs", ".gitignore"),
        "dataprotection",  # the one cross-cutting package (docs/architecture.md)
        "static",  # vendored and project assets, collected by collectstatic
    }
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    top_level = {line.split("/", 1)[0] for line in tracked.splitlines() if line}
    assert top_level <= allowed, f"not part of the fixed layout: {sorted(top_level - allowed)}"


# --------------------------------------------------------------------------- runtime requirements

RUNTIME_PACKAGES = ["config", "dataprotection", "accounts", "organizations", "consent", "requests"]

IMPORT_EVERY_MODULE = """
import importlib, importlib.abc, pkgutil, sys

blocked = set(sys.argv[1].split(","))


class DevelopmentOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is a development-only package (requirements-dev.txt)")
        return None


sys.meta_path.insert(0, DevelopmentOnly())
import django

django.setup()
for package_name in sys.argv[2].split(","):
    package = importlib.import_module(package_name)
    for module in pkgutil.walk_packages(package.__path__, package_name + "."):
        importlib.import_module(module.name)
print("imported", len([name for name in sys.modules if name.split(".")[0] in sys.argv[2].split(",")]))
"""


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[\s=<>!~\[;]", line)[0].lower().replace("_", "-").replace(".", "-"))
    return names


def test_runtime_code_needs_no_development_package(tmp_path):
    """A production install gets requirements.txt only: every module of the portal
    (migrations, management commands and the demo data of ``seed_demo`` included)
    imports with the packages that only requirements-dev.txt installs (test runners,
    factories, Faker, the browser driver) made unimportable."""
    runtime = requirement_names(ROOT / "requirements.txt")
    development_only = requirement_names(ROOT / "requirements-dev.txt") - runtime
    assert "faker" in development_only
    blocked = {
        module
        for module, distributions in importlib.metadata.packages_distributions().items()
        if distributions
        and all(name.lower().replace("_", "-").replace(".", "-") in development_only for name in distributions)
    }
    assert {"faker", "factory", "pytest"} <= blocked
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_MODULE, ",".join(sorted(blocked)), ",".join(RUNTIME_PACKAGES)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "CUSTODIA_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("imported ")


# --------------------------------------------------------------------------- one skeleton per app

APPS = ["accounts", "organizations", "consent", "requests"]
# The eight layers (docs/architecture.md, "Inside an app"): a package where the app has
# more than one area for it, a module where it has one.
LAYERS = {"models", "services", "selectors", "forms", "views", "api", "tasks", "admin"}
# What Django expects at an app's top level, and the app's wiring into lower layers.
CONVENTIONS = {"__init__", "apps", "urls", "hooks", "context_processors", "migrations", "management", "templatetags"}
# One module per policy, where every channel finds it ("one gate per policy").
GATES = {"accounts": {"assurance"}, "organizations": {"permissions"}, "consent": set(), "requests": {"permissions"}}
# Folders of data (no code) that a migration or a management command loads.
DATA_FOLDERS = {"consent": {"policy_texts"}, "requests": {"holiday_calendars"}}
SUFFIXED = re.compile(r"^(models|services|selectors|forms|views|api|tasks|admin|hooks|permissions)_\w+$")


def top_level_entries(app: str) -> dict[str, Path]:
    entries = {}
    for path in (ROOT / app).iterdir():
        if path.name == "__pycache__" or path.name.startswith("."):
            continue
        if path.is_file() and path.suffix != ".py":
            continue
        entries[path.stem if path.is_file() else path.name] = path
    return entries


@pytest.mark.parametrize("app", APPS)
def test_every_app_has_the_one_skeleton(app):
    """An app's top level holds the eight layers, Django's conventional modules, its
    ``hooks.py`` and its gate, nothing else: a newcomer finds any feature's models,
    services, views, API and tasks by the same path in every app."""
    entries = top_level_entries(app)
    unexpected = set(entries) - LAYERS - CONVENTIONS - GATES[app] - DATA_FOLDERS.get(app, set())
    assert not unexpected, f"{app}: move these into a layer (docs/architecture.md): {sorted(unexpected)}"
    assert {"models", "services", "views", "hooks", "apps", "urls"} <= set(entries), app
    for name in LAYERS & set(entries):
        path = entries[name]
        assert path.suffix == ".py" or (path / "__init__.py").is_file(), f"{app}/{name}: a module or a package"
    for folder in DATA_FOLDERS.get(app, set()):
        assert not list(entries[folder].rglob("*.py")), f"{app}/{folder} holds data, not code"


@pytest.mark.parametrize("app", [*APPS, "dataprotection"])
def test_no_suffixed_sibling_modules(app):
    """A new area is a module inside its layer (``views/two_factor.py``), never a
    suffixed sibling beside it (``views_two_factor.py``, ``admin_base.py``)."""
    suffixed = [
        str(path.relative_to(ROOT))
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and SUFFIXED.match(path.stem)
    ]
    assert suffixed == []


@pytest.mark.parametrize("app", [*APPS, "dataprotection"])
def test_models_are_defined_only_under_models(app):
    """Every model class of an app is defined in its ``models`` module or package."""
    from django.apps import apps

    elsewhere = [
        f"{model.__name__} in {model.__module__}"
        for model in apps.get_app_config(app).get_models()
        if model.__module__ != f"{app}.models" and not model.__module__.startswith(f"{app}.models.")
    ]
    assert elsewhere == []


@pytest.mark.parametrize("app", [*APPS, "dataprotection"])
def test_ready_only_connects_the_hooks(app):
    """What an app registers in lower layers is in one place, ``<app>/hooks.py``:
    ``AppConfig.ready()`` calls ``hooks.connect()`` and does nothing else (requests first
    tells DRF that the PyPI library its name shadows is absent)."""
    import ast

    tree = ast.parse((ROOT / app / "apps.py").read_text(encoding="utf-8"))
    (config,) = [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and f"name = {app!r}" in [ast.unparse(line) for line in node.body]
    ]
    (ready,) = [node for node in config.body if isinstance(node, ast.FunctionDef) and node.name == "ready"]
    calls = [ast.unparse(node.func) for node in ast.walk(ready) if isinstance(node, ast.Call)]
    assert calls == ["hooks.connect"], calls


def test_comments_name_features_not_issue_numbers():
    """The tracker's issue numbers mean nothing to a reader of a clone: comments and docs
    name the feature or cite a requirement ID (docs/requirements.md) instead."""
    pattern = "[Ii]ssues? [0-9]+"
    found = subprocess.run(
        ["git", "grep", "-nE", pattern, "--", ".", ":!*.po", ":!tests/test_layout.py"],
        cwd=ROOT, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert found == ""
