"""Roster import and export (ORG-5, ORG-6, ORG-7, ORG-10).

The life of an import (``RosterImport.status``):

1. ``start_import`` (the upload page): the file is stored encrypted in private storage,
   the administrator's consent attestation is recorded (ORG-6), the job row is created
   in ``validating`` and ``validate_roster_import`` is queued once the transaction commits.
2. ``check_import`` (that task): every row is checked (``organizations.importing``,
   pure code) against a snapshot of the roster read in a constant number of queries.
   The full error report is written as CSV to private storage (``report_ref``), the
   first errors are kept on the row, and the checked rows are written as a normalized
   intermediate -- JSON, encrypted -- that replaces the uploaded file (``file_ref``
   then points at it; the original is deleted). Nothing touches the roster. ->
   ``validated``.
3. ``decide`` (the detail page): "all rows" (only when no row has an error), "only the
   valid rows", or discard. A compare-and-set moves ``validated`` -> ``importing`` and
   queues ``run_roster_import``.
4. ``run_import`` (that task): in ONE transaction, the checks against the roster and the
   uploader's rights are run again on a fresh snapshot (the roster may have changed
   since the check: any conflict fails the import and writes nothing), then the rows
   are written set-based -- ``executemany`` on SQLite, ``COPY FROM STDIN`` on
   PostgreSQL, ids allocated up front -- with one ``roster.imported`` audit event and
   the status ``completed`` in the same transaction. A failure anywhere rolls back
   everything.

The tasks claim the job row by compare-and-set on its status and on ``worker`` (free,
or held by a worker whose heartbeat is stale: ``dataprotection.liveness``), count their
attempts in it, beat its heartbeat while they work, and finish only while their claim
holds: a redelivered message finds nothing to do, a worker killed mid-check or mid-write
is taken over within seconds (the write is one transaction: nothing of it is left), and
a job that failed three times is ``failed`` with the last error. A lost database is
waited out inside the task and costs no attempt.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import logging
import marshal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.http import Http404
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dataprotection import crypto, liveness
from dataprotection.audit import record_event
from dataprotection.fields import EncryptedTextField
from dataprotection.files import delete_stored, read_decrypted, store_encrypted
from organizations import importing
from organizations.models import (
    AttestationKind,
    Department,
    GuardianConsent,
    ImportMode,
    ImportStatus,
    Member,
    MemberDepartment,
    MemberStatus,
    Right,
    RosterImport,
    UploadAttestation,
)
from organizations.models.children import AGE_FIELD, CHILD_BASIC_FIELDS
from organizations.permissions import OrgAccess, org_access
from organizations.services.collection import SENSITIVE_FIELDS, collected_fields, fillable_fields
from organizations.services.demo_data.loading import bulk_load_tuning  # SQLite page cache
from organizations.services.lookups import ID_NUMBER_DIGEST_PURPOSE, MOBILE_DIGEST_PURPOSE

logger = logging.getLogger(__name__)

FILE_PURPOSE = "organizations.roster_import.file"
PLAN_PURPOSE = "organizations.roster_import.plan"
PART_PURPOSE = "organizations.roster_import.part"
REPORT_PURPOSE = "organizations.roster_import.report"
MAX_ATTEMPTS = 3
PLAN_VERSION = 2
# Rows (blank ones included) per part of a CSV file checked by parallel tasks; a file
# of at most this many rows, and any XLSX file, is checked by one task in one go.
# Measured on 2 worker processes at 100k rows: two parts of 50k beat four of 25k
# (each part reads and decrypts the whole file; fewer results to merge).
CHECK_PART_ROWS = 50_000
EXPORT_CHUNK = 2_000
BOM = "\ufeff"


class ImportConflict(Exception):
    """The roster or the uploader's rights changed since the check: nothing is written."""


class ClaimLost(Exception):
    """Another worker took the job over (this one stopped beating): nothing is written."""


# --------------------------------------------------------------------------- the snapshot


def build_snapshot(access: OrgAccess, collected: frozenset[str] | None = None) -> importing.RosterSnapshot:
    """Everything the row checks need, in four queries whatever the row count: the
    collection settings, the departments, every roster entry's digest and employee
    number, and every placement's department path."""
    organization = access.organization
    if collected is None:
        collected = collected_fields(organization)
    departments = list(
        Department.objects.filter(organization=organization)
        .order_by("path")
        .values_list("pk", "parent_id", "name", "path")
    )
    placements: dict[int, list[tuple[int, str, bool]]] = {}
    for member_id, department_id, path, is_primary in MemberDepartment.objects.filter(
        member__organization=organization
    ).values_list("member_id", "department_id", "department__path", "is_primary"):
        placements.setdefault(member_id, []).append((department_id, path, is_primary))
    members_by_digest: dict[str, importing.ExistingMember] = {}
    employee_numbers: dict[str, int] = {}
    rows = Member.objects.filter(organization=organization).values_list(
        "pk", "mobile_digest", "employee_number", "status", "user_id"
    )
    for pk, digest, employee_number, status, user_id in rows:
        if employee_number:
            employee_numbers[employee_number] = pk
        if digest:
            placed = placements.get(pk, ())
            members_by_digest[digest] = importing.ExistingMember(
                pk=pk,
                employee_number=employee_number,
                paths=tuple(sorted(path for _d, path, _p in placed)),
                department_ids=frozenset(department_id for department_id, _path, _p in placed),
                has_primary=any(primary for _d, _path, primary in placed),
                consented=status == MemberStatus.ACTIVE and user_id is not None,
            )
    # SEC-3: the children on the roster now, each with whether a guardian's consent is in force.
    cutoff = access.child_cutoff
    children = dict(
        Member.objects.filter(organization=organization)
        .children(cutoff)
        .annotate(consented=Exists(GuardianConsent.objects.filter(member=OuterRef("pk"), withdrawn_at__isnull=True)))
        .values_list("pk", "consented")
    )
    return importing.RosterSnapshot(
        collected=collected,
        departments=departments,
        members_by_digest=members_by_digest,
        employee_numbers=employee_numbers,
        covers=access.covers_member,
        child_cutoff=cutoff.isoformat(),
        stored_children=frozenset(children),
        guardian_consented=frozenset(pk for pk, consented in children.items() if consented),
        children_officer=organization.children_data_officer_id is not None,
    )


# --------------------------------------------------------------------------- 1. upload


@transaction.atomic
def start_import(
    access: OrgAccess,
    *,
    file_name: str,
    file_format: str,
    content: bytes,
    attestation_text: str,
    fields: list[str],
    ip: str | None = None,
) -> RosterImport:
    """ORG-6, ORG-7: record the attestation and the job, store the file encrypted and
    queue the check. ``fields`` are the columns the header names (shown in the
    attestation record)."""
    access.require(Right.EDIT_ROSTER)
    from organizations.tasks import validate_roster_import

    file_ref = store_encrypted(content, FILE_PURPOSE)
    try:
        attestation = UploadAttestation.objects.create(
            organization=access.organization,
            attested_by=access.user,
            kind=AttestationKind.IMPORT,
            text=attestation_text,
            fields=fields,
        )
        job = RosterImport.objects.create(
            organization=access.organization,
            uploaded_by=access.user,
            file_name=file_name[:255],
            file_format=file_format,
            file_ref=file_ref,
            status=ImportStatus.VALIDATING,
            attestation=attestation,
            language=translation.get_language() or "",
        )
        record_event(
            "roster.import_uploaded",
            actor=access.user,
            target=job,
            organization=access.organization,
            ip=ip,
            changes=fields,
            metadata={"file_format": file_format, "bytes": len(content), "attestation": attestation.pk},
        )
    except BaseException:
        delete_stored(file_ref)
        raise
    validate_roster_import.delay_on_commit(job.pk, language=translation.get_language())
    return job


# --------------------------------------------------------------------------- claims


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
            _delete_parts(import_id)
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
    from organizations import tasks

    language = job.language or None
    if job.status == ImportStatus.IMPORTING:
        tasks.run_roster_import.delay(job.pk, language=language)
    elif not job.parts_total:
        tasks.validate_roster_import.delay(job.pk, language=language)
    elif job.parts_done < job.parts_total:
        recorded = job.parts.get("refs", {})
        for index in range(job.parts_total):
            if str(index) not in recorded:
                tasks.check_roster_import_part.delay(job.pk, index, language=language)
    else:
        tasks.finish_roster_check.delay(job.pk, language=language)


def _beating(import_id: int, token: str) -> liveness.Heartbeat:
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
        _delete_parts(import_id)


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


def _take_part_refs(import_id: int) -> list[str]:
    """Clear the parts' bookkeeping of a check that is over (inside the caller's
    transaction) and return the stored results to delete once it commits."""
    job = RosterImport.objects.select_for_update().filter(pk=import_id).only("parts").first()
    if job is None or not job.parts.get("refs"):
        return []
    refs = list(job.parts["refs"].values())
    job.parts = {}
    job.save(update_fields=["parts"])
    return refs


def _delete_parts(import_id: int) -> None:
    """Delete the stored results of the parts of a check that is over."""
    with transaction.atomic():
        refs = _take_part_refs(import_id)
    for ref in refs:
        delete_stored(ref)


def _fail(job: RosterImport, status: str, message: str, token: str | None = None) -> None:
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
        _delete(job.file_ref)
        _delete_parts(job.pk)


def _uploader_access(job: RosterImport) -> OrgAccess:
    """The uploader's rights now: the file is checked and written with them."""
    try:
        access = org_access(job.uploaded_by, job.organization_id)
        access.require(Right.EDIT_ROSTER)
    except (Http404, PermissionDenied):
        raise ImportConflict(_("The person who uploaded the file may no longer edit the roster.")) from None
    return access


# --------------------------------------------------------------------------- 2. check


def write_report(errors: list[dict]) -> bytes:
    """The full error report: CSV in UTF-8 with a BOM (Excel), sensitive values masked."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("Row"), _("Column"), _("Value"), _("Problem")])
    for error in errors:
        writer.writerow(
            [
                error["row"] if error["row"] is not None else "",
                importing.spreadsheet_safe(error["column"]),
                importing.spreadsheet_safe(error["value"]),
                error["message"],
            ]
        )
    return (BOM + buffer.getvalue()).encode("utf-8")


@contextmanager
def _gc_paused():
    """No cyclic garbage collection while a check or a write builds its hundreds of
    thousands of small lists, tuples and strings: each automatic collection would walk
    all of them again (about a quarter of the time at 100k rows). Reference counting
    still frees everything; the collector runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _file_failed(job: RosterImport, error: importing.ImportFileError, token: str | None = None) -> str:
    """The file as a whole cannot be imported: the job fails with a one-line report
    (with ``token``: only while that claim holds)."""
    report_ref = store_encrypted(write_report([error.as_dict()]), REPORT_PURPOSE)
    mine = RosterImport.objects.filter(pk=job.pk, status=ImportStatus.VALIDATING)
    if token is not None:
        mine = mine.filter(worker=token)
    updated = mine.update(
        worker="",
        status=ImportStatus.FAILED,
        file_ref="",
        last_error=error.message,
        error_preview=[error.as_dict()],
        report_ref=report_ref,
        validated_at=timezone.now(),
        finished_at=timezone.now(),
    )
    if updated:
        _delete(job.report_ref)
        _delete(job.file_ref)
        _delete_parts(job.pk)
    else:
        delete_stored(report_ref)
    return "failed"


def check_import(import_id: int, token: str | None = None) -> str:
    """Task body of ``validate_roster_import``: check every row, write nothing to the
    roster. Unexpected errors propagate (the task retries up to the attempt cap).

    A CSV file of more than ``CHECK_PART_ROWS`` rows is split into parts
    (``importing.split_file``) checked by ``check_roster_import_part`` tasks that run at
    the same time on the workers; the task finishing the last part queues
    ``finish_roster_check``, which finds the duplicates within the file over all the
    parts and writes the report and the checked rows. Anything smaller is checked here
    in one go, the same way with a single part."""
    token = token or liveness.worker_token()
    job = claim(import_id, ImportStatus.VALIDATING, token, parts_total=0)
    if job is None:
        return "nothing to do"
    with _beating(import_id, token):
        return _check_whole(job, token)


def _check_whole(job: RosterImport, token: str) -> str:
    try:
        access = _uploader_access(job)
    except ImportConflict as exc:
        _fail(job, ImportStatus.VALIDATING, str(exc), token)
        return "failed"
    data = read_decrypted(job.file_ref, FILE_PURPOSE)
    collected = collected_fields(access.organization)
    with _gc_paused():
        try:
            split = importing.split_file(data, job.file_format, collected, CHECK_PART_ROWS)
            if len(split.spans) == 1:
                snapshot = build_snapshot(access, collected)
                liveness.checkpoint("roster_import.check")
                part = importing.check_part(
                    data, job.file_format, snapshot, split.header, split.spans[0], _progress(job.pk)
                )
                return _finish_check(job, [(part, _prepare_part(part))], token)
        except importing.ImportFileError as exc:
            return _file_failed(job, exc, token)
    parts = {"header": split.header, "spans": split.spans, "refs": {}, "attempts": {}, "workers": {}}
    with transaction.atomic():
        # The parts have no single holder: each part task beats the row while it works.
        updated = RosterImport.objects.filter(
            pk=job.pk, status=ImportStatus.VALIDATING, parts_total=0, worker=token
        ).update(
            parts_total=len(split.spans),
            parts_done=0,
            parts=parts,
            attempts=0,
            processed_rows=0,
            worker="",
            heartbeat_at=timezone.now(),
        )
        if updated:
            from organizations.tasks import check_roster_import_part

            for index in range(len(split.spans)):
                check_roster_import_part.delay_on_commit(job.pk, index, language=translation.get_language())
    return "split" if updated else "nothing to do"


def _progress(import_id: int) -> Callable[[int], None]:
    """Progress of the check on the job row: the rows of each part add up."""

    def progress(rows: int) -> None:
        RosterImport.objects.filter(pk=import_id, status=ImportStatus.VALIDATING).update(
            processed_rows=F("processed_rows") + rows
        )

    return progress


def check_part(import_id: int, index: int, token: str | None = None) -> str:
    """Task body of ``check_roster_import_part``: check one part of the file and store
    what it found (encrypted). Each part counts its attempts in ``parts``, under a lock
    on the job row; so does recording its result, which a redelivered message finds
    there already. The part recorded last queues ``finish_roster_check``, once. While
    it works, the part beats the job's heartbeat (any part does: when none is alive
    any more, the recovery sweep sends the parts that are not recorded again)."""
    key = str(index)
    token = token or liveness.worker_token()
    with transaction.atomic():
        job = RosterImport.objects.select_for_update().filter(pk=import_id, status=ImportStatus.VALIDATING).first()
        if job is None or index >= job.parts_total or key in job.parts["refs"]:
            return "nothing to do"
        attempts = job.parts["attempts"].get(key, 0)
        if attempts >= MAX_ATTEMPTS:
            job.status, job.finished_at = ImportStatus.FAILED, timezone.now()
            job.save(update_fields=["status", "finished_at"])
            transaction.on_commit(lambda: _delete_parts(import_id))
            return "nothing to do"
        job.parts["attempts"][key] = attempts + 1
        job.parts.setdefault("workers", {})[key] = token
        job.heartbeat_at = timezone.now()
        job.save(update_fields=["parts", "heartbeat_at"])
    beat = liveness.beat_rows(RosterImport.objects.filter(pk=import_id, status=ImportStatus.VALIDATING))
    with liveness.heartbeat(beat):
        return _check_one_part(job, index, key)


def _check_one_part(job: RosterImport, index: int, key: str) -> str:
    import_id = job.pk
    try:
        access = _uploader_access(job)
    except ImportConflict as exc:
        _fail(job, ImportStatus.VALIDATING, str(exc))
        return "failed"
    data = read_decrypted(job.file_ref, FILE_PURPOSE)
    snapshot = build_snapshot(access)
    with _gc_paused():
        try:
            span = tuple(job.parts["spans"][index])
            liveness.checkpoint("roster_import.check")
            part = importing.check_part(data, job.file_format, snapshot, job.parts["header"], span, _progress(job.pk))
        except importing.ImportFileError as exc:  # e.g. a column no longer collected
            return _file_failed(job, exc)
        blob = _dump_part(part, _prepare_part(part))
    ref = store_encrypted(blob, PART_PURPOSE)
    with transaction.atomic():
        job = RosterImport.objects.select_for_update().filter(pk=import_id, status=ImportStatus.VALIDATING).first()
        recorded = job is not None and key not in job.parts["refs"]
        if recorded:
            job.parts["refs"][key] = ref
            job.parts.get("workers", {}).pop(key, None)
            job.parts_done = len(job.parts["refs"])
            job.save(update_fields=["parts", "parts_done"])
            if job.parts_done == job.parts_total:
                from organizations.tasks import finish_roster_check

                finish_roster_check.delay_on_commit(job.pk, language=translation.get_language())
    if not recorded:  # done by another delivery of this message, or the job moved on
        delete_stored(ref)
        return "nothing to do"
    return "checked"


def finish_check(import_id: int, token: str | None = None) -> str:
    """Task body of ``finish_roster_check``: merge the parts once all are checked."""
    token = token or liveness.worker_token()
    job = claim(import_id, ImportStatus.VALIDATING, token, parts_total__gt=0, parts_done=F("parts_total"))
    if job is None:
        return "nothing to do"
    with _beating(import_id, token), _gc_paused():
        refs = [job.parts["refs"][str(index)] for index in range(job.parts_total)]
        parts = [_load_part(read_decrypted(ref, PART_PURPOSE)) for ref in refs]
        try:
            return _finish_check(job, parts, token)
        except importing.ImportFileError as exc:
            return _file_failed(job, exc, token)


# A part as stored between its task and ``finish_check``: ``marshal`` (plain lists,
# tuples, strings and numbers; fast to write and read) of the summary the merge needs,
# and, as opaque bytes, the checked rows with their values prepared for the write,
# which end up in the plan as they are.


def _prepare_part(part: importing.PartResult) -> bytes:
    """The checked rows of a part as the write needs them: new entries as their row
    numbers, departments and member column values computed now (``CreatePreparer``:
    ciphertexts and digests), updates with their cleaned values (prepared when written)."""
    fields = part.fields
    prepare = CreatePreparer(fields)
    rows, departments, prepared, updates = [], [], [], []
    for row in part.planned:
        if row.member_id is None:
            rows.append(row.row)
            departments.append(row.department_id)
            prepared.append(prepare(row))
        else:
            values = [row.values.get(name, "") for name in fields]
            updates.append((row.row, row.member_id, row.department_id, values, row.mobile_digest))
    return marshal.dumps({"rows": rows, "departments": departments, "prepared": prepared, "updates": updates})


def _dump_part(part: importing.PartResult, rows: bytes) -> bytes:
    summary = {
        "header": part.header,
        "labels": part.labels,
        "fields": part.fields,
        "total_rows": part.total_rows,
        "error_rows": part.error_rows,
        "planned_rows": part.planned_rows,
        "errors": [(error.row, error.column, error.value, error.message) for error in part.errors],
        "keys": part.keys,
    }
    return marshal.dumps((summary, rows))


def _load_part(blob: bytes) -> tuple[importing.PartResult, bytes]:
    summary, rows = marshal.loads(blob)
    part = importing.PartResult(
        header=summary["header"],
        labels=summary["labels"],
        fields=summary["fields"],
        total_rows=summary["total_rows"],
        error_rows=summary["error_rows"],
        planned_rows=summary["planned_rows"],
        errors=[importing.RowError(*error) for error in summary["errors"]],
        keys=summary["keys"],
    )
    return part, rows


def _finish_check(job: RosterImport, parts: list[tuple[importing.PartResult, bytes]], token: str) -> str:
    """Merge the parts (``importing.merge_parts``), store the report and the plan --
    the prepared rows of every part, in order, and the rows dropped as duplicates --
    and move the job to ``validated`` (only while the claim ``token`` holds)."""
    merged = importing.merge_parts([part for part, _rows in parts])
    first = parts[0][0]
    errors = [error.as_dict() for error in merged.errors]
    header = [*first.fields, *([importing.DEPARTMENT] if first.has_department else [])]
    labels = [importing.field_label(name) for name in header]
    plan = {
        "version": PLAN_VERSION,
        "header": header,
        "labels": labels,
        "fields": first.fields,
        "dropped": sorted(merged.dropped),
        "parts": [rows for _part, rows in parts],
    }
    plan_ref = store_encrypted(marshal.dumps(plan), PLAN_PURPOSE)
    report_ref = store_encrypted(write_report(errors), REPORT_PURPOSE)
    with transaction.atomic():
        updated = RosterImport.objects.filter(pk=job.pk, status=ImportStatus.VALIDATING, worker=token).update(
            status=ImportStatus.VALIDATED,
            worker="",
            file_ref=plan_ref,
            report_ref=report_ref,
            total_rows=merged.total_rows,
            valid_rows=merged.valid_rows,
            error_rows=merged.error_rows,
            processed_rows=merged.total_rows,
            error_preview=errors[: importing.PREVIEW_ERRORS],
            attempts=0,
            last_error="",
            validated_at=timezone.now(),
        )
        if updated and job.attestation_id:
            UploadAttestation.objects.filter(pk=job.attestation_id).update(rows=merged.total_rows, fields=header)
        # In the same transaction: whoever sees the job validated never sees parts left.
        part_refs = _take_part_refs(job.pk) if updated and job.parts_total else []
    if not updated:  # discarded, failed or taken over meanwhile
        delete_stored(plan_ref)
        delete_stored(report_ref)
        return "nothing to do"
    _delete(job.file_ref)  # the original upload: the plan replaces it
    _delete(job.report_ref)  # a previous attempt's report, if any
    for ref in part_refs:
        delete_stored(ref)
    return "validated"


def _delete(ref: str | None) -> None:
    if ref:
        delete_stored(ref)


# --------------------------------------------------------------------------- 3. decide


@transaction.atomic
def decide(access: OrgAccess, job: RosterImport, action: str, ip: str | None = None) -> bool:
    """The administrator's decision on a checked file. ``action``: ``all`` (refused
    unless every row is valid), ``valid_only`` (refused when no row is valid) or
    ``discard``. Compare-and-set on ``validated``: ``False`` when the job moved on."""
    access.require(Right.EDIT_ROSTER)
    if action == "discard":
        updated = RosterImport.objects.filter(pk=job.pk, status=ImportStatus.VALIDATED).update(
            status=ImportStatus.DISCARDED, file_ref="", finished_at=timezone.now()
        )
        if updated:
            ref = job.file_ref
            transaction.on_commit(lambda: _delete(ref))
            record_event(
                "roster.import_discarded", actor=access.user, target=job, organization=access.organization, ip=ip
            )
        return bool(updated)
    if action == ImportMode.ALL_ROWS:
        allowed = {"error_rows": 0, "valid_rows__gt": 0}
    elif action == ImportMode.VALID_ONLY:
        allowed = {"valid_rows__gt": 0}
    else:
        raise ValueError(f"unknown decision {action!r}")
    updated = RosterImport.objects.filter(pk=job.pk, status=ImportStatus.VALIDATED, **allowed).update(
        status=ImportStatus.IMPORTING,
        mode=action,
        attempts=0,
        processed_rows=0,
        worker="",
        heartbeat_at=timezone.now(),
        language=translation.get_language() or "",
    )
    if updated:
        from organizations.tasks import run_roster_import

        run_roster_import.delay_on_commit(job.pk, language=translation.get_language())
    return bool(updated)


# --------------------------------------------------------------------------- 4. write


def run_import(import_id: int, token: str | None = None) -> str:
    """Task body of ``run_roster_import``: all or nothing, in one transaction, which
    commits only while this worker's claim holds (a worker that lost it -- its heartbeat
    went stale and another took over -- writes nothing)."""
    token = token or liveness.worker_token()
    job = claim(import_id, ImportStatus.IMPORTING, token)
    if job is None:
        return "nothing to do"
    with _beating(import_id, token):
        return _write(job, token)


def _write(job: RosterImport, token: str) -> str:
    status = ImportStatus.IMPORTING
    blob = read_decrypted(job.file_ref, PLAN_PURPOSE)
    try:
        with _gc_paused(), transaction.atomic(), bulk_load_tuning():
            counts = _apply_plan(job, _load_plan(blob))
            liveness.checkpoint("roster_import.write")
            done = RosterImport.objects.filter(pk=job.pk, status=status, worker=token).update(
                status=ImportStatus.COMPLETED,
                worker="",
                imported_rows=counts["created"] + counts["updated"],
                processed_rows=counts["created"] + counts["updated"],
                file_ref="",
                last_error="",
                finished_at=timezone.now(),
            )
            if not done:  # taken over (or discarded): the rows written here go too
                raise ClaimLost
            ref = job.file_ref
            transaction.on_commit(lambda: _delete(ref))
    except ClaimLost:
        return "nothing to do"
    except ImportConflict as exc:
        _fail(job, status, str(exc), token)
        return "failed"
    return "completed"


def _load_plan(blob: bytes) -> dict:
    try:
        plan = marshal.loads(blob)
    except (ValueError, EOFError, TypeError):
        plan = None
    if not isinstance(plan, dict) or plan.get("version") != PLAN_VERSION:
        raise ImportConflict(_("The checked file has an unknown format; upload it again."))
    return plan


def _apply_plan(job: RosterImport, plan: dict) -> dict[str, int]:
    access = _uploader_access(job)
    collected = collected_fields(access.organization)
    fields: list[str] = plan["fields"]
    dropped = [name for name in fields if name not in collected and name != AGE_FIELD]
    if dropped:
        raise ImportConflict(
            _("The organization stopped collecting %(fields)s since the file was checked; upload it again.")
            % {"fields": ", ".join(f"“{importing.field_label(name)}”" for name in dropped)}
        )
    snapshot = build_snapshot(access, collected)
    checker = importing.RowChecker(snapshot, plan["header"], plan["labels"])
    # The parts' rows, without those found to be duplicates within the file.
    skip = set(plan["dropped"])
    rows: list[int] = []  # new entries: their row numbers, departments and column values
    departments: list[int | None] = []
    prepared: list[tuple] = []
    updates: list[tuple] = []  # (row, member, department, values, mobile digest)
    for blob in plan["parts"]:
        part = marshal.loads(blob)
        if skip:
            kept = [index for index, row in enumerate(part["rows"]) if row not in skip]
            for key in ("rows", "departments", "prepared"):
                part[key] = [part[key][index] for index in kept]
            part["updates"] = [update for update in part["updates"] if update[0] not in skip]
        rows += part["rows"]
        departments += part["departments"]
        prepared += part["prepared"]
        updates += part["updates"]
    preparer = CreatePreparer(fields)

    def planned(row: int, member_id: int | None, department_id: int | None, values: list, digest: str):
        filled = {name: value for name, value in zip(fields, values, strict=True) if value != ""}
        return importing.PlannedRow(row, member_id, department_id, filled, digest)

    # The checks of ``resolve`` on the fresh snapshot: set-wise for the new entries,
    # from the digests and values they will be written with; row by row for the
    # updates (and for every row when a new entry is no longer fine, so that the
    # first error is reported).
    column = preparer.columns.index
    digest = column("mobile_digest")
    number = column("employee_number") if "employee_number" in fields else None
    guarded = [index for index, name in enumerate(fields) if name in importing.GUARDED_FIELDS]
    unchanged = checker.creates_unchanged(
        (values[digest] for values in prepared),
        (values[number] for values in prepared) if number is not None else (),
        set(departments),
        lambda restricted: {
            place
            for place, values in zip(departments, prepared, strict=True)
            if place in restricted and any(values[index] for index in guarded)
        },
    )
    update_rows = [planned(*update) for update in updates]
    checked = update_rows
    if not unchanged:
        new_rows = [
            importing.PlannedRow(row, None, department, preparer.values(values), values[digest])
            for row, department, values in zip(rows, departments, prepared, strict=True)
        ]
        checked = sorted(update_rows + new_rows, key=lambda planned_row: planned_row.row)
    error = checker.first_conflict(checked, creates_unchanged=unchanged)
    if error is None:
        error = _new_child_conflict(checker, fields, rows, prepared)
    if error is not None:
        raise ImportConflict(
            _("Row %(row)d, column “%(column)s”: %(message)s")
            % {"row": error.row, "column": error.column, "message": error.message}
        )
    existing = {member.pk: member for member in snapshot.members_by_digest.values()}
    # ORG-6: without the consent attestation only the basic fields could be filled.
    fillable = fillable_fields(collected, None, attested=job.attestation_id is not None)
    if not set(fields) - {AGE_FIELD} <= fillable:
        raise ImportConflict(_("The upload has no consent attestation; upload the file again."))
    writer = RosterWriter(access.organization.pk)
    writer.insert(preparer.columns, prepared, departments)
    writer.update(update_rows, existing)
    record_event(
        "roster.imported",
        actor=job.uploaded_by,
        target=job,
        organization=access.organization,
        changes=fields,
        metadata={
            "created": len(rows),
            "updated": len(updates),
            "rows": job.total_rows,
            "skipped_rows": job.total_rows - len(rows) - len(updates),
            "mode": job.mode,
            "fields": fields,
            "attestation": job.attestation_id,
        },
    )
    return {"created": len(rows), "updated": len(updates)}


def _new_child_conflict(
    checker, fields: list[str], rows: list[int], prepared: list[tuple]
) -> importing.RowError | None:
    """SEC-3, import time: a new entry that is a child on the fresh snapshot (the age
    rule may have changed since the check) and fills more than the basic fields. One
    pass over the prepared values (dates are ISO text), only when the file has a
    birthday column and a non-basic one."""
    if AGE_FIELD not in fields:
        return None
    extended = [index for index, name in enumerate(fields) if name not in CHILD_BASIC_FIELDS]
    if not extended:
        return None
    index = fields.index(AGE_FIELD)
    cutoff = checker.snapshot.child_cutoff
    for row, values in zip(rows, prepared, strict=True):
        birthday = values[index]
        if birthday and str(birthday) > cutoff and any(values[i] not in ("", None) for i in extended):
            return checker._child_error(row, {name: str(values[i]) for i, name in enumerate(fields) if values[i]}, None)
    return None


def _blank_value(field):
    """What a member column holds when the file leaves it blank (as ``Model.save``)."""
    default = field.get_default()
    return default if default is not None or field.null else ""


class CreatePreparer:
    """The member column values of a new entry, computed when its part is checked (in
    parallel tasks) rather than in the single-writer import: each filled field as it
    is stored -- ciphertexts (AES-GCM, ``crypto.encryptor``) for the encrypted ones,
    dates as ISO text -- blank cells as the field's default, then the keyed-hash lookup
    digests (ORG-10). ``columns`` names them, in that order."""

    def __init__(self, fields: list[str]):
        self.steps = []
        self.purposes = {}
        for name in fields:
            field = Member._meta.get_field(name)
            seal = None
            if isinstance(field, EncryptedTextField):
                seal = crypto.encryptor(field.purpose)
                self.purposes[name] = field.purpose
            self.steps.append((name, seal, _blank_value(field)))
        self.columns = [*fields, "mobile_digest"]
        self.id_number_hash = None
        if "id_number" in fields:
            self.columns.append("id_number_digest")
            self.id_number_hash = crypto.keyed_hasher(ID_NUMBER_DIGEST_PURPOSE)
            self.id_number_blank = _blank_value(Member._meta.get_field("id_number_digest"))

    def __call__(self, row: importing.PlannedRow) -> tuple:
        get = row.values.get
        prepared = [
            blank if (value := get(name)) is None else seal(value) if seal is not None else value
            for name, seal, blank in self.steps
        ]
        prepared.append(row.mobile_digest)
        if self.id_number_hash is not None:
            id_number = get("id_number")
            prepared.append(self.id_number_blank if id_number is None else self.id_number_hash(id_number))
        return tuple(prepared)

    def values(self, prepared: tuple) -> dict[str, str]:
        """The cleaned values back from prepared ones (for the row-by-row re-check)."""
        values = {}
        for (name, _seal, blank), value in zip(self.steps, prepared, strict=False):
            if value != blank:
                values[name] = crypto.decrypt(value, self.purposes[name]) if name in self.purposes else value
        return values


_JSON_NUMBERS = frozenset({int, bool})


def _sql_literal(value) -> str:
    """A constant of an INSERT as SQL text (never a value from the file)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


class RosterWriter:
    """Set-based roster writes: ids allocated up front, then ``COPY FROM STDIN`` on
    PostgreSQL or one ``executemany`` on SQLite (in the caller's transaction). New
    entries arrive with their values prepared (``CreatePreparer``); the columns every
    new entry shares (organization, status, creation time, blank fields) are written
    as constants (SQL literals on SQLite: fewer parameters to bind per row)."""

    def __init__(self, organization_id: int):
        self.organization_id = organization_id
        self.now = timezone.now()
        self.fields = list(Member._meta.concrete_fields)
        self.template = {field.attname: self._default(field) for field in self.fields}
        self.prepare = {field.attname: self._preparer(field) for field in self.fields}
        self.postgres = connection.vendor == "postgresql"
        self.mobile_hash = crypto.keyed_hasher(MOBILE_DIGEST_PURPOSE)
        self.id_number_hash = crypto.keyed_hasher(ID_NUMBER_DIGEST_PURPOSE)
        self.constants: dict[str, dict[str, object]] = {}  # table -> column -> value of every inserted row

    def _default(self, field):
        if field.attname == "organization_id":
            return self.organization_id
        if field.attname == "status":
            return MemberStatus.INVITED.value
        if field.attname == "created_at":
            return connection.ops.adapt_datetimefield_value(self.now)
        return _blank_value(field)

    @staticmethod
    def _preparer(field):
        if isinstance(field, EncryptedTextField):
            return crypto.encryptor(field.purpose)  # key and associated data bound once
        if field.get_internal_type() == "DateField":
            adapt = connection.ops.adapt_datefield_value  # bound once: no connection lookup per row
            return lambda value: adapt(date.fromisoformat(value))
        return None

    def _values(self, values: dict[str, str], mobile_digest: str = "") -> dict[str, object]:
        """Column values for the filled fields, with the lookup digests (ORG-10)."""
        prepared: dict[str, object] = {}
        for name, value in values.items():
            prepare = self.prepare[name]
            prepared[name] = prepare(value) if prepare is not None else value
        if "mobile" in values:
            prepared["mobile_digest"] = mobile_digest or self.mobile_hash(values["mobile"])
        if "id_number" in values:
            prepared["id_number_digest"] = self.id_number_hash(values["id_number"])
        return prepared

    def _allocate_ids(self, count: int) -> list[int]:
        with connection.cursor() as cursor:
            if self.postgres:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [Member._meta.db_table, count],
                )
                return [row[0] for row in cursor.fetchall()]
            # SQLite: the transaction is IMMEDIATE (settings), so nobody else inserts.
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {Member._meta.db_table}")
            (last,) = cursor.fetchone()
            return list(range(last + 1, last + 1 + count))

    def _bulk(self, table: str, columns: list[str], rows: list) -> None:
        if not rows:
            return
        quote = connection.ops.quote_name
        constants = self.constants.get(table, {})
        column_sql = ", ".join(quote(column) for column in [*columns, *constants])
        with connection.cursor() as cursor:
            if self.postgres:
                extra = tuple(constants.values())
                with cursor.copy(f"COPY {quote(table)} ({column_sql}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row + extra if extra else row)
            elif not constants and all(type(value) in _JSON_NUMBERS for row in rows for value in row):
                # Rows of numbers only (placements): one JSON array read by SQLite's
                # json_each, in C, rather than binding every row (a third faster).
                items = ", ".join(f"json_extract(value, '$[{index}]')" for index in range(len(columns)))
                cursor.execute(
                    f"INSERT INTO {quote(table)} ({column_sql}) SELECT {items} FROM json_each(%s)",
                    [json.dumps(rows, separators=(",", ":"))],
                )
            else:
                values = ["%s"] * len(columns) + [_sql_literal(value) for value in constants.values()]
                cursor.executemany(f"INSERT INTO {quote(table)} ({column_sql}) VALUES ({', '.join(values)})", rows)

    def insert(self, columns: list[str], prepared: list[tuple], departments: list[int | None]) -> None:
        """New entries (status invited) with their primary placement: ``prepared`` the
        values of ``columns`` (member field attnames) per entry, ``departments`` where
        each goes."""
        if not prepared:
            return
        ids = self._allocate_ids(len(prepared))
        table = Member._meta.db_table
        names = ["id", *columns]
        attnames = {field.attname: field.column for field in self.fields}
        self.constants[table] = {attnames[name]: value for name, value in self.template.items() if name not in names}
        members = [(pk, *values) for pk, values in zip(ids, prepared, strict=True)]
        self._bulk(table, [attnames[name] for name in names], members)
        placements = [(pk, department_id, True) for pk, department_id in zip(ids, departments, strict=True)]
        self._bulk(MemberDepartment._meta.db_table, ["member_id", "department_id", "is_primary"], placements)

    def update(self, rows: list[importing.PlannedRow], existing: dict[int, importing.ExistingMember]) -> None:
        """Updates of existing entries: blank cells keep the stored value; one
        ``executemany`` per set of filled columns; the mobile (the match) is unchanged."""
        if not rows:
            return
        quote = connection.ops.quote_name
        groups: dict[tuple[str, ...], list[tuple]] = {}
        moves: list[tuple] = []
        new_placements: list[tuple] = []
        for row in rows:
            values = self._values({name: value for name, value in row.values.items() if name != "mobile"})
            columns = tuple(sorted(values))
            groups.setdefault(columns, []).append((*(values[column] for column in columns), row.member_id))
            if row.department_id is not None:
                if existing[row.member_id].has_primary:
                    moves.append((row.department_id, row.member_id, True))
                else:
                    new_placements.append((row.member_id, row.department_id, True))
        table = quote(Member._meta.db_table)
        with connection.cursor() as cursor:
            for columns, params in groups.items():
                if not columns:
                    continue
                assignments = ", ".join(f"{quote(Member._meta.get_field(name).column)} = %s" for name in columns)
                cursor.executemany(
                    f"UPDATE {table} SET {assignments} WHERE id = %s AND organization_id = {int(self.organization_id)}",
                    params,
                )
            if moves:
                cursor.executemany(
                    f"UPDATE {quote(MemberDepartment._meta.db_table)} SET department_id = %s "
                    "WHERE member_id = %s AND is_primary = %s",
                    moves,
                )
        self._bulk(MemberDepartment._meta.db_table, ["member_id", "department_id", "is_primary"], new_placements)


# --------------------------------------------------------------------------- report and template


def read_report(job: RosterImport) -> bytes:
    return read_decrypted(job.report_ref, REPORT_PURPOSE)


def template_csv(access: OrgAccess) -> bytes:
    """A header-only CSV with the organization's collected fields (labels in the
    current language; the import also accepts field names and the other language).
    Header only: a CSV cannot hold notes the import would skip, so the example row and
    the allowed values are in the Excel template's guide sheet and on the upload page."""
    columns = importing.template_columns(collected_fields(access.organization))
    buffer = io.StringIO()
    csv.writer(buffer).writerow([capfirst(importing.field_label(name)) for name in columns])
    return (BOM + buffer.getvalue()).encode("utf-8")


# How many department paths a guide lists (the rest: "… and N more").
GUIDE_DEPARTMENTS = 30
# Example values of the template's guide; choice columns take their first label.
EXAMPLES = {
    "name": gettext_lazy("Zhang San"),
    "mobile": "13900001111",
    "employee_number": "E-0001",
    "position": gettext_lazy("Account manager"),
    "grade": "P5",
    "office_email": "zhang.san@example.com",
    "personal_email": "zhangsan@example.net",
    "office_phone": "0571-8888 0000",
    "fixed_phone": "0571-8888 0001",
    "id_number": "11010519491231002X",
    "bank_card": "6222021234567890128",
    "hired_on": "2024-03-01",
    "birthday": "1990-05-17",
    "emergency_contact_phone": "13900002222",
}


def _column_rule(name: str, departments: list[str]) -> tuple[bool, str]:
    """(required, allowed values) of one template column, in the current language."""
    if name == importing.DEPARTMENT:
        shown = departments[:GUIDE_DEPARTMENTS]
        rule = _(
            "A department path below the root, names joined by “/”, or a name no other department has. "
            "Blank: the root department. This organization's departments: %(paths)s"
        ) % {"paths": "; ".join(shown) or "—"}
        if len(departments) > len(shown):
            rule += " " + _("… and %(count)s more.") % {"count": len(departments) - len(shown)}
        return False, rule
    if name == "name":
        return True, _("Text, up to 100 characters.")
    if name == "mobile":
        return True, _(
            "A mainland China mobile number (11 digits, +86 optional). An existing number updates that member."
        )
    if name in importing.CHOICE_FIELDS:
        labels = ", ".join(str(label) for _value, label in importing.CHOICE_FIELDS[name].choices)
        return False, _("One of: %(labels)s") % {"labels": labels}
    if name in ("hired_on", importing.AGE_FIELD):
        return False, _("A date written YYYY-MM-DD.")
    if name in importing.EMAIL_FIELDS:
        return False, _("An email address.")
    if name == "id_number":
        return False, _("An 18-character resident ID card number with a correct check digit.")
    if name == "bank_card":
        return False, _("12 to 19 digits with a correct check digit.")
    if name in ("office_phone", "fixed_phone", "emergency_contact_phone"):
        return False, _("A phone number: digits, spaces, +, - and brackets.")
    limit = importing.TEXT_LIMITS.get(name) or Member._meta.get_field(name).max_length
    return False, _("Text, up to %(limit)s characters.") % {"limit": limit} if limit else _("Text.")


def _department_example(departments: list[str]) -> str:
    return next((path for path in departments if "/" in path), departments[0] if departments else "")


def template_guide(access: OrgAccess) -> list[dict]:
    """One row per column of the organization's template: field, label (as the header
    says it), whether it is required, the allowed values and an example. Shown on the
    upload page and written to the Excel template's guide sheet. Two queries: the
    collection settings and the department paths."""
    columns = importing.template_columns(collected_fields(access.organization))
    departments = _department_path_list(access)
    guide = []
    for name in columns:
        required, rule = _column_rule(name, departments)
        if name == importing.DEPARTMENT:
            example = _department_example(departments)
        elif name in importing.CHOICE_FIELDS:
            example = str(importing.CHOICE_FIELDS[name].choices[0][1])
        else:
            example = str(EXAMPLES.get(name, ""))
        guide.append(
            {
                "field": name,
                "label": capfirst(importing.field_label(name)),
                "required": required,
                "rule": rule,
                "example": example,
            }
        )
    return guide


def _department_path_list(access: OrgAccess) -> list[str]:
    """The departments below the root as the import reads them ("Sales/Sales East"),
    in tree order (one query)."""
    names: dict[int, list[str]] = {}
    paths = []
    for pk, parent_id, name in (
        Department.objects.filter(organization=access.organization)
        .order_by("path")
        .values_list("pk", "parent_id", "name")
    ):
        names[pk] = [] if parent_id is None else [*names.get(parent_id, []), name]
        if parent_id is not None:
            paths.append("/".join(names[pk]))
    return paths


def template_xlsx(access: OrgAccess) -> bytes:
    """The Excel template (ORG-7): the first sheet -- the one the import reads -- holds
    the header row only, with drop-down lists for the department and the choice
    columns; a second sheet is the guide (required or not, allowed values, an example
    row); a third lists the departments the drop-down offers."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    guide = template_guide(access)
    departments = _department_path_list(access)
    workbook = Workbook()
    roster = workbook.active
    roster.title = _("Roster")
    bold = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="E3F0EC")
    for index, column in enumerate(guide, start=1):
        cell = roster.cell(row=1, column=index, value=column["label"])
        cell.font, cell.fill = bold, header_fill
        roster.column_dimensions[get_column_letter(index)].width = max(14, len(column["label"]) * 2 + 4)
    roster.freeze_panes = "A2"

    lists = workbook.create_sheet(_("Departments"))
    lists.cell(row=1, column=1, value=capfirst(importing.field_label(importing.DEPARTMENT))).font = bold
    for row, path in enumerate(departments, start=2):
        lists.cell(row=row, column=1, value=path)
    lists.column_dimensions["A"].width = 48
    for index, column in enumerate(guide, start=1):
        letter = get_column_letter(index)
        formula = None
        if column["field"] == importing.DEPARTMENT and departments:
            formula = f"'{lists.title}'!$A$2:$A${len(departments) + 1}"
        elif column["field"] in importing.CHOICE_FIELDS:
            labels = [str(label) for _value, label in importing.CHOICE_FIELDS[column["field"]].choices]
            formula = '"' + ",".join(labels) + '"'
        if formula:
            validation = DataValidation(type="list", formula1=formula, allow_blank=True)
            validation.error = _("Choose a value from the list (see the guide sheet).")
            roster.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}{importing.MAX_ROWS + 1}")

    sheet = workbook.create_sheet(_("Guide"), 1)
    sheet.append([_("This sheet explains the columns; the import reads the first sheet only.")])
    sheet.append([])
    sheet.append([_("Column"), _("Required"), _("Allowed values"), _("Example")])
    for cell in sheet[3]:
        cell.font, cell.fill = bold, header_fill
    for column in guide:
        sheet.append([column["label"], _("Yes") if column["required"] else _("No"), column["rule"], column["example"]])
    sheet.append([])
    sheet.append([_("An example row, as it would be typed on the first sheet:")])
    sheet.append([column["label"] for column in guide])
    sheet.append([column["example"] for column in guide])
    for row in sheet.iter_rows(min_row=4):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for letter, width in zip("ABCD", (22, 10, 70, 28), strict=True):
        sheet.column_dimensions[letter].width = width

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- export


def export_columns(collected: frozenset[str]) -> list[str]:
    """Collected fields only (ORG-5): name, mobile, department, then the catalog."""
    return importing.template_columns(collected)


def export_roster(access: OrgAccess, ip: str | None = None) -> tuple[int, Iterator[str]]:
    """ORG-7: the roster the administrator may view as CSV text chunks, collected fields
    only; sensitive values in clear only with ``view_sensitive`` on the whole
    organization, otherwise masked (ORG-10); children's entries never (SEC-3). Audited
    before the first byte (``roster.exported``: row count, fields and how many children
    were left out)."""
    collected = collected_fields(access.organization)
    columns = export_columns(collected)
    member_fields = [name for name in columns if name != importing.DEPARTMENT]
    clear = access.has_whole(Right.VIEW_SENSITIVE)
    # SEC-3: no bulk download of children's data, whatever rights the administrator holds.
    members = access.members(Right.VIEW_ROSTER, children=False)
    count = members.count()
    children_left_out = access.children_in_scope(Right.VIEW_ROSTER).count()
    record_event(
        "roster.exported",
        actor=access.user,
        organization=access.organization,
        ip=ip,
        changes=member_fields,
        metadata={
            "rows": count,
            "fields": columns,
            "sensitive_in_clear": clear,
            "children_left_out": children_left_out,
        },
    )
    return count, roster_csv(access, members, columns, clear=clear)


def roster_csv(access: OrgAccess, members, columns: list[str], *, clear: bool) -> Iterator[str]:
    """The CSV text chunks of ``members`` (already filtered by the gate) in ``columns``,
    ordered by name; sensitive values masked unless ``clear``. The caller audits."""
    member_fields = [name for name in columns if name != importing.DEPARTMENT]
    departments = _department_paths(access)
    primary = MemberDepartment.objects.filter(member=OuterRef("pk"), is_primary=True).order_by("pk")
    queryset = (
        members.annotate(primary_department_id=Subquery(primary.values("department_id")[:1]))
        .order_by("name", "pk")
        .values_list("primary_department_id", *member_fields)
    )
    sensitive = {index for index, name in enumerate(member_fields) if name in SENSITIVE_FIELDS}
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow([importing.field_label(name) for name in columns])
    department_index = columns.index(importing.DEPARTMENT)
    for number, (department_id, *values) in enumerate(queryset.iterator(chunk_size=EXPORT_CHUNK), start=1):
        cells = []
        for index, value in enumerate(values):
            text = _export_text(value)
            if index in sensitive and not clear:
                text = importing.mask_value(member_fields[index], text)
            cells.append(importing.spreadsheet_safe(text))
        cells.insert(department_index, importing.spreadsheet_safe(departments.get(department_id, "")))
        writer.writerow(cells)
        if number % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _export_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _department_paths(access: OrgAccess) -> dict[int, str]:
    """Department id -> its path below the root ("Sales/Sales East"), as the import reads it."""
    names: dict[int, list[str]] = {}
    paths: dict[int, str] = {}
    for pk, parent_id, name in (
        Department.objects.filter(organization=access.organization)
        .order_by("path")
        .values_list("pk", "parent_id", "name")
    ):
        names[pk] = [] if parent_id is None else [*names.get(parent_id, []), name]
        paths[pk] = "/".join(names[pk]) if names[pk] else name
    return paths
