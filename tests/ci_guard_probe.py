"""Not collected by the normal run (the name does not match test_*.py). tests/test_ci_guard.py
runs it in a child pytest to prove that a skip fails the run under CI=true."""

import pytest


def test_probe_that_skips():
    pytest.skip("probe: a binary is missing")
