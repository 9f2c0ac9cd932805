"""What a roster import job stores between its steps (ORG-7), all encrypted in private
storage: the error report (CSV), the result of each part of the check, and the plan --
the checked rows prepared for the write -- that replaces the uploaded file.

A part as stored between its task and ``finish_check``: ``marshal`` (plain lists,
tuples, strings and numbers; fast to write and read) of the summary the merge needs,
and, as opaque bytes, the checked rows with their values prepared for the write,
which end up in the plan as they are.
"""

from __future__ import annotations

import csv
import io
import marshal

from django.utils.translation import gettext as _

from dataprotection.files import read_decrypted
from organizations.models import RosterImport
from organizations.services.roster_import.checks import RowError
from organizations.services.roster_import.file_checks import PartResult
from organizations.services.roster_import.jobs import REPORT_PURPOSE, ImportConflict
from organizations.services.roster_import.parsing import BOM, spreadsheet_safe
from organizations.services.roster_import.writing import CreatePreparer

PLAN_VERSION = 2


def write_report(errors: list[dict]) -> bytes:
    """The full error report: CSV in UTF-8 with a BOM (Excel), sensitive values masked."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("Row"), _("Column"), _("Value"), _("Problem")])
    for error in errors:
        writer.writerow(
            [
                error["row"] if error["row"] is not None else "",
                spreadsheet_safe(error["column"]),
                spreadsheet_safe(error["value"]),
                error["message"],
            ]
        )
    return (BOM + buffer.getvalue()).encode("utf-8")


def read_report(job: RosterImport) -> bytes:
    return read_decrypted(job.report_ref, REPORT_PURPOSE)


def prepare_part(part: PartResult) -> bytes:
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


def dump_part(part: PartResult, rows: bytes) -> bytes:
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


def load_part(blob: bytes) -> tuple[PartResult, bytes]:
    summary, rows = marshal.loads(blob)
    part = PartResult(
        header=summary["header"],
        labels=summary["labels"],
        fields=summary["fields"],
        total_rows=summary["total_rows"],
        error_rows=summary["error_rows"],
        planned_rows=summary["planned_rows"],
        errors=[RowError(*error) for error in summary["errors"]],
        keys=summary["keys"],
    )
    return part, rows


def load_plan(blob: bytes) -> dict:
    try:
        plan = marshal.loads(blob)
    except (ValueError, EOFError, TypeError):
        plan = None
    if not isinstance(plan, dict) or plan.get("version") != PLAN_VERSION:
        raise ImportConflict(_("The checked file has an unknown format; upload it again."))
    return plan
