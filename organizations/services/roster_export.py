"""The roster export (ORG-5, ORG-7, ORG-10, SEC-3): the roster an administrator may view
as CSV text chunks, collected fields only, sensitive values masked unless they may be
seen in clear, children's entries never; the columns and labels are the import's, so an
export reads back in as an import.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date

from django.db.models import OuterRef, Subquery

from dataprotection.audit import record_event
from organizations.models import Department, MemberDepartment, Right
from organizations.permissions import OrgAccess
from organizations.services.collection import SENSITIVE_FIELDS, collected_fields
from organizations.services.roster_import.columns import DEPARTMENT, field_label, mask_value, template_columns
from organizations.services.roster_import.parsing import BOM, spreadsheet_safe

EXPORT_CHUNK = 2_000


def export_columns(collected: frozenset[str]) -> list[str]:
    """Collected fields only (ORG-5): name, mobile, department, then the catalog."""
    return template_columns(collected)


def export_roster(access: OrgAccess, ip: str | None = None) -> tuple[int, Iterator[str]]:
    """ORG-7: the roster the administrator may view as CSV text chunks, collected fields
    only; sensitive values in clear only with ``view_sensitive`` on the whole
    organization, otherwise masked (ORG-10); children's entries never (SEC-3). Audited
    before the first byte (``roster.exported``: row count, fields and how many children
    were left out)."""
    collected = collected_fields(access.organization)
    columns = export_columns(collected)
    member_fields = [name for name in columns if name != DEPARTMENT]
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
    member_fields = [name for name in columns if name != DEPARTMENT]
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
    writer.writerow([field_label(name) for name in columns])
    department_index = columns.index(DEPARTMENT)
    for number, (department_id, *values) in enumerate(queryset.iterator(chunk_size=EXPORT_CHUNK), start=1):
        cells = []
        for index, value in enumerate(values):
            text = _export_text(value)
            if index in sensitive and not clear:
                text = mask_value(member_fields[index], text)
            cells.append(spreadsheet_safe(text))
        cells.insert(department_index, spreadsheet_safe(departments.get(department_id, "")))
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
