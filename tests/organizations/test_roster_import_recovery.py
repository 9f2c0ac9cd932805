"""Recovery of roster imports (ORG-7): the check and the write are claimed by
compare-and-set and taken over once their worker stops beating; a worker that lost its
claim writes nothing (so no row is ever imported twice); a database outage costs no
attempt; the recovery sweep sends the step that was lost; and the detail page says
since when a job waits for a worker. Killed workers and real database and broker
restarts are in tests/integration/test_recovery.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from dataprotection.models import AuditEvent
from organizations.models import ImportStatus, Member, RosterImport
from organizations.permissions import org_access
from organizations.services.roster_import import jobs, service
from organizations.tasks import run_roster_import
from tests.dataprotection.test_anonymization_recovery import connection_lost
from tests.organizations.test_roster_import import csv_bytes, detail_url, good_rows

ATTESTATION = "The people on this list agreed to these fields."


def uploaded(cast, rows: int, capture) -> RosterImport:
    """A file uploaded through the service (its check runs eagerly on commit)."""
    with capture(execute=True), translation.override("en"):
        job = service.start_import(
            org_access(cast.owner, cast.organization.pk),
            file_name="roster.csv",
            file_format="csv",
            content=csv_bytes(good_rows(rows)),
            attestation_text=ATTESTATION,
        )
    return RosterImport.objects.get(pk=job.pk)


def importing(cast, job, capture=None) -> RosterImport:
    """The owner decides to import every row; the write's own message is left out."""
    if capture is None:
        RosterImport.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTING, mode="all", attempts=0)
    else:
        with capture(execute=False):
            assert service.decide(org_access(cast.owner, cast.organization.pk), job, "all")
    return RosterImport.objects.get(pk=job.pk)


def stale(job) -> None:
    RosterImport.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(days=1))


def imported(cast) -> int:
    return Member.objects.filter(organization=cast.organization, name__startswith="Person ").count()


@pytest.mark.django_db
def test_a_write_whose_claim_was_taken_over_writes_nothing(cast, django_capture_on_commit_callbacks):
    """ORG-7: worker A claims the write and stops beating; B takes it over. A's write,
    finishing late, rolls back whole (its final compare-and-set fails); B's commits. The
    rows are written once, with one audit event."""
    job = importing(cast, uploaded(cast, 5, django_capture_on_commit_callbacks))
    late = jobs.claim(job.pk, ImportStatus.IMPORTING, "worker-a")
    assert late is not None
    assert jobs.claim(job.pk, ImportStatus.IMPORTING, "worker-b") is None  # A is alive
    stale(job)
    assert jobs.claim(job.pk, ImportStatus.IMPORTING, "worker-b") is not None
    assert service._write(late, "worker-a") == "nothing to do"
    assert imported(cast) == 0
    assert service._write(RosterImport.objects.get(pk=job.pk), "worker-b") == "completed"
    job.refresh_from_db()
    assert (job.status, job.imported_rows, job.worker, job.attempts) == (ImportStatus.COMPLETED, 5, "", 2)
    assert imported(cast) == 5
    assert AuditEvent.objects.filter(action="roster.imported").count() == 1


@pytest.mark.django_db
def test_the_sweep_resumes_a_write_whose_worker_died(cast, django_capture_on_commit_callbacks):
    """ORG-7: the write's message was lost (or its worker killed): once the heartbeat
    is stale the recovery sweep sends it again and the file is imported, once."""
    from dataprotection.tasks import recover_jobs

    job = importing(cast, uploaded(cast, 4, django_capture_on_commit_callbacks), django_capture_on_commit_callbacks)
    assert recover_jobs() == "enqueued 0 jobs"  # its own message is on its way
    stale(job)
    assert recover_jobs() == "enqueued 1 jobs, 1 roster_import"
    job.refresh_from_db()
    assert job.status == ImportStatus.COMPLETED and imported(cast) == 4
    assert run_roster_import.delay(job.pk).get() == "nothing to do"
    assert imported(cast) == 4


@pytest.mark.django_db
def test_the_sweep_sends_the_parts_of_a_large_check_that_were_lost(
    cast, django_capture_on_commit_callbacks, monkeypatch
):
    """ORG-7: a large file is checked in parts; the parts' messages were lost (or their
    workers died): the sweep sends every part not recorded yet, and the part recorded
    last the merge; the file ends checked exactly as a run without a fault."""
    from dataprotection.tasks import recover_jobs
    from organizations import tasks

    monkeypatch.setattr(service, "CHECK_PART_ROWS", 3)
    monkeypatch.setattr(tasks.check_roster_import_part, "delay_on_commit", lambda *args, **kwargs: None)
    job = uploaded(cast, 8, django_capture_on_commit_callbacks)
    assert (job.status, job.parts_total, job.parts_done) == (ImportStatus.VALIDATING, 3, 0)
    monkeypatch.undo()
    stale(job)
    with django_capture_on_commit_callbacks(execute=True):  # the last part queues the merge on commit
        assert recover_jobs() == "enqueued 1 jobs, 1 roster_import"
    job.refresh_from_db()
    assert (job.status, job.total_rows, job.valid_rows, job.error_rows) == (ImportStatus.VALIDATED, 8, 8, 0)
    assert job.parts == {} and job.worker == ""


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_during_the_write_costs_no_attempt(cast, monkeypatch, settings, tmp_path):
    """ORG-7: the connection goes in the middle of the write (one transaction: nothing
    of it is kept); the task waits for the database, gives its claim back with the
    attempt, and writes again: imported once, one attempt counted."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path  # transaction=True: the tasks run for real on commit
    with translation.override("en"):
        job = service.start_import(
            org_access(cast.owner, cast.organization.pk),
            file_name="roster.csv",
            file_format="csv",
            content=csv_bytes(good_rows(3)),
            attestation_text=ATTESTATION,
        )
    job.refresh_from_db()
    assert job.status == ImportStatus.VALIDATED
    real = service._apply_plan
    lost = []

    def flaky(job, plan):
        counts = real(job, plan)
        if not lost:
            lost.append(True)
            raise connection_lost()  # after the rows were written: they roll back
        return counts

    monkeypatch.setattr(service, "_apply_plan", flaky)
    service.decide(org_access(cast.owner, cast.organization.pk), job, "all")  # the write runs on commit
    job.refresh_from_db()
    assert lost and (job.status, job.attempts, job.imported_rows) == (ImportStatus.COMPLETED, 1, 3)
    assert imported(cast) == 3


def test_the_page_says_since_when_an_import_waits_for_a_worker(client, cast, db):
    """ORG-7: while a job is checked or written and no worker beats it, the page says
    so (in the viewer's language and time zone) instead of showing a frozen bar."""
    client.force_login(cast.owner)
    long_ago = timezone.now() - timedelta(minutes=5)
    job = RosterImport.objects.create(
        organization=cast.organization, uploaded_by=cast.owner, file_name="x.csv", file_format="csv",
        status=ImportStatus.IMPORTING, heartbeat_at=timezone.now(),
    )  # fmt: skip
    status_url = reverse("organizations:roster_import_status", args=[cast.organization.pk, job.pk])
    page = client.get(detail_url(cast, job), headers={"accept-language": "en"}).content.decode()
    assert 'data-testid="waiting-for-worker"' not in page  # a worker is on it
    assert client.get(status_url).json()["waiting"] is False
    RosterImport.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    # The polling page learns that the job now waits, and reloads to say since when.
    assert client.get(status_url).json()["waiting"] is True
    since = timezone.localtime(long_ago).strftime("%H:%M")
    page = client.get(detail_url(cast, job), headers={"accept-language": "en"}).content.decode()
    assert f"Waiting for a worker since {since}." in page
    page = client.get(detail_url(cast, job), headers={"accept-language": "zh-hans"}).content.decode()
    assert f"自 {since} 起正在等待后台进程处理" in page
    RosterImport.objects.filter(pk=job.pk).update(status=ImportStatus.COMPLETED)
    assert 'data-testid="waiting-for-worker"' not in client.get(detail_url(cast, job)).content.decode()
