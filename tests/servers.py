"""Throwaway PostgreSQL and Redis servers on loopback, started from the server binaries.

PostgreSQL refuses to run as root, and CI runs as root, so when we are root the cluster
is initialized and started as the ``postgres`` system user (Debian's package creates
it) in a directory that user owns. Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class MissingBinary(RuntimeError):
    """A server binary the test needs is not installed."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


# --------------------------------------------------------------------------- PostgreSQL


def postgres_bindir() -> Path:
    """PG_BINDIR, else the newest Debian cluster binaries, else initdb on PATH."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise MissingBinary("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql")


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    run_as: str | None
    durable: bool = False  # fsync, synchronous commit and full-page writes on, as in production

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> None:
        subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            user=self.run_as,
            cwd=self.root,
        )

    def start(self) -> None:
        self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")
        self.start_again()

    @property
    def options(self) -> str:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=50"
        if self.durable:
            # Benchmarks: a production-like server (perf-anchors Part 2's settings).
            return options + " -c shared_buffers=1GB -c max_wal_size=4GB -c work_mem=32MB"
        # Tests: nothing needs to survive a crash of the machine, so skip the flushes to
        # disk. Commits still wait for their WAL to reach the kernel (synchronous_commit
        # on), so a committed transaction survives the server being killed
        # (``crash``): the fault-injection suite stops it with -m immediate mid-test.
        return options + " -c fsync=off -c full_page_writes=off"

    def start_again(self) -> None:
        """Start the server on its data directory (after ``crash``: crash recovery)."""
        self._run("pg_ctl", "-D", str(self.datadir), "-o", self.options, "-l", str(self.root / "log"), "-w", "start")

    def crash(self) -> None:
        """Stop the server the hard way (``-m immediate``: every backend killed, no
        checkpoint), keeping its data for ``start_again``."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def django_settings(self) -> dict:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "custodia",
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "OPTIONS": {},
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "TEST": {"NAME": "test_custodia"},
        }


def start_postgres(*, durable: bool = False) -> PostgresServer:
    bindir = postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="custodia-pg-"))
    run_as = None
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            raise MissingBinary("running as root needs the 'postgres' system user to start PostgreSQL") from None
        os.chown(root, account.pw_uid, account.pw_gid)
        run_as = "postgres"
    server = PostgresServer(bindir=bindir, root=root, port=free_port(), run_as=run_as, durable=durable)
    server.start()
    return server


# --------------------------------------------------------------------------- Redis


@dataclass
class RedisServer:
    process: subprocess.Popen
    port: int
    root: Path
    binary: str = "redis-server"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _terminate(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop and start the server on the same port. It keeps nothing on disk, so
        every queued message is lost, as after a crash of a Redis without persistence."""
        self._terminate()
        time.sleep(down_seconds)
        self.process = _redis_process(self.binary, self.port, self.root)
        wait_for_port(self.port)

    def stop(self) -> None:
        self._terminate()
        shutil.rmtree(self.root, ignore_errors=True)


def _redis_process(binary: str, port: int, root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_redis() -> RedisServer:
    binary = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if not binary:
        raise MissingBinary("redis-server is not installed: apt-get install redis-server")
    root = Path(tempfile.mkdtemp(prefix="custodia-redis-"))
    port = free_port()
    process = _redis_process(binary, port, root)
    wait_for_port(port)
    return RedisServer(process=process, port=port, root=root, binary=binary)
