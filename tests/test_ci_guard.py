"""Under CI=true any skip fails the run; on a developer's machine a skip is only reported
(tests needing an absent binary skip with a reason, never silently in CI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import conftest

ROOT = Path(__file__).resolve().parent.parent


def run_probe(ci: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": "true" if ci else "false"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "python_files=ci_guard_probe.py",
            "tests/ci_guard_probe.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_skip_fails_the_run_under_ci():
    result = run_probe(ci=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "a skip fails CI" in result.stdout


def test_a_skip_is_only_reported_on_a_developer_machine():
    result = run_probe(ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "probe: a binary is missing" in result.stdout


def test_require_fails_instead_of_skipping_in_ci(monkeypatch):
    monkeypatch.setattr(conftest, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI must not skip: redis-server is not installed"):
        conftest.require("redis-server is not installed")
    monkeypatch.setattr(conftest, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception):
        conftest.require("redis-server is not installed")
