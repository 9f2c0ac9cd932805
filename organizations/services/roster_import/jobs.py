"""The roster import job's state (ORG-7): the job row (``RosterImport``) is the queue of
record. Tasks claim it by compare-and-set on its status and on ``worker`` (free, or held
by a worker whose heartbeat is stale: ``dataprotection.liveness``), count their attempts
in it, beat its heartbeat while they work, and record failures; the recovery sweep finds
jobs no live worker holds (``needs_worker``) and sends the step they stopped at
(``resume``). A job failed for good loses its stored files.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from dataprotection import liveness
from dataprotection.files import delete_stored
from organizations.models import ImportStatus, RosterImport
from organizations.services.roster_import import queue

# What each stored file of a job is sealed for (``dataprotection.files``): the upload,
# the checked rows that replace it, the result of a part of the check, the error report.
FILE_PURPOSE = "organizations.roster_import.file"
PLAN_PURPOSE = "organizations.roster_import.plan"
PART_PURPOSE = "organizations.roster_import.part"
REPORT_PURPOSE = "organizations.roster_import.report"

MAX_ATTEMPTS = 3


class ImportConflict(Exception):
    """The roster or the uploader's rights changed since the check: nothing is written."""


class ClaimLost(Exception):
    """Another worker took the job over (this one stopped beating): nothing is written."""


def claim(import_id: int, status: str, token: str, **conditions) -> RosterImport | None:
    """Compare-and-set: take a job in ``status`` (and matching ``conditions``) that no
    live worker holds, for one more attempt, under the claim ``token``; ``None`` when
    there is nothing to do (another status, a live worker holds it, or the attempts are
    spent -- then the job is marked failed)."""
    now = timezone.now()
    free = RosterImport.objects.filter(pk=import_id, status=status, **conditions).filter(liveness.claimable(now))
    claimed = free.filter(attempts__lt=MAX_ATTEMPTS).update(attempts=F("attempts") + 1, worker=token, heartbeat_at=now)
    if not claimed:
        failed = free.filter(attempts__gte=MAX_ATTEMPTS).update(status=ImportStatus.FAILED, finished_at=now, worker="")
        if failed:
            delete_parts(import_id)
        return None
    return RosterImport.objects.select_related("organization", "uploaded_by").get(pk=import_id)


def give_back(import_id: int, token: str) -> None:
    """After a database outage: release the claim with its attempt (the outage was not
    the job's failure)."""
    RosterImport.objects.filter(pk=import_id, worker=token).update(worker="", attempts=F("attempts") - 1)


def needs_worker(now=None):
    """Imports being checked or written that no live worker holds (the recovery
    sweep's query, ``dataprotection.liveness``)."""
    return RosterImport.objects.filter(status__in=[ImportStatus.VALIDATING, ImportStatus.IMPORTING]).filter(
        liveness.no_live_worker(now)
    )


def resume(job: RosterImport) -> None:
    """Send the task that takes ``job`` up where it stopped (the recovery sweep): the
    write, the check of a small file, the parts of a large file not recorded yet, or
    the merge. Each claims the row, so a message too many does nothing."""
    tasks = queue.steps()
    language = job.language or None
    if job.status == ImportStatus.IMPORTING:
        tasks.run.delay(job.pk, language=language)
    elif not job.parts_total:
        tasks.validate.delay(job.pk, language=language)
    elif job.parts_done < job.parts_total:
        recorded = job.parts.get("refs", {})
        for index in range(job.parts_total):
            if str(index) not in recorded:
                tasks.check_part.delay(job.pk, index, language=language)
    else:
        tasks.finish_check.delay(job.pk, language=language)


def beating(import_id: int, token: str) -> liveness.Heartbeat:
    """The heartbeat of a claimed step (the check of a small file, the merge, the write)."""
    return liveness.heartbeat(liveness.beat_rows(RosterImport.objects.filter(pk=import_id, worker=token)))


def record_failure(import_id: int, status: str, message: str, *, final: bool, token: str | None = None) -> None:
    """Keep the last error of an attempt and release its claim; the final attempt marks
    the job failed. With ``token``, only while that claim holds."""
    changes: dict = {"last_error": message[:2000]}
    if final:
        changes.update(status=ImportStatus.FAILED, finished_at=timezone.now())
    mine = RosterImport.objects.filter(pk=import_id, status=status)
    if token is not None:
        mine = mine.filter(Q(worker=token) | Q(worker=""))
        changes["worker"] = ""
    if mine.update(**changes) and final:
        delete_parts(import_id)


def part_attempts(import_id: int, index: int) -> int:
    """How many times part ``index`` of the job's check was started."""
    parts = RosterImport.objects.filter(pk=import_id).values_list("parts", flat=True).first() or {}
    return parts.get("attempts", {}).get(str(index), 0)


def give_back_part(import_id: int, index: int, token: str) -> None:
    """After a database outage: the part's attempt is given back (under the row lock)."""
    key = str(index)
    with transaction.atomic():
        job = RosterImport.objects.select_for_update().filter(pk=import_id).only("parts").first()
        if job is None or not job.parts or job.parts.get("workers", {}).get(key) != token:
            return
        job.parts["attempts"][key] = max(0, job.parts["attempts"].get(key, 1) - 1)
        del job.parts["workers"][key]
        job.save(update_fields=["parts"])


def take_part_refs(import_id: int) -> list[str]:
    """Clear the parts' bookkeeping of a check that is over (inside the caller's
    transaction) and return the stored results to delete once it commits."""
    job = RosterImport.objects.select_for_update().filter(pk=import_id).only("parts").first()
    if job is None or not job.parts.get("refs"):
        return []
    refs = list(job.parts["refs"].values())
    job.parts = {}
    job.save(update_fields=["parts"])
    return refs


def delete_parts(import_id: int) -> None:
    """Delete the stored results of the parts of a check that is over."""
    with transaction.atomic():
        refs = take_part_refs(import_id)
    for ref in refs:
        delete_stored(ref)


def fail(job: RosterImport, status: str, message: str, token: str | None = None) -> None:
    """A failure retrying cannot fix: the job is failed and its stored file deleted
    (with ``token``: only while that claim holds)."""
    changes = {
        "status": ImportStatus.FAILED,
        "last_error": message,
        "finished_at": timezone.now(),
        "file_ref": "",
        "worker": "",
    }
    mine = RosterImport.objects.filter(pk=job.pk, status=status)
    if token is not None:
        mine = mine.filter(worker=token)
    if mine.update(**changes):
        delete_ref(job.file_ref)
        delete_parts(job.pk)


def delete_ref(ref: str | None) -> None:
    if ref:
        delete_stored(ref)
