"""Background work of the anonymization engine (ANON-2), and the recovery sweep of
every kind of background job (``dataprotection.liveness``). Tasks take job ids; the job,
stage and chunk rows decide what is left to do, so a message delivered twice (acks_late
+ reject_on_worker_lost, or the sweep) does nothing twice."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dataprotection import anonymization, audit_chain, liveness
from dataprotection.audit import record_event
from dataprotection.models import AnonymizationChunk, AnonymizationJob, ChunkStatus, JobStatus

logger = logging.getLogger(__name__)


def enqueue_drivers(job_id: int, *, on_commit: bool = True) -> None:
    """Start ``ANONYMIZATION_PARALLEL_TASKS`` drivers on one job: chunks of one cascade
    run on as many workers as pick them up (ANON-2)."""
    for _ in range(settings.ANONYMIZATION_PARALLEL_TASKS):
        if on_commit:
            drive_anonymization_job.delay_on_commit(job_id)
        else:
            drive_anonymization_job.delay(job_id)


@shared_task(bind=True, max_retries=None)
def drive_anonymization_job(self, job_id: int) -> str:
    """Work on one cascade for at most ``ANONYMIZATION_TASK_BUDGET_SECONDS`` (far below
    the broker's visibility timeout), then hand over to a fresh message."""
    while True:
        outcome = anonymization.drive(job_id)
        if outcome == "more" and self.request.is_eager:
            continue  # no broker to hand over to (tests): keep going in this call
        break
    if self.request.is_eager:
        return outcome
    if outcome == "more":
        drive_anonymization_job.delay(job_id)
    elif outcome == "waiting":
        row = AnonymizationJob.objects.filter(pk=job_id).values("status", "worker", "not_before").first()
        planning = (
            row is not None
            and row["status"] == JobStatus.SCHEDULED
            and row["worker"]
            and row["not_before"] <= timezone.now()
        )
        if row is not None and (row["status"] == JobStatus.RUNNING or planning):
            # Another worker plans the job or holds the last chunks of a phase: look
            # again shortly, so the chunks run on more than one worker. (A job being
            # verified is another worker's; if that worker dies, the sweep sends a
            # driver.)
            drive_anonymization_job.apply_async((job_id,), countdown=1)
    return outcome


@shared_task
def recover_jobs() -> str:
    """Beat, every ``JOB_SWEEP_SECONDS``, and every worker as it starts: enqueue again
    every background job that should be running and has no live worker -- cascades
    (including those whose grace window ended), roster imports, export archives,
    deletion notices, SMS (``dataprotection.liveness.sweep``)."""

    sent = liveness.sweep()
    return f"enqueued {sum(sent.values())} jobs" + "".join(
        f", {count} {key}" for key, count in sorted(sent.items()) if count
    )


@worker_ready.connect(dispatch_uid="dataprotection.recover_on_worker_start")
def recover_on_worker_start(sender=None, **kwargs) -> None:
    """A worker that starts (a deploy, a restart after a crash) sweeps at once instead
    of waiting for beat: the jobs its predecessor held are taken up as soon as their
    heartbeats are stale."""
    recover_jobs.delay()


@shared_task
def sweep_retention() -> str:
    """Beat, daily (ANON-4, ANON-5): start a retention job that applies the policies
    following ended legal holds and each organization's retention settings."""
    with transaction.atomic():
        job = anonymization.start_retention_sweep()
        if job is None:
            return "a retention sweep is still running"
        enqueue_drivers(job.pk)
    return f"retention job {job.pk} started"


@shared_task
def verify_audit_chain(force: bool = False) -> str:
    """Beat, every minute (SEC-2): seal the audit events written since the last run into
    the hash chain; once a day (or when ``force``d) also verify the whole chain. The
    claim on the chain head (compare-and-set) lets one worker verify at a time; a
    failure is logged as CRITICAL, recorded as an audit event and shown on the admin's
    audit event list (``dataprotection.audit_chain.run_verification``)."""

    if not (force or audit_chain.claim_verification()):
        sealed = audit_chain.seal_audit_chain()
        return f"sealed {sealed} events"
    result = audit_chain.run_verification()
    if result.ok:
        return f"audit chain OK: {result.checked} events"
    return f"audit chain BROKEN: {len(result.problems)} problems"


# --------------------------------------------------------------------------- operations


def retry_job(job_id: int, staff) -> bool:
    """Operations staff take up a failed cascade again once its cause is fixed: the
    chunks not done go back to pending with fresh attempt counts, and the job resumes
    where it stopped (planning again if it never got a plan). Audited."""
    with transaction.atomic():
        job = AnonymizationJob.objects.filter(pk=job_id, status=JobStatus.FAILED).first()
        if job is None:
            return False
        planned = job.stages.exists()
        AnonymizationChunk.objects.filter(job_id=job_id).exclude(status=ChunkStatus.DONE).update(
            status=ChunkStatus.PENDING, claim="", heartbeat_at=None, attempts=0
        )
        retried = AnonymizationJob.objects.filter(pk=job_id, status=JobStatus.FAILED).update(
            status=JobStatus.RUNNING if planned else JobStatus.SCHEDULED,
            attempts=0,
            finished_at=None,
            heartbeat_at=timezone.now(),
            worker="",
        )
        if not retried:
            return False
        record_event(
            "anonymization.job_retried",
            actor=staff,
            organization=job.organization_id,
            metadata={"job": job_id, "last_error": job.last_error[:500]},
        )
        enqueue_drivers(job_id)
    return True
