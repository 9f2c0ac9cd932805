"""Export archives (REQ-7): building and expiring them.

``build_export`` claims the ``ExportArchive`` row by compare-and-set (queued, or
building by a worker whose heartbeat is stale -> building under this worker's claim
token; the attempt is counted in the row). The token fences the build: a worker that
lost its claim can neither record progress nor mark the archive ready. While it builds,
a thread beats the row's heartbeat (``dataprotection.liveness``), so a live build is
never taken over and a dead one is within seconds; archives whose message was lost are
enqueued again by the recovery sweep. A lost database is waited out and costs no
attempt. After ``MAX_ATTEMPTS`` the archive fails. Progress (``sections_done``) is
written after each section. The file is stored encrypted; an operations-routed request
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

from dataprotection import files, liveness
from dataprotection.audit import record_event
from dataprotection.deferred_text import deferred
from requests.models import OPEN_STATUSES, DataSubjectRequest, ExportArchive, ExportStatus
from requests.services import exporting, workflow

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


def _claimable(now=None) -> Q:
    return Q(status=ExportStatus.QUEUED) | Q(status=ExportStatus.BUILDING) & liveness.no_live_worker(now)


def needs_worker(now=None):
    """Archives queued, or being built by a worker that stopped beating (the recovery
    sweep's query, ``dataprotection.liveness``)."""
    return ExportArchive.objects.filter(status__in=[ExportStatus.QUEUED, ExportStatus.BUILDING]).filter(
        liveness.no_live_worker(now)
    )


def claim_archive(archive_id: int, token: str) -> int | None:
    """Compare-and-set: take the archive for one build attempt under the claim
    ``token``. Returns the attempt number, or None when there is nothing to build
    (another live worker holds it, it is done, or its attempts are used up -- then it
    is marked failed)."""
    now = timezone.now()
    claimed = ExportArchive.objects.filter(_claimable(now), pk=archive_id, attempts__lt=MAX_ATTEMPTS).update(
        status=ExportStatus.BUILDING,
        worker=token,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        sections_done=0,
    )
    if not claimed:
        ExportArchive.objects.filter(_claimable(now), pk=archive_id, attempts__gte=MAX_ATTEMPTS).update(
            status=ExportStatus.FAILED, worker=""
        )
        return None
    return ExportArchive.objects.filter(pk=archive_id).values_list("attempts", flat=True).first()


def _mine(archive_id: int, token: str):
    return ExportArchive.objects.filter(pk=archive_id, status=ExportStatus.BUILDING, worker=token)


def give_back(archive_id: int, token: str) -> None:
    """After a database outage: the archive goes back to the queue with its attempt."""
    _mine(archive_id, token).update(status=ExportStatus.QUEUED, worker="", attempts=F("attempts") - 1)


def _failed(archive_id: int, token: str, attempt: int, error: str) -> None:
    """A failed attempt goes back to the queue (the recovery sweep takes it again)
    until the cap, then fails for good."""
    logger.warning("export %s attempt %s failed: %s", archive_id, attempt, error)
    status = ExportStatus.FAILED if attempt >= MAX_ATTEMPTS else ExportStatus.QUEUED
    _mine(archive_id, token).update(status=status, worker="", last_error=error[:300])


def _complete_request(request: DataSubjectRequest, archive: ExportArchive) -> None:
    """An operations-routed request is answered by its archive (REQ-7); an organization's
    request completes when its administrator answers."""
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


def build(archive_id: int, token: str | None = None) -> str:
    """One build attempt (the body of ``build_export``)."""
    token = token or liveness.worker_token()
    attempt = claim_archive(archive_id, token)
    if attempt is None:
        return "not claimed"
    with liveness.heartbeat(liveness.beat_rows(_mine(archive_id, token))):
        return _build(archive_id, token, attempt)


def _build(archive_id: int, token: str, attempt: int) -> str:
    archive = ExportArchive.objects.select_related("request__subject").get(pk=archive_id)
    request = archive.request
    if request.subject is None:
        _failed(archive_id, token, MAX_ATTEMPTS, "the person no longer has an account")
        return "failed"

    def progress(done: int) -> None:
        # Progress for the polling page; a worker that lost its claim stops here.
        if not _mine(archive_id, token).update(sections_done=done):
            raise RuntimeError("lost the claim on the archive")
        liveness.checkpoint("export.section")

    stored = ""
    try:
        # The archive is the person's to read: its texts in their language, not the worker's.
        with (
            translation.override(request.subject.preferred_language or settings.LANGUAGE_CODE),
            exporting.build_archive(request.subject, reference=request.reference, progress=progress) as output,
        ):
            data = output.read()
        digest = hashlib.sha256(data).hexdigest()
        stored = files.store_encrypted(data, exporting.EXPORT_PURPOSE)
        now = timezone.now()
        expires_at = now + timedelta(hours=settings.REQUEST_EXPORT_TTL_HOURS)
        with transaction.atomic():
            done = _mine(archive_id, token).update(
                status=ExportStatus.READY,
                worker="",
                stored_file=stored,
                size=len(data),
                sha256=digest,
                ready_at=now,
                expires_at=expires_at,
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
        if liveness.is_database_outage(exc):
            raise  # ``build_export`` waits for the database and builds again
        _failed(archive_id, token, attempt, f"{type(exc).__name__}: {exc}")
        return "failed"
    return "ready"


@shared_task(name="requests.tasks.build_export")
def build_export(archive_id: int) -> str:
    """REQ-7: build one archive (idempotent: a second run finds nothing to claim). A
    lost database is waited out (the attempt is given back) and the archive built
    again."""
    held: dict[str, str] = {}

    def attempt() -> str:
        held["token"] = liveness.worker_token()  # each claim its own token
        return build(archive_id, held["token"])

    return liveness.outage_tolerant(
        attempt, recover=lambda: give_back(archive_id, held["token"]), what=f"export archive {archive_id}"
    )


def resume(archive: ExportArchive) -> None:
    """The recovery sweep sends an archive without a live builder to be built."""
    build_export.delay(archive.pk)


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
