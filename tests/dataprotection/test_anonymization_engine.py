"""The anonymization engine on a populated organization (ORG-11, ANON-1, ANON-2, ANON-7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import User
from dataprotection import anonymization
from dataprotection.audit import record_event
from dataprotection.models import (
    AnonymizationChunk,
    AnonymizationJob,
    AnonymizationStage,
    AuditEvent,
    ChunkStatus,
    JobStatus,
)
from organizations.models import AttendancePunch, Member, Organization, OrganizationStatus
from tests.anonymization_data import org_rows, populate, residue, snapshot
from tests.factories import OrganizationFactory, UserFactory


def run_disband(organization: Organization, owner) -> int:
    job = anonymization.create_job("disband", organization_id=organization.pk, requested_by=owner)
    Organization.objects.filter(pk=organization.pk).update(status=OrganizationStatus.FROZEN)
    assert anonymization.drive(job.pk, budget_seconds=600) == "finished"
    return job.pk


@pytest.mark.django_db
def test_disband_leaves_no_personal_value_of_the_organization(settings):
    """ORG-11, ANON-2, ANON-7: every organization table is anonymized or emptied, the
    verification report says so, and a scan finds none of the values written."""
    settings.ANONYMIZATION_CHUNK_ROWS = 7
    owner, joined = UserFactory(), UserFactory()
    organization = OrganizationFactory()
    data = populate(organization, members=12, users=[joined])
    before = {label for label, _ in residue(organization.pk, data.values)}
    assert len(before) >= 13, before  # the scan sees the values in every table
    job_id = run_disband(organization, owner)
    job = anonymization.AnonymizationJob.objects.get(pk=job_id)
    assert job.status == JobStatus.COMPLETED, job.report
    assert job.report["verified"] and job.report["rows_left"] == 0
    assert residue(organization.pk, data.values) == []
    assert Organization.objects.get(pk=organization.pk).status == OrganizationStatus.DISBANDED
    assert Member.objects.filter(organization=organization).count() == 12  # anonymous placeholders
    assert not Member.objects.filter(organization=organization, user__isnull=False).exists()
    assert AnonymizationChunk.objects.filter(job=job).exclude(status=ChunkStatus.DONE).count() == 0


# --------------------------------------------------------------------------- chunk planning


@pytest.mark.django_db
@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keep=st.lists(st.booleans(), max_size=60), size=st.integers(min_value=1, max_value=9))
def test_chunks_cover_every_row_once_and_never_exceed_the_size(keep, size):
    """ANON-2: keyset chunks from one ROW_NUMBER pass cover the organization's rows
    exactly, each range holding at most ``size`` of them, whatever the interleaving."""
    watermark = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    in_scope = [record_event("test.row", organization=1 if flag else 2).pk for flag in keep]
    in_scope = [pk for pk, flag in zip(in_scope, keep, strict=True) if flag]
    queryset = anonymization.base_queryset(AuditEvent).filter(organization_id=1, pk__gt=watermark)
    bounds = anonymization.chunk_bounds(queryset, size)
    covered = []
    for low, high, rows in bounds:
        inside = [pk for pk in in_scope if low <= pk <= high]
        assert len(inside) == rows <= size
        covered += inside
    assert covered == in_scope
    assert len(bounds) == -(-len(in_scope) // size)


# --------------------------------------------------------------------------- resuming and idempotence


def started_job(organization, owner):
    job = anonymization.create_job("disband", organization_id=organization.pk, requested_by=owner)
    Organization.objects.filter(pk=organization.pk).update(status=OrganizationStatus.FROZEN)
    assert anonymization.start(job.pk)
    return AnonymizationJob.objects.get(pk=job.pk)


def break_chunks_of(monkeypatch, label: str, error: str) -> None:
    """Every chunk of one table raises ``error`` (until ``monkeypatch.undo()``)."""
    real = anonymization.apply_range

    def broken(stage, low, high):
        if stage.model_label == label:
            raise RuntimeError(error)
        return real(stage, low, high)

    monkeypatch.setattr(anonymization, "apply_range", broken)


@pytest.mark.django_db
def test_a_chunk_whose_worker_died_is_taken_again_once_its_heartbeat_is_stale(settings):
    """ANON-2: a worker killed mid-chunk loses its transaction and stops beating; once
    the chunk's heartbeat is older than ``JOB_STALE_SECONDS`` another worker takes the
    chunk, and the job completes with every chunk done once."""
    settings.ANONYMIZATION_CHUNK_ROWS = 5
    organization = OrganizationFactory()
    populate(organization, members=8)
    job = started_job(organization, UserFactory())
    dead = anonymization._claim(job.pk)  # claimed, then the worker died before committing
    assert anonymization.drive(job.pk, budget_seconds=600) == "waiting"  # its heartbeat is fresh
    stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
    AnonymizationChunk.objects.filter(pk=dead.pk).update(heartbeat_at=stale)
    assert anonymization.drive(job.pk, budget_seconds=600) == "finished"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.report["verified"]
    assert AnonymizationChunk.objects.get(pk=dead.pk).attempts == 2
    assert set(AnonymizationChunk.objects.filter(job=job).exclude(pk=dead.pk).values_list("attempts", flat=True)) == {1}
    for stage in job.stages.all():
        assert stage.processed == stage.total


@pytest.mark.django_db
def test_a_worker_that_lost_its_claim_cannot_mark_the_chunk_done(settings):
    """ANON-2: compare-and-set on the claim token: the late worker's transaction rolls
    back, so no range is counted (or written) twice."""
    settings.ANONYMIZATION_CHUNK_ROWS = 5
    organization = OrganizationFactory()
    populate(organization, members=8)
    job = started_job(organization, UserFactory())
    late = anonymization._claim(job.pk)
    AnonymizationChunk.objects.filter(pk=late.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    taker = anonymization._claim(job.pk)
    assert taker.pk == late.pk and taker.claim != late.claim
    assert anonymization._run_chunk(late) is False
    assert AnonymizationStage.objects.get(pk=late.stage_id).processed == 0
    assert anonymization._run_chunk(taker) is True
    assert AnonymizationStage.objects.get(pk=late.stage_id).processed == taker.planned


@pytest.mark.django_db
def test_a_chunk_that_keeps_failing_fails_the_job_instead_of_looping(settings, monkeypatch):
    """ANON-2: the attempt cap kept in the database stops endless redelivery; the job is
    failed with the error, never marked done."""
    settings.ANONYMIZATION_CHUNK_ROWS = 5
    organization = OrganizationFactory()
    populate(organization, members=4)
    job = started_job(organization, UserFactory())
    break_chunks_of(monkeypatch, "organizations.WorkLog", "disk on fire")
    assert anonymization.drive(job.pk, budget_seconds=600) == "finished"
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "disk on fire" in job.last_error and "WorkLog" in job.last_error
    assert Organization.objects.get(pk=organization.pk).status == OrganizationStatus.FROZEN
    failing = AnonymizationChunk.objects.filter(job=job, stage__model_label="organizations.WorkLog").first()
    assert failing.attempts == anonymization.MAX_CHUNK_ATTEMPTS and failing.status == ChunkStatus.PENDING


@pytest.mark.django_db
def test_deletes_wait_for_the_earlier_phase(settings):
    """ANON-2: no chunk of a later phase is handed out while an earlier phase is open,
    even when its last chunk is leased to another worker."""
    settings.ANONYMIZATION_CHUNK_ROWS = 1000
    organization = OrganizationFactory()
    populate(organization, members=3)
    job = started_job(organization, UserFactory())
    phase0 = list(AnonymizationChunk.objects.filter(job=job, phase=0))
    for chunk in phase0[:-1]:
        AnonymizationChunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.DONE)
    leased = anonymization._claim(job.pk)
    assert leased.pk == phase0[-1].pk
    assert anonymization._claim(job.pk) is None  # phase 1 waits
    anonymization._run_chunk(leased)
    assert anonymization._claim(job.pk).phase >= 1


@pytest.mark.django_db
def test_running_a_job_twice_changes_nothing(settings):
    """ANON-2: idempotent: driving a finished job, or applying every range again, leaves
    the rows and the counters exactly as they were."""
    settings.ANONYMIZATION_CHUNK_ROWS = 6
    organization = OrganizationFactory()
    populate(organization, members=9)
    job_id = run_disband(organization, UserFactory())
    after = snapshot(organization.pk)
    counters = list(AnonymizationStage.objects.filter(job_id=job_id).values_list("processed", "changed"))
    assert anonymization.drive(job_id, budget_seconds=600) == "finished"
    for chunk in AnonymizationChunk.objects.filter(job_id=job_id).select_related("stage"):
        if chunk.stage.action == "anonymize":
            anonymization.apply_range(chunk.stage, chunk.low, chunk.high)
    assert snapshot(organization.pk) == after
    assert list(AnonymizationStage.objects.filter(job_id=job_id).values_list("processed", "changed")) == counters


@pytest.mark.django_db
def test_rows_added_after_planning_are_swept_up_before_completion(settings):
    """ANON-7: verification finds a row written after the plan was made (a late punch);
    the engine plans one more pass over it instead of reporting done."""
    settings.ANONYMIZATION_CHUNK_ROWS = 50
    organization = OrganizationFactory()
    data = populate(organization, members=3)
    job = started_job(organization, UserFactory())
    late = AttendancePunch.objects.create(
        organization=organization,
        member=data.members[0],
        punched_at=timezone.now(),
        kind="out",
        address="Late punch address 42",
    )
    assert anonymization.drive(job.pk, budget_seconds=600) == "finished"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.attempts == 1
    late.refresh_from_db()
    assert late.address == ""


@pytest.mark.django_db
def test_other_organizations_and_personal_accounts_are_untouched(settings):
    """ORG-11: a member's personal account and their membership in another organization
    keep every value; only the disbanded organization's rows change."""
    settings.ANONYMIZATION_CHUNK_ROWS = 4
    person = UserFactory(name="Both orgs")
    account_before = list(User.objects.order_by("pk").values())
    target, other = OrganizationFactory(), OrganizationFactory()
    populate(target, members=5, users=[person])
    populate(other, members=5, users=[person])
    other_before = snapshot(other.pk)
    run_disband(target, UserFactory())
    assert snapshot(other.pk) == other_before
    assert Member.objects.get(organization=other, user=person).status == "active"
    assert [row for row in User.objects.order_by("pk").values() if row["id"] in {r["id"] for r in account_before}] == (
        account_before
    )


@pytest.mark.django_db
def test_stored_files_of_the_organization_are_erased(settings):
    """ANON-1: documents and drive files stored for the organization are gone from the
    private storage, not only unlinked."""
    organization = OrganizationFactory()
    data = populate(organization, members=3)
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    assert all((root / name).exists() for name in data.files)
    job_id = run_disband(organization, UserFactory())
    assert not any((root / name).exists() for name in data.files)
    erased = sum(stage["files_erased"] for stage in AnonymizationJob.objects.get(pk=job_id).report["stages"])
    assert erased >= len(data.files)


# --------------------------------------------------------------------------- property

# Any text a form would accept: PostgreSQL text cannot hold NUL, and no column can hold
# lone surrogates.
TEXT = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")


@pytest.mark.django_db
@hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(st.text(TEXT, min_size=1, max_size=30).filter(lambda s: s.strip()), min_size=1, max_size=4),
    address=st.text(TEXT, min_size=1, max_size=60),
    email_local=st.from_regex(r"[a-z][a-z0-9]{2,12}", fullmatch=True),
)
def test_no_personal_value_survives_whatever_it_is(names, address, email_local):
    """ANON-1 (property): whatever the roster holds, nothing of it is left after the
    cascade, in plain or encrypted columns."""
    organization = OrganizationFactory()
    values = set()
    for i, name in enumerate(names):
        member = Member.objects.create(
            organization=organization,
            name=name[:100],
            employee_number=f"P{i}{email_local}"[:40],
            home_address=address,
            personal_email=f"{email_local}{i}@example.com",
            mobile=f"+8613912{i:06d}",
        )
        AttendancePunch.objects.create(
            organization=organization, member=member, punched_at=timezone.now(), kind="in", address=address[:200]
        )
        values |= {name[:100], address, address[:200], f"{email_local}{i}@example.com", f"+8613912{i:06d}"}
    run_disband(organization, None)
    left = {
        str(value)
        for _label, row in org_rows(organization.pk)
        for value in row.values()
        if value not in (None, "") and str(value) != anonymization_constant()
    }
    assert not (left & values)


def anonymization_constant() -> str:
    from dataprotection.personal_data import ANONYMIZED

    return ANONYMIZED


@pytest.mark.django_db
def test_statements_per_chunk_stay_constant(settings):
    """ANON-2 (perf-anchors gate): set-based chunks: at most six statements per chunk
    (claim read, claim compare-and-set, file read, UPDATE/DELETE, chunk done, stage
    counters), whatever the chunk size; no statement per row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.ANONYMIZATION_CHUNK_ROWS = 4
    organization = OrganizationFactory()
    populate(organization, members=10, records_per_member=4)
    job = started_job(organization, UserFactory())
    chunks = AnonymizationChunk.objects.filter(job=job).count()
    stages = job.stages.count()
    with CaptureQueriesContext(connection) as queries:
        assert anonymization.drive(job.pk, budget_seconds=600) == "finished"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    data_statements = [q["sql"] for q in queries.captured_queries if "dataprotection_anonymization" not in q["sql"]]
    assert chunks > 40
    # Per chunk: the UPDATE or DELETE, a file read where the table references files, and
    # (Django's collector) a read plus one delete per related table for administrators.
    assert len(queries.captured_queries) <= 6 * chunks + 6 * stages + 30, len(queries.captured_queries)
    assert len(data_statements) <= 3 * chunks + 3 * stages + 10


# --------------------------------------------------------------------------- retention


def test_months_before_counts_calendar_months():
    """ANON-4: "six months" is six calendar months, clipped at month ends."""
    moment = datetime(2026, 8, 31, 12, 0, tzinfo=UTC)
    assert anonymization.months_before(moment, 6) == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    assert anonymization.months_before(moment, 36) == datetime(2023, 8, 31, 12, 0, tzinfo=UTC)
    assert anonymization.months_before(moment, 8) == datetime(2025, 12, 31, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_the_retention_sweep_releases_ended_holds_only(django_capture_on_commit_callbacks):
    """ANON-4: service logs (the IP address of audit events) are kept six months, then
    the sweep clears them; younger ones and every other column stay as they are."""
    from dataprotection.tasks import sweep_retention

    old = record_event("test.old", ip="10.0.0.1", metadata={"kept": "yes"})
    young = record_event("test.young", ip="10.0.0.2")
    anonymization._update(
        anonymization.base_queryset(AuditEvent).filter(pk=old.pk),
        {"occurred_at": anonymization.months_before(timezone.now(), 6) - timedelta(days=1)},
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_retention().startswith("retention job")
    job = AnonymizationJob.objects.get(kind="retention")
    assert job.status == JobStatus.COMPLETED and job.report["verified"], job.report
    old, young = AuditEvent.objects.get(pk=old.pk), AuditEvent.objects.get(pk=young.pk)
    assert old.ip_address is None and old.metadata == {"kept": "yes"} and old.action == "test.old"
    assert young.ip_address == "10.0.0.2"
    stage = job.stages.get()
    assert stage.only == ["ip_address"] and stage.changed == 1


# --------------------------------------------------------------------------- failing steps


@pytest.mark.django_db
def test_a_plan_that_keeps_failing_fails_the_job_after_the_attempt_cap(monkeypatch):
    """ANON-2: planning rolls back whole (the job stays scheduled, nothing is written),
    is retried by the resume sweep, and fails the job for good after the cap instead of
    looping; the organization is never marked disbanded."""
    organization = OrganizationFactory()
    populate(organization, members=2)
    job = anonymization.create_job("disband", organization_id=organization.pk)
    Organization.objects.filter(pk=organization.pk).update(status=OrganizationStatus.FROZEN)

    def broken(job, specs):
        AnonymizationStage.objects.create(job=job, position=0, model_label="x.Y", action="delete")
        raise RuntimeError("catalog unreachable")

    monkeypatch.setattr(anonymization, "plan", broken)
    for attempt in range(1, anonymization.MAX_JOB_ATTEMPTS + 1):
        outcome = anonymization.drive(job.pk, budget_seconds=600)
        job.refresh_from_db()
        assert job.attempts == attempt and "catalog unreachable" in job.last_error
        assert not AnonymizationStage.objects.filter(job=job).exists()  # rolled back
        expected = JobStatus.FAILED if attempt == anonymization.MAX_JOB_ATTEMPTS else JobStatus.SCHEDULED
        assert job.status == expected, (attempt, job.status, outcome)
    assert Organization.objects.get(pk=organization.pk).status == OrganizationStatus.FROZEN


@pytest.mark.django_db
def test_a_verification_that_crashes_is_retried_then_fails(monkeypatch, settings):
    """ANON-7: a crash while verifying leaves the job verifying (never completed); the
    recovery sweep sends a driver that verifies again once the heartbeat is stale, up
    to the attempt cap."""
    settings.ANONYMIZATION_CHUNK_ROWS = 50
    organization = OrganizationFactory()
    populate(organization, members=2)
    job = started_job(organization, UserFactory())

    def broken(job):
        raise RuntimeError("connection reset")

    monkeypatch.setattr(anonymization, "verify", broken)
    assert anonymization.drive(job.pk, budget_seconds=600) == "waiting"
    job.refresh_from_db()
    assert job.status == JobStatus.VERIFYING and job.attempts == 1 and "connection reset" in job.last_error
    assert job.worker == ""  # the verification was given up: the next driver takes it at once
    assert list(anonymization.needs_worker().values_list("pk", flat=True)) == []  # not stale yet
    long_ago = timezone.now() - timedelta(days=1)
    AnonymizationJob.objects.filter(pk=job.pk).update(heartbeat_at=long_ago, not_before=long_ago)
    assert list(anonymization.needs_worker().values_list("pk", flat=True)) == [job.pk]
    monkeypatch.undo()
    assert anonymization.drive(job.pk, budget_seconds=600) == "finished"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.report["verified"]


@pytest.mark.django_db
def test_staff_retry_a_failed_job_from_the_admin(client, monkeypatch, settings, django_capture_on_commit_callbacks):
    """ANON-2: a failed cascade is not a dead end: operations staff retry it in the
    admin once the cause is fixed; it resumes where it stopped and completes; the retry
    is audited. A job that has not failed is left alone."""
    settings.ANONYMIZATION_CHUNK_ROWS = 5
    organization = OrganizationFactory()
    populate(organization, members=4)
    job = started_job(organization, UserFactory())
    break_chunks_of(monkeypatch, "organizations.WorkLog", "disk full")
    anonymization.drive(job.pk, budget_seconds=600)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    done_before = AnonymizationChunk.objects.filter(job=job, status=ChunkStatus.DONE).count()
    monkeypatch.undo()

    staff = UserFactory(is_staff=True, is_superuser=True)
    other = anonymization.create_job("retention")
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:dataprotection_anonymizationjob_changelist"),
            {"action": "retry_failed_jobs", "_selected_action": [job.pk, other.pk]},
            follow=True,
        )
    content = response.content.decode()
    assert "1 job was taken up again." in content and "1 job was left alone" in content
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.report["verified"], job.last_error
    assert Organization.objects.get(pk=organization.pk).status == OrganizationStatus.DISBANDED
    assert AnonymizationChunk.objects.filter(job=job, status=ChunkStatus.DONE, attempts=1).count() >= done_before
    assert AuditEvent.objects.filter(action="anonymization.job_retried", actor=staff).exists()
    other.refresh_from_db()
    assert other.status == JobStatus.SCHEDULED
