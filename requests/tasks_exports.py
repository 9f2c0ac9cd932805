"""Export archives (REQ-7): building, resuming and expiring them.

``build_export`` claims the ``ExportArchive`` row by compare-and-set (queued, or
building with a lease that ran out -> building with a fresh lease; the attempt is
counted in the row, and the attempt number is the fencing token: a worker that lost its
claim cannot mark the archive ready). After ``MAX_ATTEMPTS`` the archive fails. Progress
(``sections_done``) is written after each section and renews the lease, so a live build
is never taken over. The file is stored encrypted; an operations-routed request
completes when its archive is ready.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from dataprotection import files
from dataprotection.audit import record_event
from dataprotection.deferred_text import deferred
from requests.models import OPEN_STATUSES, DataSubjectRequest, ExportArchive, ExportStatus

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
LEASE_SECONDS = 300


def _lease():
    return timezone.now() + timedelta(seconds=LEASE_SECONDS)


def _claimable() -> Q:
    return Q(status=ExportStatus.QUEUED) | Q(status=ExportStatus.BUILDING, claimed_until__lt=timezone.now())


def claim_archive(archive_id: int) -> int | None:
    """Compare-and-set: take the archive for one build attempt. Returns the attempt
    number (the fencing token), or None when there is nothing to build (another worker
    holds it, it is done, or its attempts are used up -- then it is marked failed)."""
    claimed = ExportArchive.objects.filter(_claimable(), pk=archive_id, attempts__lt=MAX_ATTEMPTS).update(
        status=ExportStatus.BUILDING,
        claimed_until=_lease(),
        attempts=F("attempts") + 1,
        sections_done=0,
    )
    if not claimed:
        ExportArchive.objects.filter(_claimable(), pk=archive_id, attempts__gte=MAX_ATTEMPTS).update(
            status=ExportStatus.FAILED, claimed_until=None
        )
        return None
    return ExportArchive.objects.filter(pk=archive_id).values_list("attempts", flat=True).first()


def _mine(archive_id: int, attempt: int):
    return ExportArchive.objects.filter(pk=archive_id, status=ExportStatus.BUILDING, attempts=attempt)


def _failed(archive_id: int, attempt: int, error: str) -> None:
    """A failed attempt goes back to the queue (``resume_exports`` takes it again) until
    the cap, then fails for good."""
    logger.warning("export %s attempt %s failed: %s", archive_id, attempt, error)
    status = ExportStatus.FAILED if attempt >= MAX_ATTEMPTS else ExportStatus.QUEUED
    _mine(archive_id, attempt).update(status=status, claimed_until=None, last_error=error[:300])


def _complete_request(request: DataSubjectRequest, archive: ExportArchive) -> None:
    """An operations-routed request is answered by its archive (REQ-7); an organization's
    request completes when its administrator answers."""
    from requests.services import workflow

    if request.organization_id is not None or request.status not in OPEN_STATUSES:
        return
    # Written on a worker: a message rendered in the reader's language and time zone.
    workflow.complete_request(
        request,
        actor=None,
        outcome=deferred(
            gettext_noop(
                "The archive of your data is ready. Download it from this request's page before %(expires)s; "
                "after that it is deleted."
            ),
            expires=archive.expires_at,
        ),
    )


def build(archive_id: int) -> str:
    """One build attempt (the body of ``build_export``)."""
    from requests.exporting import build_archive
    from requests.services.fulfilment import EXPORT_PURPOSE

    attempt = claim_archive(archive_id)
    if attempt is None:
        return "not claimed"
    archive = ExportArchive.objects.select_related("request__subject").get(pk=archive_id)
    request = archive.request
    if request.subject is None:
        _failed(archive_id, MAX_ATTEMPTS, "the person no longer has an account")
        return "failed"

    def progress(done: int) -> None:
        # Progress for the polling page, and a renewed lease: a live build is never taken over.
        if not _mine(archive_id, attempt).update(sections_done=done, claimed_until=_lease()):
            raise RuntimeError("lost the claim on the archive")

    stored = ""
    try:
        # The archive is the person's to read: its texts in their language, not the worker's.
        with (
            translation.override(request.subject.preferred_language or settings.LANGUAGE_CODE),
            build_archive(request.subject, reference=request.reference, progress=progress) as output,
        ):
            data = output.read()
        digest = hashlib.sha256(data).hexdigest()
        stored = files.store_encrypted(data, EXPORT_PURPOSE)
        now = timezone.now()
        expires_at = now + timedelta(hours=settings.REQUEST_EXPORT_TTL_HOURS)
        with transaction.atomic():
            done = _mine(archive_id, attempt).update(
                status=ExportStatus.READY,
                stored_file=stored,
                size=len(data),
                sha256=digest,
                ready_at=now,
                expires_at=expires_at,
                claimed_until=None,
                last_error="",
            )
            if not done:
                raise RuntimeError("lost the claim on the archive")
            archive.refresh_from_db()
            record_event(
                "request.export_ready",
                subject=request.subject,
                target=archive,
                organization=request.organization_id,
                metadata={"reference": request.reference, "size": len(data), "sha256": digest},
            )
            _complete_request(request, archive)
    except Exception as exc:
        if stored:
            files.delete_stored(stored)
        _failed(archive_id, attempt, f"{type(exc).__name__}: {exc}")
        return "failed"
    return "ready"


@shared_task(name="requests.tasks.build_export")
def build_export(archive_id: int) -> str:
    """REQ-7: build one archive (idempotent: a second run finds nothing to claim)."""
    return build(archive_id)


@shared_task(name="requests.tasks.resume_exports")
def resume_exports() -> str:
    """Beat: queued archives whose message was lost, and builds whose worker died (the
    lease ran out), are built again."""
    ids = list(ExportArchive.objects.filter(_claimable()).values_list("pk", flat=True)[:100])
    for archive_id in ids:
        build_export.delay(archive_id)
    return f"{len(ids)} resumed"


@shared_task(name="requests.tasks.expire_exports")
def expire_exports() -> str:
    """Beat: archives past their time are deleted (REQ-7: downloadable for a limited
    time); the row stays, marked expired, as the record that it was given."""
    now = timezone.now()
    expired = 0
    rows = ExportArchive.objects.filter(status=ExportStatus.READY, expires_at__lte=now).values_list("pk", "stored_file")
    for archive_id, stored in rows.iterator():
        with transaction.atomic():
            if not ExportArchive.objects.filter(pk=archive_id, status=ExportStatus.READY).update(
                status=ExportStatus.EXPIRED, stored_file=""
            ):
                continue
            record_event("request.export_expired", target=ExportArchive(pk=archive_id))
        if stored:
            files.delete_stored(stored)
        expired += 1
    return f"{expired} expired"
