"""Roster upsert for integrations (ORG-6, ORG-7, ORG-10): the file import's row
checks and set-based writer, run synchronously on rows sent as JSON.

Same rules as the file import (``checks``, ``writing``): a row is matched to an existing roster entry
by its mobile number (the import's key, through the keyed-hash digest); every row is
checked -- cells, duplicates within the request, employee numbers, departments, the
caller's ``edit_roster``/``view_sensitive`` where the row writes -- before anything is
written; then, in ONE transaction with the attestation record and one audit event,
either every row (``all_or_nothing``: nothing at all when any row has an error) or
only the valid ones (``valid_only``) are written by ``RosterWriter``.

This is the API's counterpart of ``start_import``/``run_import``, which work on a stored
file through Celery.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from dataprotection.audit import record_event
from organizations.models import AttestationKind, Member, Organization, Right, UploadAttestation
from organizations.permissions import OrgAccess
from organizations.services.collection import ALWAYS_COLLECTED, collected_fields
from organizations.services.roster_import.checks import PlannedRow, RowChecker, RowError
from organizations.services.roster_import.columns import DEPARTMENT, IMPORTABLE_FIELDS, field_label
from organizations.services.roster_import.snapshot import RosterSnapshot, build_snapshot
from organizations.services.roster_import.writing import CreatePreparer, RosterWriter

ALL_OR_NOTHING = "all_or_nothing"


VALID_ONLY = "valid_only"


DEPARTMENT_ID = "#"  # a department given by id rather than by path: "#42"


COLUMNS = (*IMPORTABLE_FIELDS, DEPARTMENT)


@dataclass
class _Snapshot(RosterSnapshot):
    """The import's snapshot, also resolving departments given by id."""

    def department(self, text: str):
        if text.startswith(DEPARTMENT_ID):
            number = text[len(DEPARTMENT_ID) :]
            return self.by_pk.get(int(number)) if number.isdigit() and len(number) < 19 else None
        return super().department(text)


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    written: bool = False
    errors: list[dict] = field(default_factory=list)
    created_ids: list[int] = field(default_factory=list)

    def report(self) -> dict:
        return {"created": self.created, "updated": self.updated, "errors": self.errors}


def check_columns(names: set[str], collected: frozenset[str]) -> None:
    """A 400 naming every key no row may carry: unknown ones, and fields the organization
    does not collect (ORG-5)."""
    unknown = sorted(names - set(COLUMNS))
    if unknown:
        raise ValidationError(
            {name: _("This field is not accepted here.") for name in unknown},
            code="unknown",
        )
    refuse_not_collected(names, collected, exempt=(DEPARTMENT,))


def refuse_not_collected(
    names: Iterable[str],
    collected: frozenset[str],
    *,
    exempt: Iterable[str] = (),
    label: Callable[[str], str] = field_label,
) -> None:
    """ORG-5: a field the organization does not collect cannot be written: a 400 naming
    each one (``exempt``: keys that are not collected fields, e.g. the department)."""
    not_collected = sorted(set(names) - collected - set(exempt))
    if not_collected:
        raise ValidationError(
            {
                name: _(
                    "The organization does not collect “%(field)s”; turn it on in the data collection settings first."
                )
                % {"field": label(name)}
                for name in not_collected
            },
            code="not_collected",
        )


def _cells(index: int, row: dict, header: list[str]) -> tuple[list[str], list[dict]]:
    """The row as the import's cells (text), or the type errors of its values."""
    cells: list[str] = []
    errors: list[dict] = []
    for name in header:
        value = row.get(name)
        if value is None:
            cells.append("")
        elif isinstance(value, str):
            cells.append(value)
        elif name == DEPARTMENT and isinstance(value, int) and not isinstance(value, bool):
            cells.append(f"{DEPARTMENT_ID}{value}")
        else:
            message = (
                _("Send the department's path as text or its id as a number.")
                if name == DEPARTMENT
                else _("Send this value as text.")
            )
            errors.append({"row": index, "column": name, "message": message})
    return cells, errors


@transaction.atomic
def upsert_members(
    access: OrgAccess,
    rows: list[dict],
    *,
    mode: str,
    attestation_text: str = "",
    attestation_kind: str = AttestationKind.API,
    create_only: bool = False,
    ip: str | None = None,
) -> UpsertResult:
    """Check ``rows`` (dicts of field name -> text) and write them as the import does.
    ``attestation_text``: the ORG-6 confirmation, recorded with the write ("" only for a
    single manual entry that fills basic fields). ``create_only``: a row whose mobile
    number is already on the roster is an error instead of an update."""
    access.require(Right.EDIT_ROSTER)
    organization = access.organization
    # Serialize roster upserts of one organization: the checks read the whole roster.
    Organization.objects.select_for_update().filter(pk=organization.pk).values_list("pk", flat=True).first()
    collected = collected_fields(organization)
    present = {name for row in rows for name in row}
    check_columns(present, collected)
    header = [*ALWAYS_COLLECTED, *(name for name in COLUMNS if name in present)]
    header = list(dict.fromkeys(header))
    base = build_snapshot(access, collected)
    snapshot = _Snapshot(
        collected=base.collected,
        departments=base.departments,
        members_by_digest=base.members_by_digest,
        employee_numbers=base.employee_numbers,
        covers=base.covers,
    )
    checker = RowChecker(snapshot, header, header)
    result = UpsertResult()
    planned_rows: list[PlannedRow] = []
    for index, row in enumerate(rows):
        cells, type_errors = _cells(index, row, header)
        if type_errors:
            result.errors += type_errors
            continue
        planned, errors = checker.check(index, cells)
        if planned is not None and create_only and planned.member_id is not None:
            errors = [RowError(index, "mobile", "", _("A member with this mobile number is already on the roster."))]
            planned = None
        result.errors += [{"row": e.row, "column": e.column, "message": e.message} for e in errors]
        if planned is not None:
            planned_rows.append(planned)
    if (result.errors and mode == ALL_OR_NOTHING) or not planned_rows:
        return result

    fields = checker.fields
    attestation = None
    if attestation_text:
        attestation = UploadAttestation.objects.create(
            organization=organization,
            attested_by=access.user,
            kind=attestation_kind,
            text=attestation_text,
            fields=fields,
            rows=len(planned_rows),
        )
    creates = [row for row in planned_rows if row.member_id is None]
    updates = [row for row in planned_rows if row.member_id is not None]
    preparer = CreatePreparer(fields)
    writer = RosterWriter(organization.pk)
    writer.insert(preparer.columns, [preparer(row) for row in creates], [row.department_id for row in creates])
    writer.update(updates, {member.pk: member for member in snapshot.members_by_digest.values()})
    if creates:
        by_digest = dict(
            Member.objects.filter(
                organization=organization, mobile_digest__in=[row.mobile_digest for row in creates]
            ).values_list("mobile_digest", "pk")
        )
        result.created_ids = [by_digest[row.mobile_digest] for row in creates]
    result.created, result.updated, result.written = len(creates), len(updates), True
    record_event(
        "roster.upserted",
        actor=access.user,
        organization=organization,
        ip=ip,
        changes=fields,
        metadata={
            "created": len(creates),
            "updated": len(updates),
            "rows": len(rows),
            "skipped_rows": len(rows) - len(planned_rows),
            "mode": mode,
            "fields": fields,
            "attestation": attestation.pk if attestation else None,
            "source": "api",
        },
    )
    return result
