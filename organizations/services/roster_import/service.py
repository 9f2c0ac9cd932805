"""The roster import service (ORG-5, ORG-6, ORG-7, ORG-10): the steps of an import and
the task bodies that run them.

The life of an import (``RosterImport.status``):

1. ``start_import`` (the upload page): the file is stored encrypted in private storage,
   the administrator's consent attestation is recorded (ORG-6), the job row is created
   in ``validating`` and its check (``organizations.tasks.validate_roster_import``) is
   queued once the transaction commits.
2. ``check_import`` (that task): every row is checked (``file_checks``, ``checks``: pure code)
   against a snapshot of the roster read in a constant number of queries. The full
   error report is written as CSV to private storage (``report_ref``), the first errors
   are kept on the row, and the checked rows are written as a normalized intermediate
   -- encrypted -- that replaces the uploaded file (``file_ref`` then points at it; the
   original is deleted). Nothing touches the roster. -> ``validated``.
3. ``decide`` (the detail page): "all rows" (only when no row has an error), "only the
   valid rows", or discard. A compare-and-set moves ``validated`` -> ``importing`` and
   queues ``run_roster_import``.
4. ``run_import`` (that task): in ONE transaction, the checks against the roster and the
   uploader's rights are run again on a fresh snapshot (the roster may have changed
   since the check: any conflict fails the import and writes nothing), then the rows
   are written set-based (``writing``) with one ``roster.imported`` audit event and the
   status ``completed`` in the same transaction. A failure anywhere rolls back
   everything.

The tasks claim the job row (``jobs``): a redelivered message finds nothing to do, a
worker killed mid-check or mid-write is taken over within seconds (the write is one
transaction: nothing of it is left), and a job that failed three times is ``failed``
with the last error. A lost database is waited out inside the task and costs no attempt.
"""

from __future__ import annotations

import gc
import logging
import marshal
from collections.abc import Callable
from contextlib import contextmanager

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from dataprotection import liveness
from dataprotection.audit import record_event
from dataprotection.files import delete_stored, read_decrypted, store_encrypted
from organizations.models import (
    AttestationKind,
    ImportMode,
    ImportStatus,
    Right,
    RosterImport,
    UploadAttestation,
)
from organizations.models.children import AGE_FIELD, CHILD_BASIC_FIELDS
from organizations.permissions import OrgAccess, org_access
from organizations.services.collection import collected_fields, fillable_fields
from organizations.services.demo_data.loading import bulk_load_tuning  # SQLite page cache
from organizations.services.roster_import import file_checks, queue
from organizations.services.roster_import.checks import PlannedRow, RowChecker, RowError
from organizations.services.roster_import.columns import DEPARTMENT, GUARDED_FIELDS, field_label
from organizations.services.roster_import.file_checks import PartResult
from organizations.services.roster_import.files import ImportFileError
from organizations.services.roster_import.jobs import (
    FILE_PURPOSE,
    MAX_ATTEMPTS,
    PART_PURPOSE,
    PLAN_PURPOSE,
    REPORT_PURPOSE,
    ClaimLost,
    ImportConflict,
    beating,
    claim,
    delete_parts,
    delete_ref,
    fail,
    take_part_refs,
)
from organizations.services.roster_import.snapshot import build_snapshot
from organizations.services.roster_import.storage import (
    PLAN_VERSION,
    dump_part,
    load_part,
    load_plan,
    prepare_part,
    write_report,
)
from organizations.services.roster_import.writing import CreatePreparer, RosterWriter

logger = logging.getLogger(__name__)


PREVIEW_ERRORS = 100  # errors kept on the job row for the page; the report has them all


# Rows (blank ones included) per part of a CSV file checked by parallel tasks; a file
# of at most this many rows, and any XLSX file, is checked by one task in one go.
# Measured on 2 worker processes at 100k rows: two parts of 50k beat four of 25k
# (each part reads and decrypts the whole file; fewer results to merge).
CHECK_PART_ROWS = 50_000


@transaction.atomic
def start_import(
    access: OrgAccess,
    *,
    file_name: str,
    file_format: str,
    content: bytes,
    attestation_text: str,
    ip: str | None = None,
) -> RosterImport:
    """ORG-6, ORG-7: record the attestation and the job, store the file encrypted and
    queue the check. Nothing of the file is read here (SEC-1: this runs in the web
    request): the check fills in the columns the header names -- on the attestation
    record too -- or fails the job with what is wrong with the file."""
    access.require(Right.EDIT_ROSTER)
    file_ref = store_encrypted(content, FILE_PURPOSE)
    try:
        attestation = UploadAttestation.objects.create(
            organization=access.organization,
            attested_by=access.user,
            kind=AttestationKind.IMPORT,
            text=attestation_text,
            fields=[],  # the columns, once the worker has read the header
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
            metadata={"file_format": file_format, "bytes": len(content), "attestation": attestation.pk},
        )
    except BaseException:
        delete_stored(file_ref)
        raise
    queue.steps().validate.delay_on_commit(job.pk, language=translation.get_language())
    return job


def _uploader_access(job: RosterImport) -> OrgAccess:
    """The uploader's rights now: the file is checked and written with them."""
    try:
        access = org_access(job.uploaded_by, job.organization_id)
        access.require(Right.EDIT_ROSTER)
    except (Http404, PermissionDenied):
        raise ImportConflict(_("The person who uploaded the file may no longer edit the roster.")) from None
    return access


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


def _file_failed(job: RosterImport, error: ImportFileError, token: str | None = None) -> str:
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
        delete_ref(job.report_ref)
        delete_ref(job.file_ref)
        delete_parts(job.pk)
    else:
        delete_stored(report_ref)
    return "failed"


def check_import(import_id: int, token: str | None = None) -> str:
    """Task body of ``validate_roster_import``: check every row, write nothing to the
    roster. Unexpected errors propagate (the task retries up to the attempt cap).

    A CSV file of more than ``CHECK_PART_ROWS`` rows is split into parts
    (``file_checks.split_file``) checked by ``check_roster_import_part`` tasks that run at
    the same time on the workers; the task finishing the last part queues
    ``finish_roster_check``, which finds the duplicates within the file over all the
    parts and writes the report and the checked rows. Anything smaller is checked here
    in one go, the same way with a single part."""
    token = token or liveness.worker_token()
    job = claim(import_id, ImportStatus.VALIDATING, token, parts_total=0)
    if job is None:
        return "nothing to do"
    with beating(import_id, token):
        return _check_whole(job, token)


def _check_whole(job: RosterImport, token: str) -> str:
    try:
        access = _uploader_access(job)
    except ImportConflict as exc:
        fail(job, ImportStatus.VALIDATING, str(exc), token)
        return "failed"
    data = read_decrypted(job.file_ref, FILE_PURPOSE)
    collected = collected_fields(access.organization)
    with _gc_paused():
        try:
            split = file_checks.split_file(data, job.file_format, collected, CHECK_PART_ROWS)
            if len(split.spans) == 1:
                snapshot = build_snapshot(access, collected)
                liveness.checkpoint("roster_import.check")
                part = file_checks.check_part(
                    data, job.file_format, snapshot, split.header, split.spans[0], _progress(job.pk)
                )
                return _finish_check(job, [(part, prepare_part(part))], token)
        except ImportFileError as exc:
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
            for index in range(len(split.spans)):
                queue.steps().check_part.delay_on_commit(job.pk, index, language=translation.get_language())
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
            transaction.on_commit(lambda: delete_parts(import_id))
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
        fail(job, ImportStatus.VALIDATING, str(exc))
        return "failed"
    data = read_decrypted(job.file_ref, FILE_PURPOSE)
    snapshot = build_snapshot(access)
    with _gc_paused():
        try:
            span = tuple(job.parts["spans"][index])
            liveness.checkpoint("roster_import.check")
            part = file_checks.check_part(data, job.file_format, snapshot, job.parts["header"], span, _progress(job.pk))
        except ImportFileError as exc:  # e.g. a column no longer collected
            return _file_failed(job, exc)
        blob = dump_part(part, prepare_part(part))
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
                queue.steps().finish_check.delay_on_commit(job.pk, language=translation.get_language())
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
    with beating(import_id, token), _gc_paused():
        refs = [job.parts["refs"][str(index)] for index in range(job.parts_total)]
        parts = [load_part(read_decrypted(ref, PART_PURPOSE)) for ref in refs]
        try:
            return _finish_check(job, parts, token)
        except ImportFileError as exc:
            return _file_failed(job, exc, token)


def _finish_check(job: RosterImport, parts: list[tuple[PartResult, bytes]], token: str) -> str:
    """Merge the parts (``file_checks.merge_parts``), store the report and the plan --
    the prepared rows of every part, in order, and the rows dropped as duplicates --
    and move the job to ``validated`` (only while the claim ``token`` holds)."""
    merged = file_checks.merge_parts([part for part, _rows in parts])
    first = parts[0][0]
    errors = [error.as_dict() for error in merged.errors]
    header = [*first.fields, *([DEPARTMENT] if first.has_department else [])]
    labels = [field_label(name) for name in header]
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
            error_preview=errors[:PREVIEW_ERRORS],
            attempts=0,
            last_error="",
            validated_at=timezone.now(),
        )
        if updated and job.attestation_id:
            UploadAttestation.objects.filter(pk=job.attestation_id).update(rows=merged.total_rows, fields=header)
        # In the same transaction: whoever sees the job validated never sees parts left.
        part_refs = take_part_refs(job.pk) if updated and job.parts_total else []
    if not updated:  # discarded, failed or taken over meanwhile
        delete_stored(plan_ref)
        delete_stored(report_ref)
        return "nothing to do"
    delete_ref(job.file_ref)  # the original upload: the plan replaces it
    delete_ref(job.report_ref)  # a previous attempt's report, if any
    for ref in part_refs:
        delete_stored(ref)
    return "validated"


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
            transaction.on_commit(lambda: delete_ref(ref))
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
        queue.steps().run.delay_on_commit(job.pk, language=translation.get_language())
    return bool(updated)


def run_import(import_id: int, token: str | None = None) -> str:
    """Task body of ``run_roster_import``: all or nothing, in one transaction, which
    commits only while this worker's claim holds (a worker that lost it -- its heartbeat
    went stale and another took over -- writes nothing)."""
    token = token or liveness.worker_token()
    job = claim(import_id, ImportStatus.IMPORTING, token)
    if job is None:
        return "nothing to do"
    with beating(import_id, token):
        return _write(job, token)


def _write(job: RosterImport, token: str) -> str:
    status = ImportStatus.IMPORTING
    blob = read_decrypted(job.file_ref, PLAN_PURPOSE)
    try:
        with _gc_paused(), transaction.atomic(), bulk_load_tuning():
            counts = _apply_plan(job, load_plan(blob))
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
            transaction.on_commit(lambda: delete_ref(ref))
    except ClaimLost:
        return "nothing to do"
    except ImportConflict as exc:
        fail(job, status, str(exc), token)
        return "failed"
    return "completed"


def _apply_plan(job: RosterImport, plan: dict) -> dict[str, int]:
    access = _uploader_access(job)
    collected = collected_fields(access.organization)
    fields: list[str] = plan["fields"]
    dropped = [name for name in fields if name not in collected and name != AGE_FIELD]
    if dropped:
        raise ImportConflict(
            _("The organization stopped collecting %(fields)s since the file was checked; upload it again.")
            % {"fields": ", ".join(f"“{field_label(name)}”" for name in dropped)}
        )
    snapshot = build_snapshot(access, collected)
    checker = RowChecker(snapshot, plan["header"], plan["labels"])
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
        return PlannedRow(row, member_id, department_id, filled, digest)

    # The checks of ``resolve`` on the fresh snapshot: set-wise for the new entries,
    # from the digests and values they will be written with; row by row for the
    # updates (and for every row when a new entry is no longer fine, so that the
    # first error is reported).
    column = preparer.columns.index
    digest = column("mobile_digest")
    number = column("employee_number") if "employee_number" in fields else None
    guarded = [index for index, name in enumerate(fields) if name in GUARDED_FIELDS]
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
            PlannedRow(row, None, department, preparer.values(values), values[digest])
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


def _new_child_conflict(checker, fields: list[str], rows: list[int], prepared: list[tuple]) -> RowError | None:
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
