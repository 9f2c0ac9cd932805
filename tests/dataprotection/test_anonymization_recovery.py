"""Takeover and outages in the anonymization engine (ANON-2 "resumable after a crash,
idempotent"; ANON-7), deterministically, without sleeps: the steps one worker does
alone (planning, verifying) are claimed and taken over by compare-and-set, two drivers
never both complete a job or apply a chunk, and a database outage costs no attempt.
Killed workers and a real database restart are in tests/integration/test_recovery.py."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from django.db import InterfaceError
from django.utils import timezone

from dataprotection import anonymization
from dataprotection.models import (
    AnonymizationChunk,
    AnonymizationJob,
    AnonymizationStage,
    AuditEvent,
    ChunkStatus,
    JobStatus,
)
from organizations.models import Organization, OrganizationStatus
from tests.anonymization_data import populate, residue
from tests.factories import OrganizationFactory, UserFactory


def connection_lost() -> InterfaceError:
    try:
        raise InterfaceError("connection already closed") from psycopg.InterfaceError("connection already closed")
    except InterfaceError as error:
        return error


def disband_job(organization, *, start: bool = True) -> AnonymizationJob:
    Organization.objects.filter(pk=organization.pk).update(status=OrganizationStatus.FROZEN)
    job = anonymization.create_job("disband", organization_id=organization.pk, requested_by=UserFactory())
    if start:
        assert anonymization.start(job.pk)
    return AnonymizationJob.objects.get(pk=job.pk)


def stale(model, pk) -> None:
    """The holder stopped beating: its heartbeat is a day old."""
    model.objects.filter(pk=pk).update(heartbeat_at=timezone.now() - timedelta(days=1))


def all_chunks_done(job) -> None:
    while (chunk := anonymization._claim(job.pk)) is not None:
        assert anonymization._run_chunk(chunk)


@pytest.mark.django_db
def test_a_verification_taken_over_completes_the_job_once(settings):
    """ANON-7: worker A claims the verification and stops beating; B takes it over
    (an attempt is counted). A, come back late, writes nothing; B completes the job and
    runs the finishers once: one "organization.disbanded", one report."""
    settings.ANONYMIZATION_CHUNK_ROWS = 20
    organization = OrganizationFactory()
    data = populate(organization, members=6)
    job = disband_job(organization)
    all_chunks_done(job)
    assert AnonymizationJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=JobStatus.VERIFYING, worker="worker-a"
    )
    assert anonymization._step_claim(job.pk, JobStatus.VERIFYING, "worker-b") is False  # A is alive
    stale(AnonymizationJob, job.pk)
    assert anonymization._step_claim(job.pk, JobStatus.VERIFYING, "worker-b") is True
    job.refresh_from_db()
    assert (job.worker, job.attempts) == ("worker-b", 1) and "stopped" in job.last_error

    assert anonymization._verify_and_complete(job, "worker-a") is False
    job.refresh_from_db()
    assert job.status == JobStatus.VERIFYING and not AuditEvent.objects.filter(action="organization.disbanded").exists()
    assert anonymization._verify_and_complete(job, "worker-b") is True
    job.refresh_from_db()
    assert (job.status, job.worker) == (JobStatus.COMPLETED, "") and job.report["verified"]
    assert AuditEvent.objects.filter(action="organization.disbanded", organization_id=organization.pk).count() == 1
    assert residue(organization.pk, data.values) == []


@pytest.mark.django_db
def test_a_planner_that_died_is_taken_over_and_the_plan_made_once(settings):
    """ANON-2: a planner claimed the job and died (its plan rolled back with it); the
    next driver takes the planning over once its heartbeat is stale, counts the lost
    attempt and plans once. While the planner is alive nobody else plans."""
    settings.ANONYMIZATION_CHUNK_ROWS = 20
    organization = OrganizationFactory()
    populate(organization, members=6)
    job = disband_job(organization, start=False)
    assert anonymization._step_claim(job.pk, JobStatus.SCHEDULED, "dead-planner")
    assert anonymization.start(job.pk) is False  # alive as far as anyone can tell
    assert anonymization.drive(job.pk, budget_seconds=600) == "waiting"
    stale(AnonymizationJob, job.pk)
    assert anonymization.drive(job.pk, budget_seconds=600) == "finished"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.attempts == 1 and job.report["verified"]
    positions = list(AnonymizationStage.objects.filter(job=job).values_list("position", flat=True))
    assert positions == sorted(set(positions))  # planned once


@pytest.mark.django_db
def test_workers_that_keep_dying_while_verifying_fail_the_job_at_the_cap(settings):
    """ANON-2: a verification that kills its worker every time is not taken over for
    ever: at ``MAX_JOB_ATTEMPTS`` the job fails (never completed)."""
    settings.ANONYMIZATION_CHUNK_ROWS = 50
    organization = OrganizationFactory()
    populate(organization, members=2)
    job = disband_job(organization)
    all_chunks_done(job)
    AnonymizationJob.objects.filter(pk=job.pk).update(status=JobStatus.VERIFYING, worker="w0")
    for attempt in range(1, anonymization.MAX_JOB_ATTEMPTS + 1):
        stale(AnonymizationJob, job.pk)
        taken = anonymization._step_claim(job.pk, JobStatus.VERIFYING, f"w{attempt}")
        assert taken is (attempt < anonymization.MAX_JOB_ATTEMPTS)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == anonymization.MAX_JOB_ATTEMPTS


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_mid_chunk_costs_no_attempt(settings, monkeypatch):
    """ANON-2: the connection is lost in the middle of a chunk: the driver waits for
    the database, gives the chunk back with its attempt and goes on. The job completes
    with every chunk applied once and no attempt counted, on chunks or on the job."""
    settings.ANONYMIZATION_CHUNK_ROWS = 20
    organization = OrganizationFactory()
    data = populate(organization, members=6)
    job = disband_job(organization)
    real = anonymization.apply_range
    failures = []

    def flaky(stage, low, high):
        if not failures:
            failures.append((stage.model_label, low))
            raise connection_lost()
        return real(stage, low, high)

    monkeypatch.setattr(anonymization, "apply_range", flaky)
    assert anonymization.drive(job.pk, budget_seconds=600) == "finished"
    job.refresh_from_db()
    assert failures and job.status == JobStatus.COMPLETED and job.report["verified"]
    assert job.attempts == 0
    assert set(AnonymizationChunk.objects.filter(job=job).values_list("status", "attempts")) == {(ChunkStatus.DONE, 1)}
    for stage in job.stages.all():
        assert stage.processed == stage.total
    assert residue(organization.pk, data.values) == []


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_while_planning_or_verifying_costs_no_attempt(settings, monkeypatch):
    """ANON-2, ANON-7: the same when the connection goes while the plan is written and
    again while the job is verified: the steps are released and done again, and the
    job completes with no failed attempt counted."""
    settings.ANONYMIZATION_CHUNK_ROWS = 50
    organization = OrganizationFactory()
    populate(organization, members=4)
    job = disband_job(organization, start=False)
    real_plan, real_verify = anonymization.plan, anonymization.verify
    lost = []

    def plan(job, specs):
        real_plan(job, specs)
        if "plan" not in lost:
            lost.append("plan")
            raise connection_lost()

    def verify(job):
        if "verify" not in lost:
            lost.append("verify")
            raise connection_lost()
        return real_verify(job)

    monkeypatch.setattr(anonymization, "plan", plan)
    monkeypatch.setattr(anonymization, "verify", verify)
    assert anonymization.drive(job.pk, budget_seconds=600) == "finished"
    job.refresh_from_db()
    assert lost == ["plan", "verify"]
    assert (job.status, job.attempts, job.worker) == (JobStatus.COMPLETED, 0, "")
    assert job.report["verified"]
