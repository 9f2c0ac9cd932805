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
