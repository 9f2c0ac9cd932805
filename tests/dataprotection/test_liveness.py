"""The liveness of background jobs (ANON-2 "resumable after a crash"; ORG-7, REQ-7,
SVC-3, ACC-1 use the same mechanism): which database errors are an outage, waiting one
out without counting an attempt, the heartbeat thread, the recovery sweep and its
spacing, and the sweep a worker runs when it starts."""

from __future__ import annotations

import sqlite3
import time
from datetime import timedelta

import psycopg
import pytest
from django.db import Error, IntegrityError, InterfaceError, OperationalError, ProgrammingError
from django.utils import timezone
from psycopg import errors

from dataprotection import liveness
from dataprotection.models import AnonymizationJob, JobKind, JobStatus


def wrapped(django_error: type[Error], cause: BaseException) -> Error:
    """A Django database error as the backend raises it (``__cause__`` the driver's)."""
    try:
        raise django_error(str(cause)) from cause
    except Error as error:
        return error


# --------------------------------------------------------------------------- outages


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (wrapped(InterfaceError, psycopg.InterfaceError("connection already closed")), True),
        (wrapped(OperationalError, psycopg.OperationalError("server closed the connection unexpectedly")), True),
        (wrapped(OperationalError, errors.AdminShutdown("terminating connection due to administrator command")), True),
        (wrapped(OperationalError, errors.CannotConnectNow("the database system is starting up")), True),
        (wrapped(OperationalError, errors.ConnectionFailure("connection failure")), True),
        (wrapped(OperationalError, errors.DeadlockDetected("deadlock detected")), True),
        (wrapped(OperationalError, sqlite3.OperationalError("database is locked")), True),
        # Statements that can never succeed are failures, not outages.
        (wrapped(OperationalError, errors.QueryCanceled("canceling statement due to statement timeout")), False),
        (wrapped(OperationalError, sqlite3.OperationalError("no such table: x")), False),
        (wrapped(ProgrammingError, psycopg.ProgrammingError("relation x does not exist")), False),
        (wrapped(IntegrityError, psycopg.IntegrityError("duplicate key")), False),
        (RuntimeError("connection reset"), False),
    ],
)
def test_an_outage_is_told_from_a_failure(error, outage):
    assert liveness.is_database_outage(error) is outage


@pytest.mark.django_db(transaction=True)
def test_an_outage_is_waited_out_and_the_claim_given_back():
    """The work fails because the database went away; once it answers again the claim
    is given back (``recover``) and the work runs again: one result, no error."""
    calls, recovered = [], []

    def work():
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise wrapped(InterfaceError, psycopg.InterfaceError("connection already closed"))
        return AnonymizationJob.objects.count()  # the database answers again

    assert liveness.outage_tolerant(work, recover=lambda: recovered.append(True)) == 0
    assert len(calls) == 2 and recovered == [True]


@pytest.mark.django_db(transaction=True)
def test_failures_and_long_outages_are_raised(monkeypatch):
    """Any other error is the job's own (its task counts the attempt); an outage longer
    than ``JOB_DATABASE_RETRY_SECONDS`` is raised too, and nothing is given back: the
    claim's heartbeat goes stale and the sweep takes the job up later."""
    recovered = []
    with pytest.raises(RuntimeError):
        liveness.outage_tolerant(lambda: (_ for _ in ()).throw(RuntimeError("bug")), recover=recovered.append)
    monkeypatch.setattr(liveness, "wait_for_database", lambda deadline: False)
    outage = wrapped(OperationalError, psycopg.OperationalError("could not connect"))
    with pytest.raises(OperationalError):
        liveness.outage_tolerant(lambda: (_ for _ in ()).throw(outage), recover=recovered.append)
    assert recovered == []


@pytest.mark.django_db
def test_no_waiting_inside_a_transaction():
    """Inside a transaction a broken connection cannot be replaced: the outage goes up
    to the code that opened it."""
    outage = wrapped(InterfaceError, psycopg.InterfaceError("connection already closed"))
    with pytest.raises(InterfaceError):
        liveness.outage_tolerant(lambda: (_ for _ in ()).throw(outage))
    assert liveness.wait_for_database(time.monotonic() + 5) is False


# --------------------------------------------------------------------------- heartbeats


def scheduled_job(**fields) -> AnonymizationJob:
    return AnonymizationJob.objects.create(kind=JobKind.DISBAND, not_before=timezone.now(), **fields)


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_beats_from_its_own_thread_while_the_work_runs():
    """A worker holding a row beats it while the main thread is busy (here: asleep), and
    stops when the block ends; a beat that matches no row (the claim was taken over)
    is reported as lost."""
    long_ago = timezone.now() - timedelta(hours=1)
    job = scheduled_job(worker="me", heartbeat_at=long_ago)
    held = AnonymizationJob.objects.filter(pk=job.pk, worker="me")
    with liveness.heartbeat(liveness.beat_rows(held), interval=0.05) as beating:
        time.sleep(0.4)
    assert beating.beats >= 3 and not beating.lost
    beaten = AnonymizationJob.objects.get(pk=job.pk).heartbeat_at
    assert beaten > long_ago
    time.sleep(0.2)
    assert AnonymizationJob.objects.get(pk=job.pk).heartbeat_at == beaten  # stopped with the block
    AnonymizationJob.objects.filter(pk=job.pk).update(worker="someone else")
    with liveness.heartbeat(liveness.beat_rows(held), interval=0.05) as beating:
        time.sleep(0.2)
    assert beating.lost


@pytest.mark.django_db
def test_no_heartbeat_thread_inside_a_transaction():
    """Another connection cannot see the caller's uncommitted rows (and would wait on
    its locks): inside a transaction no thread is started."""
    job = scheduled_job(worker="me")
    with liveness.heartbeat(liveness.beat_rows(AnonymizationJob.objects.filter(pk=job.pk)), interval=0.01) as beat:
        time.sleep(0.1)
    assert beat._thread is None and beat.beats == 0


@pytest.mark.django_db  # on PostgreSQL: has the server restarted? (``stale_before``)
def test_waiting_since_is_the_last_sign_of_life_once_stale(settings):
    now = timezone.now()
    fresh = now - timedelta(seconds=settings.JOB_STALE_SECONDS - 1)
    stale = now - timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    assert liveness.waiting_since(fresh, now=now) is None
    assert liveness.waiting_since(stale, now=now) == stale
    assert liveness.waiting_since(None, now=now) == now
    due = now - timedelta(seconds=30)
    assert liveness.waiting_since(stale - timedelta(days=3), now=now, not_before=due) == due


def test_since_labels_name_the_day_only_when_it_is_not_today(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    now = timezone.now()
    local = timezone.localtime(now)
    assert liveness.since_label(now, now) == local.strftime("%H:%M")
    assert liveness.since_label(now - timedelta(days=2), now) == (local - timedelta(days=2)).strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- the sweep


@pytest.fixture
def recording_kind():
    """A kind of job registered for the test: due scheduled cascades, enqueued into a
    list instead of the broker."""
    sent = []
    kind = liveness.RecoverableKind(
        key="test_kind",
        label="test jobs",
        model=AnonymizationJob,
        needs_worker=lambda now: AnonymizationJob.objects.filter(status=JobStatus.SCHEDULED).filter(
            liveness.no_live_worker(now)
        ),
        enqueue=lambda row: sent.append(row.pk),
    )
    liveness.register(kind)
    yield sent
    liveness._kinds.pop("test_kind")


@pytest.mark.django_db
def test_the_sweep_enqueues_what_has_no_live_worker_once_per_stale_period(recording_kind, settings):
    """A job without a live worker is enqueued once; sweeping again at once (beat and a
    worker's start-up sweep together) sends nothing more; once its re-queue is older
    than ``JOB_STALE_SECONDS`` and still nobody works on it (the message was lost
    again), it is enqueued again. A job with a live worker is left alone."""
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    lost = scheduled_job(heartbeat_at=stale)
    scheduled_job(heartbeat_at=timezone.now())  # its worker is alive
    assert liveness.sweep(only=["test_kind"]) == {"test_kind": 1}
    assert recording_kind == [lost.pk]
    assert liveness.sweep(only=["test_kind"]) == {"test_kind": 0}
    AnonymizationJob.objects.filter(pk=lost.pk).update(queued_at=stale)
    assert liveness.sweep(only=["test_kind"]) == {"test_kind": 1}
    assert recording_kind == [lost.pk, lost.pk]


@pytest.mark.django_db
def test_every_kind_of_background_job_is_registered():
    """One mechanism for every kind: cascades, roster imports, export archives,
    deletion notices and SMS."""
    assert {kind.key for kind in liveness.kinds()} >= {
        "anonymization",
        "roster_import",
        "export_archive",
        "deletion_notice",
        "sms",
    }


def test_a_starting_worker_sweeps_at_once(monkeypatch):
    """``worker_ready``: a worker that starts (a deploy, a restart after a crash) sends
    the recovery sweep at once rather than waiting for beat."""
    from celery.signals import worker_ready

    from dataprotection import tasks

    sent = []
    monkeypatch.setattr(tasks.recover_jobs, "delay", lambda: sent.append("sweep"))
    worker_ready.send(sender=None)
    assert sent == ["sweep"]


def test_nothing_is_stale_just_after_the_database_restarted(monkeypatch, settings):
    """While the database was down nobody could beat: for ``JOB_STALE_SECONDS`` after
    it restarted no heartbeat counts as stale, so the workers waiting for it take their
    jobs up again (no attempt counted) before anyone takes a job over."""
    now = timezone.now()
    monkeypatch.setattr(liveness, "database_restarted_at", lambda: now - timedelta(seconds=1))
    stale = now - timedelta(hours=1)
    assert liveness.waiting_since(stale, now=now) is None
    assert liveness.stale_before(now) < stale
    restarted = now - timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    monkeypatch.setattr(liveness, "database_restarted_at", lambda: restarted)
    assert liveness.stale_before(now) == now - timedelta(seconds=settings.JOB_STALE_SECONDS)
    assert liveness.waiting_since(stale, now=now) == stale


@pytest.mark.django_db
def test_a_restart_is_a_new_server_start_seen_on_a_new_connection(monkeypatch, django_assert_num_queries):
    """On PostgreSQL the server's start time is read once per connection; a start time
    other than the one seen before is a restart. SQLite has no server to restart."""
    from django.db import connection

    monkeypatch.setattr(liveness, "_server_starts", [])
    assert liveness.database_restarted_at() is None  # the first server this process sees
    with django_assert_num_queries(0):
        assert liveness.database_restarted_at() is None
    if connection.vendor != "postgresql":
        return
    earlier = timezone.now() - timedelta(days=1)
    monkeypatch.setattr(liveness, "_server_starts", [earlier])
    monkeypatch.setattr(connection, "_custodia_server_start", None)  # as after reconnecting
    restarted = liveness.database_restarted_at()
    assert restarted is not None and earlier < restarted <= timezone.now()
