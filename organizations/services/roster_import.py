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

Both tasks claim the job row by compare-and-set on its status and count their attempts
in it: a redelivered message finds nothing to do, and a job that failed three times is
``failed`` with the last error.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from dataprotection import crypto
from dataprotection.audit import record_event
from dataprotection.fields import EncryptedTextField
from dataprotection.files import delete_stored, read_decrypted, store_encrypted
from organizations import importing
from organizations.collection import SENSITIVE_FIELDS, collected_fields, fillable_fields
from organizations.lookups import ID_NUMBER_DIGEST_PURPOSE, MOBILE_DIGEST_PURPOSE
from organizations.models import (
    AttestationKind,
    Department,
    ImportMode,
    ImportStatus,
    Member,
    MemberDepartment,
    MemberStatus,
    Right,
    RosterImport,
    UploadAttestation,
)
from organizations.permissions import OrgAccess, org_access
from organizations.services.demo_data import _bulk_load_tuning as bulk_load_tuning  # SQLite page cache

logger = logging.getLogger(__name__)

FILE_PURPOSE = "organizations.roster_import.file"
PLAN_PURPOSE = "organizations.roster_import.plan"
REPORT_PURPOSE = "organizations.roster_import.report"
MAX_ATTEMPTS = 3
PLAN_VERSION = 1
EXPORT_CHUNK = 2_000
BOM = "\ufeff"


class ImportConflict(Exception):
    """The roster or the uploader's rights changed since the check: nothing is written."""


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
    return importing.RosterSnapshot(
        collected=collected,
        departments=departments,
        members_by_digest=members_by_digest,
        employee_numbers=employee_numbers,
        covers=access.covers_member,
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


def claim(import_id: int, status: str) -> RosterImport | None:
    """Compare-and-set: count one more attempt on a job in ``status``; ``None`` when
    there is nothing to do (another status, or the attempts are spent -- then the job
    is marked failed)."""
    claimed = RosterImport.objects.filter(pk=import_id, status=status, attempts__lt=MAX_ATTEMPTS).update(
        attempts=F("attempts") + 1
    )
    if not claimed:
        RosterImport.objects.filter(pk=import_id, status=status, attempts__gte=MAX_ATTEMPTS).update(
            status=ImportStatus.FAILED, finished_at=timezone.now()
        )
        return None
    return RosterImport.objects.select_related("organization", "uploaded_by").get(pk=import_id)


def record_failure(import_id: int, status: str, message: str, *, final: bool) -> None:
    """Keep the last error of an attempt; the final attempt marks the job failed."""
    changes: dict = {"last_error": message[:2000]}
    if final:
        changes.update(status=ImportStatus.FAILED, finished_at=timezone.now())
    RosterImport.objects.filter(pk=import_id, status=status).update(**changes)


def _fail(job: RosterImport, status: str, message: str) -> None:
    """A failure retrying cannot fix: the job is failed and its stored file deleted."""
    changes = {"status": ImportStatus.FAILED, "last_error": message, "finished_at": timezone.now(), "file_ref": ""}
    if RosterImport.objects.filter(pk=job.pk, status=status).update(**changes):
        _delete(job.file_ref)


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


def check_import(import_id: int) -> str:
    """Task body of ``validate_roster_import``: check every row, write nothing to the
    roster. Unexpected errors propagate (the task retries up to the attempt cap)."""
    job = claim(import_id, ImportStatus.VALIDATING)
    if job is None:
        return "nothing to do"
    status = ImportStatus.VALIDATING
    try:
        access = _uploader_access(job)
    except ImportConflict as exc:
        _fail(job, status, str(exc))
        return "failed"
    data = read_decrypted(job.file_ref, FILE_PURPOSE)
    snapshot = build_snapshot(access)

    def progress(rows: int) -> None:
        RosterImport.objects.filter(pk=job.pk, status=status).update(processed_rows=rows)

    try:
        result = importing.check_file(data, job.file_format, snapshot, progress=progress)
    except importing.ImportFileError as exc:
        report_ref = store_encrypted(write_report([exc.as_dict()]), REPORT_PURPOSE)
        updated = RosterImport.objects.filter(pk=job.pk, status=status).update(
            status=ImportStatus.FAILED,
            file_ref="",
            last_error=exc.message,
            error_preview=[exc.as_dict()],
            report_ref=report_ref,
            validated_at=timezone.now(),
            finished_at=timezone.now(),
        )
        if updated:
            _delete(job.report_ref)
            _delete(job.file_ref)
        else:
            delete_stored(report_ref)
        return "failed"

    errors = [error.as_dict() for error in result.errors]
    header = [*result.fields, *([importing.DEPARTMENT] if result.has_department else [])]
    labels = [importing.field_label(name) for name in header]
    plan = {
        "version": PLAN_VERSION,
        "header": header,
        "labels": labels,
        "fields": result.fields,
        "rows": [row.dump(result.fields) for row in result.planned],
    }
    plan_ref = store_encrypted(json.dumps(plan, ensure_ascii=False, separators=(",", ":")).encode(), PLAN_PURPOSE)
    report_ref = store_encrypted(write_report(errors), REPORT_PURPOSE)
    with transaction.atomic():
        updated = RosterImport.objects.filter(pk=job.pk, status=status).update(
            status=ImportStatus.VALIDATED,
            file_ref=plan_ref,
            report_ref=report_ref,
            total_rows=result.total_rows,
            valid_rows=len(result.planned),
            error_rows=result.error_rows,
            processed_rows=result.total_rows,
            error_preview=errors[: importing.PREVIEW_ERRORS],
            attempts=0,
            last_error="",
            validated_at=timezone.now(),
        )
        if updated and job.attestation_id:
            UploadAttestation.objects.filter(pk=job.attestation_id).update(rows=result.total_rows, fields=header)
    if not updated:  # discarded or failed meanwhile
        delete_stored(plan_ref)
        delete_stored(report_ref)
        return "nothing to do"
    _delete(job.file_ref)  # the original upload: the plan replaces it
    _delete(job.report_ref)  # a previous attempt's report, if any
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
        status=ImportStatus.IMPORTING, mode=action, attempts=0, processed_rows=0
    )
    if updated:
        from organizations.tasks import run_roster_import

        run_roster_import.delay_on_commit(job.pk, language=translation.get_language())
    return bool(updated)


# --------------------------------------------------------------------------- 4. write


def run_import(import_id: int) -> str:
    """Task body of ``run_roster_import``: all or nothing, in one transaction."""
    job = claim(import_id, ImportStatus.IMPORTING)
    if job is None:
        return "nothing to do"
    status = ImportStatus.IMPORTING
    plan = json.loads(read_decrypted(job.file_ref, PLAN_PURPOSE))
    try:
        with transaction.atomic(), bulk_load_tuning():
            counts = _apply_plan(job, plan)
            RosterImport.objects.filter(pk=job.pk, status=status).update(
                status=ImportStatus.COMPLETED,
                imported_rows=counts["created"] + counts["updated"],
                processed_rows=counts["created"] + counts["updated"],
                file_ref="",
                last_error="",
                finished_at=timezone.now(),
            )
            ref = job.file_ref
            transaction.on_commit(lambda: _delete(ref))
    except ImportConflict as exc:
        _fail(job, status, str(exc))
        return "failed"
    return "completed"


def _apply_plan(job: RosterImport, plan: dict) -> dict[str, int]:
    if plan.get("version") != PLAN_VERSION:
        raise ImportConflict(_("The checked file has an unknown format; upload it again."))
    access = _uploader_access(job)
    collected = collected_fields(access.organization)
    fields: list[str] = plan["fields"]
    dropped = [name for name in fields if name not in collected]
    if dropped:
        raise ImportConflict(
            _("The organization stopped collecting %(fields)s since the file was checked; upload it again.")
            % {"fields": ", ".join(f"“{importing.field_label(name)}”" for name in dropped)}
        )
    snapshot = build_snapshot(access, collected)
    checker = importing.RowChecker(snapshot, plan["header"], plan["labels"])
    rows = [importing.PlannedRow.load(item, fields) for item in plan["rows"]]
    error = checker.first_conflict(rows)  # the checks of ``resolve``, set-wise for new entries
    if error is not None:
        raise ImportConflict(
            _("Row %(row)d, column “%(column)s”: %(message)s")
            % {"row": error.row, "column": error.column, "message": error.message}
        )
    existing = {member.pk: member for member in snapshot.members_by_digest.values()}
    creates = [row for row in rows if row.member_id is None]
    updates = [row for row in rows if row.member_id is not None]
    # ORG-6: without the consent attestation only the basic fields could be filled.
    fillable = fillable_fields(collected, None, attested=job.attestation_id is not None)
    if not set(fields) <= fillable:
        raise ImportConflict(_("The upload has no consent attestation; upload the file again."))
    writer = RosterWriter(access.organization.pk)
    writer.insert(creates)
    writer.update(updates, existing)
    record_event(
        "roster.imported",
        actor=job.uploaded_by,
        target=job,
        organization=access.organization,
        changes=fields,
        metadata={
            "created": len(creates),
            "updated": len(updates),
            "rows": job.total_rows,
            "skipped_rows": job.total_rows - len(rows),
            "mode": job.mode,
            "fields": fields,
            "attestation": job.attestation_id,
        },
    )
    return {"created": len(creates), "updated": len(updates)}


class RosterWriter:
    """Set-based roster writes with values prepared in Python: ciphertexts and digests
    computed once per value, ids allocated up front, then ``COPY FROM STDIN`` on
    PostgreSQL or one ``executemany`` on SQLite (in the caller's transaction)."""

    def __init__(self, organization_id: int):
        self.organization_id = organization_id
        self.now = timezone.now()
        self.fields = list(Member._meta.concrete_fields)
        self.columns = [field.column for field in self.fields]
        self.position = {field.attname: index for index, field in enumerate(self.fields)}
        self.template = [self._default(field) for field in self.fields]
        self.prepare = {field.attname: self._preparer(field) for field in self.fields}
        self.postgres = connection.vendor == "postgresql"
        self.mobile_hash = crypto.keyed_hasher(MOBILE_DIGEST_PURPOSE)
        self.id_number_hash = crypto.keyed_hasher(ID_NUMBER_DIGEST_PURPOSE)

    def _default(self, field):
        if field.attname == "organization_id":
            return self.organization_id
        if field.attname == "status":
            return MemberStatus.INVITED
        if field.attname == "created_at":
            return connection.ops.adapt_datetimefield_value(self.now)
        default = field.get_default()
        return default if default is not None or field.null else ""

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

    def _bulk(self, table: str, columns: list[str], rows) -> None:
        if isinstance(rows, list) and not rows:
            return
        quote = connection.ops.quote_name
        column_sql = ", ".join(quote(column) for column in columns)
        with connection.cursor() as cursor:
            if self.postgres:
                with cursor.copy(f"COPY {quote(table)} ({column_sql}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                placeholders = ", ".join(["%s"] * len(columns))
                cursor.executemany(f"INSERT INTO {quote(table)} ({column_sql}) VALUES ({placeholders})", rows)

    def insert(self, rows: list[importing.PlannedRow]) -> None:
        """New entries (status invited) with their primary placement. The member rows
        are prepared as they are sent: on PostgreSQL the encryption of one row overlaps
        with the server's work on the previous ones."""
        if not rows:
            return
        ids = self._allocate_ids(len(rows))
        template, position = self.template, self.position
        # Per field: its column index and its preparer (None: stored as is); the same
        # values ``_values`` computes, written straight into the row.
        steps = {name: (position[name], prepare) for name, prepare in self.prepare.items()}
        id_index = position["id"]
        mobile_index, mobile_hash = position["mobile_digest"], self.mobile_hash
        id_number_index, id_number_hash = position["id_number_digest"], self.id_number_hash

        def members():
            for pk, row in zip(ids, rows, strict=True):
                values = template.copy()
                values[id_index] = pk
                filled = row.values
                for name, value in filled.items():
                    index, prepare = steps[name]
                    values[index] = prepare(value) if prepare is not None else value
                if "mobile" in filled:
                    values[mobile_index] = row.mobile_digest or mobile_hash(filled["mobile"])
                if "id_number" in filled:
                    values[id_number_index] = id_number_hash(filled["id_number"])
                yield tuple(values)

        self._bulk(Member._meta.db_table, self.columns, members() if self.postgres else list(members()))
        placements = [(pk, row.department_id, True) for pk, row in zip(ids, rows, strict=True)]
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
    current language; the import also accepts field names and the other language)."""
    columns = importing.template_columns(collected_fields(access.organization))
    buffer = io.StringIO()
    csv.writer(buffer).writerow([importing.field_label(name) for name in columns])
    return (BOM + buffer.getvalue()).encode("utf-8")


# --------------------------------------------------------------------------- export


def export_columns(collected: frozenset[str]) -> list[str]:
    """Collected fields only (ORG-5): name, mobile, department, then the catalog."""
    return importing.template_columns(collected)


def export_roster(access: OrgAccess, ip: str | None = None) -> tuple[int, Iterator[str]]:
    """ORG-7: the roster the administrator may view as CSV text chunks, collected fields
    only; sensitive values in clear only with ``view_sensitive`` on the whole
    organization, otherwise masked (ORG-10). Audited before the first byte
    (``roster.exported``: row count and fields)."""
    collected = collected_fields(access.organization)
    columns = export_columns(collected)
    member_fields = [name for name in columns if name != importing.DEPARTMENT]
    clear = access.has_whole(Right.VIEW_SENSITIVE)
    members = access.members(Right.VIEW_ROSTER)
    count = members.count()
    record_event(
        "roster.exported",
        actor=access.user,
        organization=access.organization,
        ip=ip,
        changes=member_fields,
        metadata={"rows": count, "fields": columns, "sensitive_in_clear": clear},
    )
    departments = _department_paths(access)
    primary = MemberDepartment.objects.filter(member=OuterRef("pk"), is_primary=True).order_by("pk")
    queryset = (
        members.annotate(primary_department_id=Subquery(primary.values("department_id")[:1]))
        .order_by("name", "pk")
        .values_list("primary_department_id", *member_fields)
    )
    sensitive = {index for index, name in enumerate(member_fields) if name in SENSITIVE_FIELDS}

    def rows() -> Iterator[str]:
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

    return count, rows()


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
