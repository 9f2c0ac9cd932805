"""The roster import's template (ORG-7): a header-only CSV, and an Excel workbook with
drop-down lists and a guide sheet, for the organization's collected fields; the guide is
also shown on the upload page.
"""

from __future__ import annotations

import csv
import io

from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from organizations.models import Department, Member
from organizations.models.children import AGE_FIELD
from organizations.permissions import OrgAccess
from organizations.services.collection import collected_fields
from organizations.services.roster_import import files
from organizations.services.roster_import.columns import (
    CHOICE_FIELDS,
    DEPARTMENT,
    EMAIL_FIELDS,
    TEXT_LIMITS,
    field_label,
    template_columns,
)
from organizations.services.roster_import.parsing import BOM


def template_csv(access: OrgAccess) -> bytes:
    """A header-only CSV with the organization's collected fields (labels in the
    current language; the import also accepts field names and the other language).
    Header only: a CSV cannot hold notes the import would skip, so the example row and
    the allowed values are in the Excel template's guide sheet and on the upload page."""
    columns = template_columns(collected_fields(access.organization))
    buffer = io.StringIO()
    csv.writer(buffer).writerow([capfirst(field_label(name)) for name in columns])
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
    if name == DEPARTMENT:
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
    if name in CHOICE_FIELDS:
        labels = ", ".join(str(label) for _value, label in CHOICE_FIELDS[name].choices)
        return False, _("One of: %(labels)s") % {"labels": labels}
    if name in ("hired_on", AGE_FIELD):
        return False, _("A date written YYYY-MM-DD.")
    if name in EMAIL_FIELDS:
        return False, _("An email address.")
    if name == "id_number":
        return False, _("An 18-character resident ID card number with a correct check digit.")
    if name == "bank_card":
        return False, _("12 to 19 digits with a correct check digit.")
    if name in ("office_phone", "fixed_phone", "emergency_contact_phone"):
        return False, _("A phone number: digits, spaces, +, - and brackets.")
    limit = TEXT_LIMITS.get(name) or Member._meta.get_field(name).max_length
    return False, _("Text, up to %(limit)s characters.") % {"limit": limit} if limit else _("Text.")


def _department_example(departments: list[str]) -> str:
    return next((path for path in departments if "/" in path), departments[0] if departments else "")


def template_guide(access: OrgAccess) -> list[dict]:
    """One row per column of the organization's template: field, label (as the header
    says it), whether it is required, the allowed values and an example. Shown on the
    upload page and written to the Excel template's guide sheet. Two queries: the
    collection settings and the department paths."""
    columns = template_columns(collected_fields(access.organization))
    departments = _department_path_list(access)
    guide = []
    for name in columns:
        required, rule = _column_rule(name, departments)
        if name == DEPARTMENT:
            example = _department_example(departments)
        elif name in CHOICE_FIELDS:
            example = str(CHOICE_FIELDS[name].choices[0][1])
        else:
            example = str(EXAMPLES.get(name, ""))
        guide.append(
            {
                "field": name,
                "label": capfirst(field_label(name)),
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
    lists.cell(row=1, column=1, value=capfirst(field_label(DEPARTMENT))).font = bold
    for row, path in enumerate(departments, start=2):
        lists.cell(row=row, column=1, value=path)
    lists.column_dimensions["A"].width = 48
    for index, column in enumerate(guide, start=1):
        letter = get_column_letter(index)
        formula = None
        if column["field"] == DEPARTMENT and departments:
            formula = f"'{lists.title}'!$A$2:$A${len(departments) + 1}"
        elif column["field"] in CHOICE_FIELDS:
            labels = [str(label) for _value, label in CHOICE_FIELDS[column["field"]].choices]
            formula = '"' + ",".join(labels) + '"'
        if formula:
            validation = DataValidation(type="list", formula1=formula, allow_blank=True)
            validation.error = _("Choose a value from the list (see the guide sheet).")
            roster.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}{files.MAX_ROWS + 1}")

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
