"""Benchmarks cannot rot: every script in bench/ runs here at a tiny size and
must end with its one machine-readable line. A script that crashes, stops printing its
last line, or is added without a tiny run here fails the suite. The figures of these
runs mean nothing (seconds of work on a busy machine); bench/README.md has the real ones.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require

pytestmark = [pytest.mark.bench, pytest.mark.realservices]

BENCH = Path(__file__).resolve().parent.parent.parent / "bench"
NUMBER = r"[0-9]+(?:\.[0-9]+)?"

# script: (tiny arguments, the last line it must print, binaries it needs)
TINY_RUNS = {
    "anonymize.py": (
        ["--members", "60", "--records", "600", "--others", "1", "--db", "sqlite", "--sample", "10"],
        rf"anonymize rows=\d+ engine_s={NUMBER} floor_s={NUMBER} ratio={NUMBER} vs_per_row={NUMBER}",
        (),
    ),
    # One scenario (the access archive: the quickest to build) with one-second outages;
    # the fault-injection suite covers every case, this only keeps the script working.
    "recovery.py": (
        ["--members", "60", "--records", "600", "--import-rows", "100", "--outage", "1", "--only", "export"],
        rf"recovery cases=3 max_recovery_s={NUMBER} within_30s=\d/3 within_2x=\d/3",
        ("redis-server",),
    ),
    "roster.py": (
        ["--members", "120", "--departments", "8", "--requests", "2", "--deep-page", "2", "--db", "sqlite"],
        rf"roster queries=\d+ p50_ms={NUMBER} members=120",
        (),
    ),
    "roster_import.py": (
        ["--rows", "200", "--baseline-sample", "20", "--db", "sqlite", "--workers", "1"],
        rf"import rows_per_s={NUMBER} vs_save={NUMBER}",
        ("redis-server",),
    ),
    "seed_demo.py": (
        ["--members", "40", "--days", "1", "--baseline-sample", "20", "--autocommit-sample", "5", "--full-sample", "5"],
        rf"seed_demo members=\d+ rows_per_s={NUMBER} vs_save={NUMBER}",
        (),
    ),
    # The hostile files at their own sizes (built in a second); one timed request each.
    "upload_bombs.py": (
        ["--repeat", "1"],
        rf"upload_bombs cases=4 max_request_ms={NUMBER} max_ratio_time={NUMBER} max_ratio_memory={NUMBER}",
        (),
    ),
    "load.py": (
        ["--members", "150", "--departments", "12", "--clients", "3", "--duration", "1", "--web-processes", "2"],
        rf"load rps_roster={NUMBER} rps_api={NUMBER} rps_floor={NUMBER} ratio_min={NUMBER} "
        rf"p95_ms_max={NUMBER} errors=0",
        ("redis-server", "wrk"),
    ),
}
# Modules in bench/ that are not benchmarks of their own (the load benchmark's pieces).
HELPERS = {"load_settings.py", "load_urls.py"}


def test_every_benchmark_has_a_tiny_run():
    scripts = {path.name for path in BENCH.glob("*.py")} - HELPERS
    assert scripts == set(TINY_RUNS), "add a tiny run for each benchmark (and drop the ones removed)"


@pytest.mark.parametrize("script", sorted(TINY_RUNS))
def test_benchmark_runs_at_a_tiny_size_and_prints_its_last_line(script):
    arguments, last_line, binaries = TINY_RUNS[script]
    for binary in binaries:
        require(None if shutil.which(binary) else f"{script} needs {binary}: apt-get install {binary}")
    # The benchmark's own environment: nothing of this test run's settings leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CELERY_", "CUSTODIA_"))}
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *arguments],
        cwd=BENCH.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout.strip().splitlines()
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert output and re.fullmatch(last_line, output[-1]), f"{script}'s last line: {output[-1:]}"
