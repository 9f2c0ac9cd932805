"""The production process set, in the foreground: ``make serve`` (``python -m config.serve``).

What production runs, started the way the README's production section says, against
the PostgreSQL, Redis and secrets given by the environment (``CUSTODIA_PROFILE=production``
and the variables of the README's configuration table; the settings refuse to start
without them):

1. ``manage.py migrate --noinput`` and ``manage.py collectstatic --noinput`` (the
   production profile serves hashed, compressed static files from a manifest);
2. the web: ``gunicorn -c config/gunicorn.py`` (``WEB_CONCURRENCY`` processes);
3. ``--workers`` Celery workers (default 2), each ``celery -A config worker`` with its
   own node name and ``--worker-concurrency`` processes;
4. Celery beat, once per deployment.

Every line a process writes is passed on prefixed with its name (``web |``,
``worker1 |``, ``beat |``). Ctrl-C or SIGTERM stops them all (gunicorn and the workers
finish what they are doing: a worker's unacknowledged tasks go back to the broker);
if one of them stops on its own, the others are stopped and the exit status is 1.

The production-stack test (``tests/production/test_stack.py``) and ``bench/load.py``
run this module; only ``CUSTODIA_LOCAL_HTTP=true`` (plain HTTP on loopback, see
``config/settings.py``) differs from a deployment behind a TLS proxy.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_SECONDS = 40  # gunicorn's graceful timeout (30 s) plus a margin


def commands(*, python: str, workers: int, worker_concurrency: int) -> dict[str, list[str]]:
    """Each long-running process of a deployment by name, as it is started."""
    processes = {"web": [python, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.py")]}
    for index in range(1, workers + 1):
        processes[f"worker{index}"] = [
            python, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO",
            f"--hostname=worker{index}@%h", f"--concurrency={worker_concurrency}",
        ]  # fmt: skip
    processes["beat"] = [python, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"]
    return processes


def release_steps(python: str) -> list[list[str]]:
    """What runs once before the processes start (a release step in production)."""
    manage = str(ROOT / "manage.py")
    return [
        [python, manage, "migrate", "--noinput"],
        [python, manage, "collectstatic", "--noinput", "--verbosity=0"],
    ]


def _pump(name: str, stream, lock: threading.Lock) -> None:
    width = 8
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        with lock:
            sys.stdout.write(f"{name:<{width}}| {line}\n")
            sys.stdout.flush()
    stream.close()


class Stack:
    def __init__(self, processes: dict[str, list[str]]):
        self.processes = processes
        self.children: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()
        self.stopping = False

    def say(self, message: str) -> None:
        with self.lock:
            sys.stdout.write(f"{'serve':<8}| {message}\n")
            sys.stdout.flush()

    def start(self) -> None:
        for name, command in self.processes.items():
            child = subprocess.Popen(
                command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            self.children[name] = child
            threading.Thread(target=_pump, args=(name, child.stdout, self.lock), daemon=True).start()
            self.say(f"started {name} (pid {child.pid}): {' '.join(command[1:])}")

    def first_exited(self) -> str | None:
        for name, child in self.children.items():
            if child.poll() is not None:
                return name
        return None

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)  # warm shutdown: finish, then exit
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, child in self.children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{name} did not stop within {STOP_GRACE_SECONDS}s: killed")
                child.kill()
                child.wait()
        self.say("stopped: " + ", ".join(f"{n} exit {c.returncode}" for n, c in self.children.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker instances (default 2)")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="processes per Celery worker (default 2)")
    parser.add_argument("--skip-release", action="store_true", help="do not migrate and collect static files first")
    args = parser.parse_args(argv)
    if os.environ.get("CUSTODIA_PROFILE") != "production":
        return 2
    python = sys.executable
    if not args.skip_release:
        for step in release_steps(python):
            result = subprocess.run(step, cwd=ROOT, stdin=subprocess.DEVNULL)
            if result.returncode != 0:
                return result.returncode
    stack = Stack(commands(python=python, workers=args.workers, worker_concurrency=args.worker_concurrency))
    stop_requested = threading.Event()

    def request_stop(signum, frame):
        stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    stack.start()
    status = 0
    while not stop_requested.is_set():
        exited = stack.first_exited()
        if exited is not None:
            stack.say(f"{exited} exited with status {stack.children[exited].returncode}: stopping the others")
            status = 1
            break
        stop_requested.wait(0.5)
    stack.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
