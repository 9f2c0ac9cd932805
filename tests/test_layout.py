"""The project layout and its one hard rule: the `requests` app shadows the PyPI library
of that name, so nothing the project runs in-process may import or install it."""

from __future__ import annotations

import importlib.metadata
import importlib.util
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
