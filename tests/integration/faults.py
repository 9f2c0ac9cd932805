"""Fault injection for the recovery suite (tests/integration/test_recovery.py) and the
recovery benchmark (bench/recovery.py): real ``celery worker`` processes (prefork, as in
production) that can be held at a named point of a job's work and killed with SIGKILL,
a real ``celery beat``, and the clock of one faulted run.

A worker is held through ``dataprotection.liveness.checkpoint``: the worker program
below registers a hook that reads ``<folder>/arm`` ("<checkpoint name> <n>": hold at
the n-th time this process reaches it), writes ``<folder>/reached-<pid>`` and waits
until ``<folder>/release`` exists. The product is not changed; nothing is registered
outside these processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent

FAULT_WORKER = """
import os, sys, time
import django
django.setup()
from config.celery import app
from dataprotection import liveness
folder = os.environ["FAULT_DIR"]
seen = {}
def hold(name):
    try:
        with open(os.path.join(folder, "arm")) as armed:
            words = armed.read().split()
    except FileNotFoundError:
        return
    if not words or words[0] != name:
        return
    seen[name] = seen.get(name, 0) + 1
    if seen[name] < int(words[1] if len(words) > 1 else 1):
        return
    with open(os.path.join(folder, f"reached-{os.getpid()}"), "w") as reached:
        reached.write(name)
    deadline = time.monotonic() + 600
    while not os.path.exists(os.path.join(folder, "release")) and time.monotonic() < deadline:
        time.sleep(0.02)
liveness.add_checkpoint_hook(hold)
app.worker_main(sys.argv[1:])
"""


def wait_until(predicate, timeout: float = 60.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@dataclass
class Process:
    name: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Cluster:
    """Worker processes and one beat on a broker and a database, with a folder through
    which the test holds them at a checkpoint. Each worker runs in its own process group
    (``kill`` takes the whole worker: the main process and its pool child)."""

    env: dict
    folder: Path
    concurrency: int = 1
    workers: list[Process] = field(default_factory=list)
    beat: Process | None = None
    generation: int = 0

    def _spawn(self, name: str, argv: list[str]) -> Process:
        log_path = self.folder / f"{name}.log"
        with log_path.open("a") as log:
            process = subprocess.Popen(
                [sys.executable, *argv],
                cwd=PROJECT_ROOT,
                env={**self.env, "FAULT_DIR": str(self.folder)},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return Process(name, process, log_path)

    def start_workers(self, count: int = 2, timeout: float = 90.0) -> list[Process]:
        """Start ``count`` workers at once and wait until each says it is ready."""
        self.generation += 1
        started = []
        for index in range(count):
            name = f"w{index + 1}-{self.generation}"
            started.append(
                self._spawn(
                    name,
                    [
                        "-c",
                        FAULT_WORKER,
                        "worker",
                        "--pool=prefork",
                        f"--concurrency={self.concurrency}",
                        "--loglevel=INFO",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                        "--hostname",
                        f"{name}@%h",
                    ],
                )
            )
        self.workers += started
        for worker in started:
            if not wait_until(lambda w=worker: "ready." in w.log() or w.process.poll() is not None, timeout, 0.1):
                raise RuntimeError(f"worker {worker.name} did not start:\n{worker.log()[-4000:]}")
            if worker.process.poll() is not None:
                raise RuntimeError(f"worker {worker.name} exited:\n{worker.log()[-4000:]}")
        return started

    def start_beat(self) -> Process:
        self.beat = self._spawn(
            "beat",
            [
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel=INFO",
                "--schedule",
                str(self.folder / "beat-schedule"),
            ],
        )
        if not wait_until(lambda: "beat: Starting" in self.beat.log(), 60, 0.1):
            raise RuntimeError(f"beat did not start:\n{self.beat.log()[-4000:]}")
        return self.beat

    def alive(self) -> list[Process]:
        return [worker for worker in self.workers if worker.process.poll() is None]

    def kill_workers(self) -> None:
        """SIGKILL every live worker, the whole process group: nothing is acked, nothing
        is rolled forward, no shutdown code runs."""
        for worker in self.alive():
            os.killpg(worker.process.pid, signal.SIGKILL)
        for worker in self.workers:
            worker.process.wait(timeout=20)

    # ------------------------------------------------------------------ holding a worker

    def arm(self, checkpoint: str, nth: int = 1) -> None:
        (self.folder / "release").unlink(missing_ok=True)
        for reached in self.folder.glob("reached-*"):
            reached.unlink()
        (self.folder / "arm").write_text(f"{checkpoint} {nth}")

    def held(self) -> list[str]:
        return [path.name for path in self.folder.glob("reached-*")]

    def wait_held(self, timeout: float = 60.0) -> bool:
        return bool(wait_until(self.held, timeout, 0.02))

    def release(self) -> None:
        (self.folder / "arm").unlink(missing_ok=True)
        (self.folder / "release").write_text("go")

    # ------------------------------------------------------------------ the end

    def logs(self, tail: int = 5000) -> str:
        processes = [*self.workers, *([self.beat] if self.beat else [])]
        return "\n".join(f"--- {p.name}\n{p.log()[-tail:]}" for p in processes)

    def stop(self) -> None:
        self.release()
        processes = [p for p in [*self.workers, self.beat] if p is not None and p.process.poll() is None]
        for p in processes:
            os.killpg(p.process.pid, signal.SIGTERM)
        for p in processes:
            try:
                p.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.process.pid, signal.SIGKILL)
                p.process.wait(timeout=10)


@dataclass
class Clock:
    """The moments of one run: when it started, when the fault began and cleared, when
    the job first moved after that, and when it ended."""

    started: float = field(default_factory=time.monotonic)
    fault_at: float | None = None
    cleared_at: float | None = None
    progressed_at: float | None = None
    finished_at: float | None = None
    # The longest time after the fault cleared during which the job showed no sign of
    # life at all: no progress and no heartbeat (its first move included).
    stalled: float = 0.0

    def fault(self) -> None:
        self.fault_at = time.monotonic()

    def cleared(self) -> None:
        self.cleared_at = time.monotonic()

    @property
    def outage(self) -> float:
        return self.cleared_at - self.fault_at

    @property
    def recovery(self) -> float:
        return self.progressed_at - self.cleared_at

    @property
    def total(self) -> float:
        return self.finished_at - self.started


# --------------------------------------------------------------------------- the database from this process


def reconnect() -> None:
    """After the database restarted, this process's connection is a dead socket."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except Exception:  # broken already: forget it
            conn.connection = None


def read(query: Callable):
    """A read that survives the database being away (polling across an outage)."""
    from django.db import InterfaceError, OperationalError

    try:
        return query()
    except (OperationalError, InterfaceError):
        reconnect()
        return None


# --------------------------------------------------------------------------- faults


@dataclass
class Fault:
    """What happens once a worker is held at ``checkpoint`` (the ``nth`` time one
    process reaches it); ``inject`` does the damage, calls ``mark()`` once nothing can
    move any more (how far the job is then), and returns when the fault has cleared."""

    name: str
    checkpoint: str
    nth: int
    inject: Callable
    # What the fault leaves on the job's row: the attempts a takeover counted, none for
    # an outage (``expect(row)`` asserts it).
    expect: Callable = lambda row: None


def kill_workers(cluster: Cluster, clock: Clock, mark: Callable, **_) -> None:
    """SIGKILL both workers (the one holding the step and the other), with the messages
    they had taken; then start two new ones. Cleared: the new workers are ready."""
    clock.fault()
    cluster.kill_workers()
    mark()
    cluster.release()  # the new workers pass the checkpoint
    cluster.start_workers(2)
    clock.cleared()


def restart_postgres(cluster: Cluster, clock: Clock, mark: Callable, postgres, outage: float = 2.0, **_) -> None:
    """Stop PostgreSQL with ``-m immediate`` under the held worker (its transaction is
    lost), let the workers run into the outage for ``outage`` seconds, start it again.
    Cleared: it accepts connections (crash recovery done)."""
    mark()
    clock.fault()
    postgres.crash()
    cluster.release()
    time.sleep(outage)
    postgres.start_again()
    clock.cleared()
    reconnect()


def restart_redis(cluster: Cluster, clock: Clock, mark: Callable, redis, outage: float = 2.0, **_) -> None:
    """Restart redis-server (no persistence), down for ``outage`` seconds: every queued
    and unacknowledged message is lost, and the workers cancel the task they were
    running (late acks: it was never acknowledged). Cleared: Redis accepts connections
    again."""
    mark()
    clock.fault()
    redis.restart(down_seconds=outage)
    clock.cleared()
    cluster.release()


def run_with(
    cluster: Cluster,
    fault: Fault | None,
    start: Callable,
    marker: Callable,
    done: Callable,
    *,
    progress_timeout: float = 60.0,
    done_timeout: float = 180.0,
    held_timeout: float = 90.0,
    alive: Callable | None = None,
    **servers,
) -> Clock:
    """Start the job (``start``), inject ``fault`` when a worker is held, and wait until
    ``done``; ``marker`` reads how far the job is (its first change after the fault has
    cleared is the recovery), ``alive`` its heartbeat (with the marker: the signs of life
    whose longest absence after the fault is ``clock.stalled``). ``servers``:
    ``postgres``, ``redis`` and ``outage`` for the fault. Returns the clock."""
    clock = Clock()
    if fault is not None:
        cluster.arm(fault.checkpoint, fault.nth)
    start()
    if fault is not None:
        if not cluster.wait_held(timeout=held_timeout):
            raise AssertionError(f"no worker reached {fault.checkpoint}\n{cluster.logs()}")
        before: list = []
        fault.inject(cluster, clock, lambda: before.append(read(marker)), **servers)
        progressed = wait_until(
            lambda: (value := read(marker)) is not None and value != before[0], timeout=progress_timeout
        )
        if not progressed:
            raise AssertionError(f"no progress after {fault.name}\n{cluster.logs()}")
        clock.progressed_at = time.monotonic()
        clock.stalled = clock.recovery
        if alive is not None:
            _watch_signs_of_life(clock, lambda: (read(marker), read(alive)), done, done_timeout)
    if not wait_until(lambda: read(done), timeout=done_timeout, interval=0.1):
        raise AssertionError(f"not done after {done_timeout} s\n{cluster.logs()}")
    clock.finished_at = time.monotonic()
    return clock


def _watch_signs_of_life(clock: Clock, sign: Callable, done: Callable, timeout: float) -> None:
    """Until the job is done, note the longest time its progress and heartbeat stood
    still (a live worker beats every ``JOB_HEARTBEAT_SECONDS``)."""
    deadline = time.monotonic() + timeout
    last, changed_at = sign(), time.monotonic()
    while time.monotonic() < deadline and not read(done):
        time.sleep(0.1)
        now, current = time.monotonic(), sign()
        if current != last:
            clock.stalled = max(clock.stalled, now - changed_at)
            last, changed_at = current, now
    clock.stalled = max(clock.stalled, time.monotonic() - changed_at)
