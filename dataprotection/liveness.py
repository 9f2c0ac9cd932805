"""Liveness of background jobs: heartbeats, takeover, database outages and the sweep
that enqueues again the jobs nobody is working on (ANON-2 "resumable after a crash";
the roster import, ORG-7; export archives, REQ-7; deletion notices, SVC-3; SMS, ACC-1).

The database is the queue of record. Every kind of background job is a row with a
status, an attempt count and the fields of ``dataprotection.models.LiveJob``:

- ``worker``: the token of the worker process holding the row ("" when nobody does).
  Claims are compare-and-set on it, and every write that finishes a step is
  conditioned on it, so a worker that lost its claim cannot apply anything.
- ``heartbeat_at``: when the row last showed a sign of life. A worker holding a row
  beats it every ``JOB_HEARTBEAT_SECONDS`` from a thread (``heartbeat``) while it works,
  whatever the main thread is doing; a row whose heartbeat is older than
  ``JOB_STALE_SECONDS`` has no live worker, and the next claim takes it over.
- ``queued_at``: when the sweep last enqueued it, so that a job waiting behind a long
  queue is not enqueued again on every sweep.

``sweep`` (beat every ``JOB_SWEEP_SECONDS``, and every worker as it starts) asks each
registered kind for the rows that should be running and have no live worker -- one
indexed query per kind -- and enqueues them again. A lost message (a restarted Redis, a
worker killed with its prefetched message) or a dead worker therefore costs at most
``JOB_STALE_SECONDS + JOB_SWEEP_SECONDS``, not a lease or the broker's visibility
timeout. Task time limits stay the last resort.

A task that loses the database (connection lost, server restarting, a deadlock) waits
for it with backoff (``outage_tolerant``) for up to ``JOB_DATABASE_RETRY_SECONDS`` and
goes on; the claim it held is given back with its attempt, so an outage never uses up
a job's attempt cap. Only when the database stays away longer does the task give up,
and the sweep takes the job up once the database is back.

This module imports no app: the apps register their kinds (``register``) from their
``AppConfig.ready``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, connections, models
from django.db.models import Q
from django.utils import formats, timezone

logger = logging.getLogger(__name__)

T = TypeVar("T")


# --------------------------------------------------------------------------- time


# Long before any heartbeat: while nothing may count as stale.
_NOTHING_IS_STALE = datetime(2000, 1, 1, tzinfo=UTC)


def stale_before(now: datetime | None = None) -> datetime:
    """A heartbeat older than this belongs to a worker that is gone.

    Except just after the database server restarted under this process: while it was
    down nobody could beat, so for ``JOB_STALE_SECONDS`` after the restart no heartbeat
    counts as stale. The workers that were waiting for the database
    (``outage_tolerant``) take their jobs up again and beat; only those that do not are
    taken over, and a restart does not cost a job an attempt."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.JOB_STALE_SECONDS)
    restarted = database_restarted_at()
    if restarted is not None and restarted > cutoff:
        return _NOTHING_IS_STALE
    return cutoff


# The start times of the database server this process has seen (PostgreSQL), in order.
_server_starts: list[datetime] = []


def database_restarted_at() -> datetime | None:
    """When the database server restarted while this process was using it, if it did:
    the server's start time, read once per connection (a restarted server means a new
    connection), differs from the one seen before. ``None`` on SQLite, and for a process
    that has seen one server only."""
    if connection.vendor != "postgresql":
        return None
    connection.ensure_connection()
    raw = connection.connection
    cached = getattr(connection, "_custodia_server_start", None)
    if cached is None or cached[0] is not raw:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_postmaster_start_time()")
            (started,) = cursor.fetchone()
        connection._custodia_server_start = (raw, started)
        if started not in _server_starts:
            _server_starts.append(started)
    return _server_starts[-1] if len(_server_starts) > 1 else None


def no_live_worker(now: datetime | None = None) -> Q:
    """Rows whose heartbeat is missing or stale: nobody is working on them."""
    return Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale_before(now))


def claimable(now: datetime | None = None) -> Q:
    """Rows a worker may claim: held by nobody, or by a worker that stopped beating."""
    return Q(worker="") | no_live_worker(now)


def waiting_since(heartbeat_at: datetime | None, *, now: datetime | None = None, not_before=None):
    """For the progress pages: since when a job that should be running has had no live
    worker (its last heartbeat, or when it became due), or ``None`` while one works on it."""
    now = now or timezone.now()
    if heartbeat_at is not None and heartbeat_at >= stale_before(now):
        return None
    moments = [moment for moment in (heartbeat_at, not_before) if moment is not None]
    return max(moments) if moments else now


def since_label(moment: datetime, now: datetime | None = None) -> str:
    """ "12:04" today, "2026-11-23 12:04" before: in the viewer's time zone (the active
    one) for "waiting for a worker since ..." on the progress pages."""
    local = timezone.localtime(moment)
    today = timezone.localdate(now or timezone.now())
    return formats.date_format(local, "H:i" if local.date() == today else "Y-m-d H:i")


def worker_token() -> str:
    """A claim token naming this host and process (the console shows it), unique per
    claim so that a later task of the same process never matches an older claim."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


# --------------------------------------------------------------------------- heartbeats


class Heartbeat:
    """Calls ``beat(now)`` every ``JOB_HEARTBEAT_SECONDS`` from a daemon thread (with its
    own database connection) until the block ends, so a long statement, a long file
    check or a long HTTP call never makes a live worker look dead. ``beat`` updates the
    rows the worker holds (conditioned on its claim) and returns how many it updated;
    ``lost`` is set when a beat found none (another worker took over: the claims refuse
    this worker's final writes anyway).

    Inside a transaction no thread is started: another connection cannot see the
    caller's uncommitted rows and may have to wait for its locks (and in tests every
    test runs inside one). Beats failing (the database is away) are logged and retried
    at the next interval; the main thread deals with the outage."""

    def __init__(self, beat: Callable[[datetime], int | None], interval: float | None = None):
        self.beat = beat
        self.interval = settings.JOB_HEARTBEAT_SECONDS if interval is None else interval
        self.lost = False
        self.beats = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if self.interval > 0 and not connection.in_atomic_block:
            self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._thread is not None:
            # A beat waiting on a lock finishes on its own: never hold the task up for it.
            self._thread.join(timeout=2)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    updated = self.beat(timezone.now())
                except Exception as exc:  # the database is away, or a lock timed out
                    logger.info("heartbeat missed: %s: %s", type(exc).__name__, exc)
                    _close_quietly()
                    continue
                self.beats += 1
                if updated == 0:
                    self.lost = True
        finally:
            connections.close_all()  # this thread's connections only


def heartbeat(beat: Callable[[datetime], int | None], interval: float | None = None) -> Heartbeat:
    return Heartbeat(beat, interval)


def beat_rows(queryset: models.QuerySet) -> Callable[[datetime], int]:
    """The usual ``beat``: set ``heartbeat_at`` on the rows of ``queryset`` (the rows
    this worker holds, filtered on its claim)."""
    return lambda now: queryset.update(heartbeat_at=now)


# --------------------------------------------------------------------------- database outages


# SQLSTATEs that say "not now" rather than "never": connection exceptions (08xxx),
# shutdown, crash and start-up of the server (57P01-57P05), serialization failures and
# deadlocks, too many connections, a lock not available.
_TRANSIENT_SQLSTATES = {"57P01", "57P02", "57P03", "57P04", "57P05", "40001", "40P01", "53300", "55P03"}


def is_database_outage(exc: BaseException) -> bool:
    """True for errors that say the database went away or refused us for a moment --
    connection lost, server shut down or restarting, a deadlock, a locked SQLite file --
    as opposed to a statement that can never succeed."""
    if isinstance(exc, InterfaceError):
        return True  # the connection is closed or broken
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__ or exc.__context__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith("08") or sqlstate in _TRANSIENT_SQLSTATES
    if type(cause).__module__.startswith("psycopg"):
        return True  # no SQLSTATE: the server closed the connection, or cannot be reached
    message = str(exc).lower()
    return "database is locked" in message or "database table is locked" in message


def _close_quietly() -> None:
    for conn in connections.all(initialized_only=True):
        with contextlib.suppress(DatabaseError):  # broken anyway; Django forgets it
            conn.close()


def wait_for_database(deadline: float) -> bool:
    """After an outage: drop this thread's broken connections and try the database
    again (``SELECT 1``), backing off from 0.2 s to 2 s, until it answers (True) or the
    monotonic ``deadline`` passes (False). Never inside a transaction."""
    if connection.in_atomic_block:
        return False
    delay = 0.2
    while True:
        _close_quietly()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True
        except DatabaseError:
            pass
        if time.monotonic() + delay > deadline:
            _close_quietly()
            return False
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def outage_tolerant(
    work: Callable[[], T],
    *,
    recover: Callable[[], Any] | None = None,
    what: str = "job",
    retry_seconds: float | None = None,
) -> T:
    """Run ``work``; when it fails because the database is away, wait for the database
    (``wait_for_database``, at most ``JOB_DATABASE_RETRY_SECONDS`` per outage), call
    ``recover`` (give back the claim the failed attempt held, with its attempt: an
    outage never counts against the job) and run ``work`` again. Any other error, or an
    outage longer than that, is raised as it was: the job's row is then still claimed
    by a worker that stopped beating, and the sweep takes it up once the database is
    back."""
    retry_seconds = settings.JOB_DATABASE_RETRY_SECONDS if retry_seconds is None else retry_seconds
    recovering = False
    while True:
        try:
            if recovering and recover is not None:
                recover()
            recovering = False
            return work()
        except Exception as exc:
            if not is_database_outage(exc) or connection.in_atomic_block:
                raise
            logger.warning("%s: the database is unavailable (%s: %s); waiting for it", what, type(exc).__name__, exc)
            if not wait_for_database(time.monotonic() + retry_seconds):
                raise
            logger.warning("%s: the database is back; going on", what)
            recovering = True


# --------------------------------------------------------------------------- fault-injection points


_checkpoint_hooks: list[Callable[[str], None]] = []


def checkpoint(name: str) -> None:
    """A named moment in a job's work ("anonymization.chunk", "roster_import.write", ...)
    where the fault-injection tests hold a worker to kill it or to stop the database
    under it (tests/integration/test_recovery.py). Nothing is registered in production:
    this is one empty loop."""
    for hook in _checkpoint_hooks:
        hook(name)


def add_checkpoint_hook(hook: Callable[[str], None]) -> None:
    _checkpoint_hooks.append(hook)


# --------------------------------------------------------------------------- the registry and the sweep


@dataclass(frozen=True)
class RecoverableKind:
    """A kind of background job the sweep watches.

    ``needs_worker(now)``: the rows that should be running now and have no live worker
    (one query on an index; the sweep adds the ``queued_at`` spacing). ``enqueue(row)``
    sends the task that takes the row up again (it claims it by compare-and-set, so a
    message too many does nothing). ``label`` names the kind in the console."""

    key: str
    label: Any
    model: type[models.Model]
    needs_worker: Callable[[datetime], models.QuerySet]
    enqueue: Callable[[Any], None]


_kinds: dict[str, RecoverableKind] = {}


def register(kind: RecoverableKind) -> None:
    _kinds[kind.key] = kind


def kinds() -> list[RecoverableKind]:
    return list(_kinds.values())


def stalled(kind: RecoverableKind, now: datetime | None = None, limit: int = 200) -> list:
    """Rows of ``kind`` that should be running and have no live worker, oldest first."""
    now = now or timezone.now()
    return list(kind.needs_worker(now).order_by("pk")[:limit])


def stalled_count(kind: RecoverableKind, now: datetime | None = None) -> int:
    """How many rows of ``kind`` wait for a worker (one COUNT, no rows loaded)."""
    return kind.needs_worker(now or timezone.now()).count()


def sweep(only: Iterable[str] | None = None, limit: int = 100) -> dict[str, int]:
    """Enqueue again every job that should be running and has no live worker; returns
    how many per kind. A row is enqueued at most once per ``JOB_STALE_SECONDS``
    (compare-and-set on ``queued_at``, so two sweeps at once send one message)."""
    now = timezone.now()
    fresh_enough = stale_before(now)
    sent: dict[str, int] = {}
    for kind in kinds():
        if only is not None and kind.key not in only:
            continue
        due = kind.needs_worker(now).filter(Q(queued_at__isnull=True) | Q(queued_at__lt=fresh_enough))
        count = 0
        for row in due.order_by("pk")[:limit]:
            queued = (
                kind.model._base_manager.filter(pk=row.pk)
                .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=fresh_enough))
                .update(queued_at=now)
            )
            if queued:
                kind.enqueue(row)
                count += 1
        if count:
            logger.warning("recovery: enqueued %s %s job(s) that had no live worker", count, kind.key)
        sent[kind.key] = count
    return sent
