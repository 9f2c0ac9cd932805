"""``make run`` stops promptly (``config/run.py``): started as an IDE or a supervisor
starts it, with the web server, a Celery worker and beat running, one SIGTERM or Ctrl-C
to the script stops all three, pool processes included, within seconds -- never a
worker left in a warm shutdown for a minute, never an orphan."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STOP_WITHIN_SECONDS = 15  # grace 2 s + cold shutdown; the old recipe had not stopped after 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def alive_in_group(pgid: int) -> list[int]:
    """Processes whose process group is ``pgid`` (each child leads its own group)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_one_signal_stops_the_web_server_the_worker_and_beat(tmp_path, stop_signal):
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to find the processes left behind")
    log = tmp_path / "run.log"
    env = {
        **os.environ,
        "CUSTODIA_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    with log.open("w") as output:
        runner = subprocess.Popen(
            [sys.executable, "-m", "config.run", "--port", str(free_port()), "--grace", "2"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # as an IDE runs it: its own group, signalled as a whole by us on failure
        )
    try:
        deadline = time.monotonic() + 90
        while not ("ready." in log.read_text() and "Quit the server with" in log.read_text()):
            assert runner.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the portal did not start:\n" + log.read_text()
            time.sleep(0.3)
        children = {name: int(pid) for name, pid in re.findall(r"started (\w+) \(pid (\d+)\)", log.read_text())}
        assert set(children) == {"web", "worker", "beat"}
        assert len(alive_in_group(children["worker"])) >= 2  # the worker and its pool processes

        stopped_at = time.monotonic()
        runner.send_signal(stop_signal)
        assert runner.wait(timeout=STOP_WITHIN_SECONDS) == 0, log.read_text()
        took = time.monotonic() - stopped_at
        left = {name: alive_in_group(pid) for name, pid in children.items() if alive_in_group(pid)}
        assert left == {}, f"still running after {took:.1f}s: {left}\n{log.read_text()}"
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
        for pid in re.findall(r"started \w+ \(pid (\d+)\)", log.read_text()):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pid), signal.SIGKILL)
