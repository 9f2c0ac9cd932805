"""The development process set, in the foreground: ``make run`` (``python -m config.run``).

Runs the development portal -- web server, Celery worker and beat -- and stops all three
together, promptly, when asked. ``config/serve.py`` is its production counterpart.

Ctrl-C in the terminal (SIGINT) and SIGTERM (what an IDE or a supervisor sends) both
stop everything within seconds: the web server and beat get SIGTERM; the worker gets
SIGTERM too (a warm shutdown: it finishes the task in hand) and, if it is still busy
after ``--grace`` seconds, SIGQUIT (a cold shutdown: the task's message goes back to the
queue, to be redone -- tasks are idempotent and acknowledged late). Whatever still runs
a few seconds after that is killed, pool processes included. If one of the three exits
on its own, the other two are stopped the same way and the exit status says so.

Each process runs in its own process group, so only this script decides the order: a
signal to the terminal's group (Ctrl-C) reaches this script, not the worker's pool
processes directly, which would leave the worker waiting on them.

    python -m config.run [--python .venv/bin/python] [--host 127.0.0.1] [--port 8000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KILL_AFTER_SECONDS = 5.0  # after the worker's cold shutdown was asked for


def commands(python: str, host: str, port: int, concurrency: int) -> dict[str, list[str]]:
    celery = [python, "-m", "celery", "-A", "config"]
    return {
        "worker": [*celery, "worker", "--loglevel=INFO", f"--concurrency={concurrency}"],
        "beat": [*celery, "beat", "--loglevel=INFO"],
        "web": [python, "manage.py", "runserver", f"{host}:{port}"],
    }


class Supervisor:
    def __init__(self, grace: float):
        self.grace = grace
        self.processes: dict[str, subprocess.Popen] = {}
        self.stop_requested: int | None = None

    def start(self, name: str, command: list[str]) -> None:
        self.processes[name] = subprocess.Popen(command, cwd=ROOT, process_group=0)
        say(f"started {name} (pid {self.processes[name].pid})")

    def request_stop(self, signum, _frame) -> None:
        if self.stop_requested is None:
            self.stop_requested = signum
            say(f"{signal.Signals(signum).name} received: stopping the web server, the worker and beat")

    def running(self) -> dict[str, subprocess.Popen]:
        return {name: process for name, process in self.processes.items() if process.poll() is None}

    def signal(self, names, signum: int) -> None:
        for name in names:
            process = self.processes.get(name)
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signum)

    def wait(self, seconds: float) -> bool:
        """Wait until all have exited or ``seconds`` passed; True when all have exited."""
        deadline = time.monotonic() + seconds
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        return not self.running()

    def stop_all(self) -> None:
        self.signal(("web", "beat", "worker"), signal.SIGTERM)  # the worker: warm shutdown
        if self.wait(self.grace):
            return
        if "worker" in self.running():
            say("the worker is still busy: cold shutdown (its task goes back to the queue)")
            self.signal(("worker",), signal.SIGQUIT)
        if self.wait(KILL_AFTER_SECONDS):
            return
        for name, process in self.running().items():
            say(f"{name} did not stop: killed")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its pool processes too
        self.wait(KILL_AFTER_SECONDS)

    def reap_groups(self) -> None:
        """Pool processes left behind by a worker that exited: their group goes too."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)


def say(message: str) -> None:
    sys.stderr.write(f"[run] {message}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="the virtualenv's python")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--grace", type=float, default=5.0, help="seconds the worker may finish its task before a cold shutdown"
    )
    options = parser.parse_args(argv)

    supervisor = Supervisor(options.grace)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGHUP, supervisor.request_stop)  # the terminal went away
    for name, command in commands(options.python, options.host, options.port, options.concurrency).items():
        supervisor.start(name, command)

    exited = None
    while supervisor.stop_requested is None:
        exited = next((name for name, process in supervisor.processes.items() if process.poll() is not None), None)
        if exited is not None:
            say(f"{exited} exited with status {supervisor.processes[exited].returncode}: stopping the others")
            break
        time.sleep(0.2)
    supervisor.stop_all()
    supervisor.reap_groups()
    if exited is not None:
        return supervisor.processes[exited].returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
