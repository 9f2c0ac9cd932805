"""Reading a roster file (ORG-7): its rows as lists of cell texts, the header first
(CSV through the ``csv`` module, XLSX through openpyxl in read-only mode after
``files.check_xlsx``), and the header parsed into the field of each column. Pure code,
no database. Runs on a worker, never in the web request (SEC-1).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime

import openpyxl
from django.utils.translation import gettext_noop

from dataprotection.deferred_text import DeferredText, deferred
from organizations.models.children import AGE_FIELD
from organizations.services.collection import ALWAYS_COLLECTED
from organizations.services.roster_import import files
from organizations.services.roster_import.columns import DEPARTMENT, field_label_text, header_aliases, normalize_header
from organizations.services.roster_import.files import (
    ImportFileError,
    decode_text,
    not_csv,
    too_many_columns,
    unreadable_workbook,
)

# The byte order mark Excel needs to read a CSV file as UTF-8 (reports, templates, exports).
BOM = "\ufeff"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


_PHONE_LIKE = re.compile(r"^[+\-]?[\d\s().*\-]*$")  # digits and masks: no function call possible


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    text = decode_text(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            if len(cells) > files.MAX_COLUMNS:
                raise too_many_columns(number)
            yield cells
    except csv.Error as exc:
        raise not_csv(exc, number + 1) from None


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    files.check_xlsx(data)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise unreadable_workbook(exc) from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        # max_col: openpyxl pads every row to the width the sheet claims (its
        # <dimension>, which a file may set to 16,384 columns); the scan above counted
        # the real cells. Trailing empty cells are dropped, as a CSV row has none.
        for values in sheet.iter_rows(values_only=True, max_col=files.MAX_COLUMNS):
            cells = [_cell_text(value) for value in values]
            while cells and cells[-1] == "":
                cells.pop()
            yield cells
    finally:
        workbook.close()


def read_rows(data: bytes, file_format: str) -> Iterator[list[str]]:
    """Every row of the file as a list of cell texts, the header first."""
    if file_format == "xlsx":
        return _xlsx_rows(data)
    if file_format == "csv":
        return _csv_rows(data)
    raise ImportFileError(deferred(gettext_noop("Upload a CSV or an Excel (.xlsx) file.")))


def unescape(cell: str) -> str:
    """Undo the apostrophe that exports put before a cell Excel would read as a formula."""
    if cell.startswith("'") and cell[1:2] in _FORMULA_START:
        return cell[1:]
    return cell


def spreadsheet_safe(value: str) -> str:
    """A cell that Excel will not run as a formula (CSV injection): prefix an apostrophe
    to text starting with = + - @, except plain phone-like numbers."""
    if value and value.startswith(_FORMULA_START) and not _PHONE_LIKE.match(value):
        return "'" + value
    return value


def parse_header(cells: list[str], collected: frozenset[str]) -> list[str | None]:
    """The field of each column (``None`` for an empty trailing column), or
    ``ImportFileError`` naming every unknown, duplicate, not collected or missing one."""
    if len(cells) > files.MAX_COLUMNS:
        raise too_many_columns(1)
    aliases = header_aliases()
    fields: list[str | None] = []
    unknown: list[str] = []
    seen: dict[str, str] = {}
    problems: list[DeferredText] = []
    not_collected: list[str] = []
    for cell in cells:
        text = cell.strip().replace("\ufeff", "")
        if not text:
            fields.append(None)
            continue
        name = aliases.get(normalize_header(text))
        if name is None:
            unknown.append(text)
            fields.append(None)
            continue
        if name in seen:
            problems.append(
                deferred(
                    gettext_noop("The column “%(column)s” appears twice (also as “%(other)s”)."),
                    column=_named(text),
                    other=_named(seen[name]),
                )
            )
        seen[name] = text
        if name not in (DEPARTMENT, AGE_FIELD) and name not in collected:
            not_collected.append(name)
        fields.append(name)
    if unknown:
        # At most NAMED_COLUMNS names, each cut short: a header of 200,000 made-up
        # columns gets a message of a few hundred characters, not the file back.
        named: str | DeferredText = ", ".join(f"“{_named(text)}”" for text in unknown[: files.NAMED_COLUMNS])
        if len(unknown) > files.NAMED_COLUMNS:
            named = deferred(
                gettext_noop("%(named)s and %(count)d more"), named=named, count=len(unknown) - files.NAMED_COLUMNS
            )
        problems.append(
            deferred(gettext_noop("Unknown columns: %(columns)s. Use the column names of the template."), columns=named)
        )
    for name in not_collected:
        problems.append(
            deferred(
                gettext_noop(
                    "The organization does not collect “%(field)s”; turn it on in collection settings or remove the "
                    "column."
                ),
                field=field_label_text(name),
            )
        )
    for name in ALWAYS_COLLECTED:
        if name not in seen:
            problems.append(deferred(gettext_noop("The column “%(field)s” is required."), field=field_label_text(name)))
    if problems:
        raise ImportFileError(*problems, row=1)
    return fields


def _named(text: str) -> str:
    """A column's header as a message names it: at most ``NAMED_COLUMN_CHARS`` characters."""
    limit = files.NAMED_COLUMN_CHARS
    return text if len(text) <= limit else text[: limit - 1] + "…"
