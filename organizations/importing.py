"""Reading and checking roster files (ORG-5, ORG-6, ORG-7, ORG-10): pure code, no
database access at all. ``organizations.services.roster_import`` gathers what the
checks need from the database (in a constant number of queries, whatever the row count)
into a ``RosterSnapshot`` and writes the result.

Files: CSV in UTF-8 (with or without the BOM Excel writes) or, failing that, GB18030
(a superset of GBK: what Excel on Chinese Windows saves as "CSV"), or XLSX (the first
worksheet, read with openpyxl in read-only mode). The kind is recognized from the
content, never from the name. Anything else is refused with a message saying so.

Columns: a header row names them, by model field name (``employee_number``), by the
field's label in English or Chinese ("Employee number", "工号"), or ``department`` /
"部门" for a department path such as "Sales/Sales East" (the names below the root joined
by "/"; a bare name is enough when no other department has it). Every column must be a
field the organization collects (ORG-5); ``name`` and ``mobile`` are required.

Rows: every row is checked before anything is written, and each problem is reported
with its row number as in the file (the header is row 1), its column and a message.
Upsert by mobile: a row whose mobile number belongs to an existing roster entry of the
organization (found through the keyed-hash digest) UPDATES that entry -- blank cells
keep the stored value, a department moves the entry's primary placement -- and any
other row creates a new entry (status "invited") in its department, or in the root
department when the column is blank or absent.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from itertools import accumulate
from xml.etree import ElementTree

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.services.phones import normalize_mobile
from dataprotection.crypto import keyed_hasher
from dataprotection.files import sniff_document_type
from dataprotection.identifiers import is_valid_id_number, normalize_id_number
from dataprotection.masking import mask_bank_card, mask_id_number, mask_middle, mask_phone
from organizations.children import AGE_FIELD, CHILD_BASIC_FIELDS
from organizations.collection import ALWAYS_COLLECTED, CATALOG, SENSITIVE_FIELDS
from organizations.forms.roster import SENSITIVE_CLEANERS
from organizations.lookups import MOBILE_DIGEST_PURPOSE
from organizations.models import Degree, Department, LaborContractStatus, Member

# The largest file accepted (50 MB: about 300k roster rows of CSV). Module constants,
# not settings: the whole file is read into memory once by the upload form and the
# checking task, which also caps the row count.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
# Limits checked while a file is read, before it can cost much memory or time (the
# checks run on a worker; the web request only stores the file). A roster has about 40
# fields; an XLSX workbook is a ZIP whose parts are checked by their unpacked sizes
# before any is opened, and its sheet is scanned as a stream, so a "bomb" (a small file
# that unpacks to gigabytes, or one row of millions of cells) is refused at once.
MAX_COLUMNS = 100
MAX_CELLS = 5_000_000
XLSX_MAX_UNPACKED_BYTES = 256 * 1024 * 1024  # all parts together
XLSX_MAX_SHEET_BYTES = 200 * 1024 * 1024  # the worksheet read
XLSX_MAX_SHARED_STRINGS_BYTES = 32 * 1024 * 1024  # held in memory whole while reading
XLSX_MAX_OTHER_PART_BYTES = 8 * 1024 * 1024  # styles, workbook, relationships, themes…
XLSX_MAX_PARTS = 1_000
NAMED_COLUMNS = 5  # unknown columns named in a message; the rest are counted
PROGRESS_EVERY = 5_000  # rows between progress updates of the job row
PREVIEW_ERRORS = 100  # errors kept on the job row for the page; the report has them all

DEPARTMENT = "department"
# Fields an import may fill: the always-collected ones and the catalog, except the
# student photo, which is a reference to a stored image, not a value to type in.
# SEC-3: the birthday column is optional and always accepted (the age check).
IMPORTABLE_FIELDS: tuple[str, ...] = (
    *ALWAYS_COLLECTED,
    AGE_FIELD,
    *(f.name for f in CATALOG if f.name != "student_photo_ref"),
)
# Sensitive fields (ORG-10) a row may only fill for members the uploader may see them
# of. The mobile number is exempt: it is required on every row, it is the person's
# joining key and the key of the upsert, and it is never shown in clear by an import.
GUARDED_FIELDS = frozenset(SENSITIVE_FIELDS) - {"mobile"}
CHOICE_FIELDS = {"labor_contract_status": LaborContractStatus, "degree": Degree}
EMAIL_FIELDS = frozenset({"office_email", "personal_email"})
TEXT_LIMITS = {"home_address": 200, "emergency_contact_phone": 32}  # encrypted text columns have no max_length

# Addresses Django's EmailValidator certainly accepts (dot-atom local part, LDH labels,
# a letters-only top-level domain); anything else goes through the validator itself.
_PLAIN_EMAIL = re.compile(
    r"^[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\Z"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE_LIKE = re.compile(r"^[+\-]?[\d\s().*\-]*$")  # digits and masks: no function call possible


class ImportFileError(Exception):
    """The file as a whole cannot be imported (format, encoding, header): nothing in it
    is checked row by row. ``row`` and ``column`` say where, when that is known."""

    def __init__(self, message: str, *, row: int | None = None, column: str = ""):
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": "", "message": self.message}


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    value: str  # masked when the column is sensitive
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "message": self.message}


# --------------------------------------------------------------------------- labels


def field_label(name: str) -> str:
    if name == DEPARTMENT:
        return str(Department._meta.verbose_name)
    return str(Member._meta.get_field(name).verbose_name)


@lru_cache(maxsize=1)
def header_aliases() -> dict[str, str]:
    """Normalized header text -> field name: field names and the English and Chinese
    labels. A label two fields share would be ambiguous and is left out."""
    aliases: dict[str, str] = {}
    ambiguous: set[str] = set()
    names = (*IMPORTABLE_FIELDS, DEPARTMENT)
    for name in names:
        aliases[_normalize_header(name)] = name
    for language in ("en", "zh-hans"):
        with translation.override(language):
            for name in names:
                key = _normalize_header(field_label(name))
                if aliases.get(key, name) != name:
                    ambiguous.add(key)
                aliases.setdefault(key, name)
    for key in ambiguous:
        aliases.pop(key, None)
    return aliases


@lru_cache(maxsize=1)
def _choice_lookup() -> dict[str, dict[str, str]]:
    """Choice field -> {normalized value or English/Chinese label: stored value}."""
    lookup: dict[str, dict[str, str]] = {}
    for name, choices in CHOICE_FIELDS.items():
        table: dict[str, str] = {}
        for value, label in choices.choices:
            table[value.casefold()] = value
            for language in ("en", "zh-hans"):
                with translation.override(language):
                    table[" ".join(str(label).split()).casefold()] = value
        lookup[name] = table
    return lookup


def _normalize_header(text: str) -> str:
    return " ".join(str(text).replace("\ufeff", "").replace("*", " ").split()).casefold()


def template_columns(collected: Iterable[str]) -> list[str]:
    """The fields of a template file for an organization: name, mobile, department,
    then every other importable field it collects, in catalog order."""
    collected = set(collected)
    return ["name", "mobile", DEPARTMENT] + [
        name for name in IMPORTABLE_FIELDS if name not in ALWAYS_COLLECTED and name in collected
    ]


# --------------------------------------------------------------------------- files


def sniff_format(head: bytes) -> str | None:
    """The format: "xlsx" for a ZIP container, "csv" for something that reads as text, else None
    (old .xls, PDF, images, executables, random bytes)."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if not head or b"\x00" in head or sniff_document_type(head[:16]):
        return None
    try:
        decode_text(head, partial=True)
    except ImportFileError:
        return None
    return "csv"


def decode_text(data: bytes, *, partial: bool = False) -> str:
    """UTF-8 (BOM or not), else GB18030; refuse text full of control characters."""
    text = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError as exc:
            # The sniffed head may end in the middle of a multi-byte character.
            if partial and encoding == "utf-8-sig" and exc.start >= len(data) - 3:
                text = data[: exc.start].decode(encoding)
                break
    if text is None and partial:
        try:
            text = data[:-1].decode("gb18030")
        except UnicodeDecodeError:
            text = None
    if text is None:
        raise ImportFileError(_("The file is not readable text: save it as CSV UTF-8 or as an Excel workbook (.xlsx)."))
    controls = sum(1 for char in text[:4096] if ord(char) < 32 and char not in "\t\r\n")
    if "\x00" in text or controls > 2:
        raise ImportFileError(_("The file is not readable text: save it as CSV UTF-8 or as an Excel workbook (.xlsx)."))
    return text


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
            if len(cells) > MAX_COLUMNS:
                raise _too_many_columns(number)
            yield cells
    except csv.Error as exc:
        raise ImportFileError(
            _("This row is not valid CSV (%(problem)s); check the quotes in it.") % {"problem": exc},
            row=number + 1,
        ) from None


def _unreadable_workbook(problem) -> ImportFileError:
    return ImportFileError(
        _("The file is not an Excel workbook (.xlsx) that can be read: %(problem)s") % {"problem": problem}
    )


def _too_big_to_unpack(size: int, limit: int) -> ImportFileError:
    return ImportFileError(
        _(
            "The workbook unpacks to %(size)s, more than the %(limit)s a roster may take. Save it again as "
            "CSV UTF-8, or split it."
        )
        % {"size": filesizeformat(size), "limit": filesizeformat(limit)}
    )


def _too_many_columns(row: int) -> ImportFileError:
    return ImportFileError(
        _("This row has more than %(limit)d columns; a roster file has at most %(limit)d.") % {"limit": MAX_COLUMNS},
        row=row,
    )


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _first_sheet_part(archive: zipfile.ZipFile) -> str | None:
    """The ZIP part of the workbook's first worksheet (workbook.xml names it, its
    relationships say where it is). Both are small parts, checked by size already."""
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        relationships = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError) as exc:
        raise _unreadable_workbook(exc) from None
    first = next((element for element in workbook.iter() if _local(element.tag) == "sheet"), None)
    if first is None:
        return None
    rid = next((value for key, value in first.attrib.items() if _local(key) == "id"), None)
    for relationship in relationships:
        if relationship.get("Id") == rid:
            target = relationship.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    raise _unreadable_workbook("no worksheet")


def check_xlsx(data: bytes) -> None:
    """Refuse a workbook that would cost too much to read, before reading it: every
    part by its unpacked size (as the ZIP directory states it; a part that unpacks to
    more than it states fails its checksum at that size), then the first worksheet as a
    stream, element by element, for its rows, columns and cells."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _unreadable_workbook(exc) from None
    with archive:
        if len(parts) > XLSX_MAX_PARTS:
            raise _unreadable_workbook(_("it has %(count)d parts") % {"count": len(parts)})
        total = sum(part.file_size for part in parts)
        if total > XLSX_MAX_UNPACKED_BYTES:
            raise _too_big_to_unpack(total, XLSX_MAX_UNPACKED_BYTES)
        sheet = _first_sheet_part_checked(archive, parts)
        if sheet is not None:
            _scan_sheet(archive, sheet)


def _first_sheet_part_checked(archive: zipfile.ZipFile, parts: list[zipfile.ZipInfo]) -> str | None:
    small = [part for part in parts if part.filename.startswith("xl/") and "worksheets/" not in part.filename]
    for part in small:
        limit = (
            XLSX_MAX_SHARED_STRINGS_BYTES if part.filename.endswith("sharedStrings.xml") else XLSX_MAX_OTHER_PART_BYTES
        )
        if part.file_size > limit:
            raise _too_big_to_unpack(part.file_size, limit)
    sheet = _first_sheet_part(archive)
    if sheet is None:
        return None
    try:
        info = archive.getinfo(sheet)
    except KeyError:
        raise _unreadable_workbook("no worksheet") from None
    if info.file_size > XLSX_MAX_SHEET_BYTES:
        raise _too_big_to_unpack(info.file_size, XLSX_MAX_SHEET_BYTES)
    return sheet


def _scan_sheet(archive: zipfile.ZipFile, name: str) -> None:
    """Count rows, cells per row and cells, dropping each element once counted: memory
    stays flat however large the sheet, and the first limit passed ends the scan."""
    rows = cells = in_row = 0
    sheet_data = None
    try:
        with archive.open(name) as stream:
            for event, element in ElementTree.iterparse(stream, events=("start", "end")):
                tag = _local(element.tag)
                if event == "start":
                    if tag == "sheetData":
                        sheet_data = element
                    elif tag == "row":
                        rows += 1
                        in_row = 0
                        # A row may say its own number: the reader fills the gap with
                        # empty rows, so the number counts, not the rows present.
                        number = element.get("r", "")
                        if rows > MAX_ROWS + 1 or (number.isdigit() and int(number) > MAX_ROWS + 1):
                            raise _too_many_rows(int(number) if number.isdigit() else rows)
                    continue
                if tag == "c":
                    in_row += 1
                    cells += 1
                    if in_row > MAX_COLUMNS:
                        raise _too_many_columns(rows)
                    if cells > MAX_CELLS:
                        raise ImportFileError(
                            _("The file has more than %(limit)d cells; split it into smaller files.")
                            % {"limit": MAX_CELLS},
                            row=rows,
                        )
                elif tag == "row" and sheet_data is not None:
                    sheet_data.clear()
    except (ElementTree.ParseError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise _unreadable_workbook(exc) from None


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    check_xlsx(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise _unreadable_workbook(exc) from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        # max_col: openpyxl pads every row to the width the sheet claims (its
        # <dimension>, which a file may set to 16,384 columns); the scan above counted
        # the real cells. Trailing empty cells are dropped, as a CSV row has none.
        for values in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS):
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
    raise ImportFileError(_("Upload a CSV or an Excel (.xlsx) file."))


def _unescape(cell: str) -> str:
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


# --------------------------------------------------------------------------- header


def parse_header(cells: list[str], collected: frozenset[str]) -> list[str | None]:
    """The field of each column (``None`` for an empty trailing column), or
    ``ImportFileError`` naming every unknown, duplicate, not collected or missing one."""
    if len(cells) > MAX_COLUMNS:
        raise _too_many_columns(1)
    aliases = header_aliases()
    fields: list[str | None] = []
    unknown: list[str] = []
    seen: dict[str, str] = {}
    problems: list[str] = []
    not_collected: list[str] = []
    for cell in cells:
        text = cell.strip().replace("\ufeff", "")
        if not text:
            fields.append(None)
            continue
        name = aliases.get(_normalize_header(text))
        if name is None:
            unknown.append(text)
            fields.append(None)
            continue
        if name in seen:
            problems.append(
                _("The column “%(column)s” appears twice (also as “%(other)s”).")
                % {"column": text, "other": seen[name]}
            )
        seen[name] = text
        if name not in (DEPARTMENT, AGE_FIELD) and name not in collected:
            not_collected.append(name)
        fields.append(name)
    if unknown:
        named = ", ".join(f"“{text[:40]}”" for text in unknown[:NAMED_COLUMNS])
        if len(unknown) > NAMED_COLUMNS:
            named = _("%(named)s and %(count)d more") % {"named": named, "count": len(unknown) - NAMED_COLUMNS}
        problems.append(_("Unknown columns: %(columns)s. Use the column names of the template.") % {"columns": named})
    for name in not_collected:
        problems.append(
            _("The organization does not collect “%(field)s”; turn it on in collection settings or remove the column.")
            % {"field": field_label(name)}
        )
    for name in ALWAYS_COLLECTED:
        if name not in seen:
            problems.append(_("The column “%(field)s” is required.") % {"field": field_label(name)})
    if problems:
        raise ImportFileError(" ".join(problems), row=1)
    return fields


# --------------------------------------------------------------------------- the roster as it is


@dataclass(frozen=True)
class ExistingMember:
    pk: int
    employee_number: str
    paths: tuple[str, ...]  # the department paths it is placed in
    department_ids: frozenset[int]
    has_primary: bool
    consented: bool


@dataclass
class RosterSnapshot:
    """What the checks need to know about the organization, read by the service in a
    constant number of queries. ``covers(right, paths)`` answers for the uploader."""

    collected: frozenset[str]
    departments: list[tuple[int, int | None, str, str]]  # (pk, parent_id, name, path), ordered by path
    members_by_digest: dict[str, ExistingMember]
    employee_numbers: dict[str, int]  # employee number -> member pk
    covers: Callable[[str, tuple[str, ...]], bool]
    # SEC-3: rows whose birthday is after ``child_cutoff`` (ISO text; empty: no check)
    # are children's; ``stored_children`` the entries that are children now and
    # ``guardian_consented`` those with a guardian's consent in force.
    child_cutoff: str = ""
    stored_children: frozenset[int] = frozenset()
    guardian_consented: frozenset[int] = frozenset()
    children_officer: bool = False
    by_pk: dict[int, tuple[int, str]] = field(default_factory=dict, init=False)
    _by_key: dict[str, tuple[int, str] | None] = field(default_factory=dict, init=False)
    _cover_cache: dict[tuple[str, tuple[str, ...]], bool] = field(default_factory=dict, init=False)
    _found: dict[str, tuple[int, str] | bool | None] = field(default_factory=dict, init=False)
    root: tuple[int, str] | None = field(default=None, init=False)

    def __post_init__(self):
        names: dict[int, list[str]] = {}
        bare: dict[str, list[tuple[int, str]]] = {}
        for pk, parent_id, name, path in self.departments:
            self.by_pk[pk] = (pk, path)
            clean = " ".join(name.split())
            if parent_id is None:
                names[pk] = []
                if self.root is None:
                    self.root = (pk, path)
            else:
                names[pk] = [*names.get(parent_id, []), clean]
                self._by_key["/".join(names[pk]).casefold()] = (pk, path)
            bare.setdefault(clean.casefold(), []).append((pk, path))
        for key, matches in bare.items():
            if key not in self._by_key:
                self._by_key[key] = matches[0] if len(matches) == 1 else None  # None: ambiguous

    def department(self, text: str) -> tuple[int, str] | bool | None:
        """(pk, path) of a department path or unique name; ``None`` unknown; ``False``
        ambiguous."""
        if text in self._found:  # files repeat the same few departments on every row
            return self._found[text]
        found = self._department(text)
        if len(self._found) < 100_000:
            self._found[text] = found
        return found

    def _department(self, text: str) -> tuple[int, str] | bool | None:
        key = "/".join(" ".join(part.split()) for part in text.strip().strip("/").split("/")).casefold()
        if key in self._by_key:
            return self._by_key[key] or False
        if self.root is not None and "/" in key:  # written with the root's name in front
            rest = key.split("/", 1)[1]
            if self._by_key.get(rest):
                return self._by_key[rest]
        return None

    def allowed(self, right: str, paths: tuple[str, ...]) -> bool:
        key = (right, paths)
        if key not in self._cover_cache:
            self._cover_cache[key] = self.covers(right, paths)
        return self._cover_cache[key]


# --------------------------------------------------------------------------- rows


@dataclass
class PlannedRow:
    """A checked row: ``member_id`` set for an update; ``department_id`` ``None`` when
    nothing changes about the placement; ``values`` the cleaned, non-blank values."""

    row: int
    member_id: int | None
    department_id: int | None
    values: dict[str, str]
    mobile_digest: str = ""  # set by the checks, reused by the write


def mask_value(name: str | None, value: str) -> str:
    """A cell as the report may show it: sensitive columns masked (ORG-10)."""
    if name not in SENSITIVE_FIELDS or not value:
        return value
    compact = value.replace(" ", "").replace("-", "")
    if name == "mobile":
        return mask_phone(compact) if compact.startswith("+") else mask_middle(compact, 3, 4)
    if name == "id_number":
        return mask_id_number(compact)
    if name == "bank_card":
        return mask_bank_card(compact)
    if name == "emergency_contact_phone":
        return mask_middle(compact, 3, 2)
    return mask_middle(value, 2, 0)


# Mainland mobile numbers as people type them: 11 digits starting with 1, perhaps +86.
_CN_MOBILE = re.compile(r"^(?:\+86)?(1[1-9]\d{9})$")


def _desc_matcher(desc, length: int) -> Callable[[str], object] | None:
    """``phonenumbers``' ``_is_number_matching_desc`` for national numbers of ``length``
    digits, compiled once: ``None`` where it can never match (no description, no
    pattern, or ``length`` not among the description's possible lengths)."""
    if desc is None or not desc.national_number_pattern:
        return None
    if len(desc.possible_length) > 0 and length not in desc.possible_length:
        return None
    return re.compile(desc.national_number_pattern).fullmatch


@lru_cache(maxsize=1)
def _cn_mobile_classifier() -> Callable[[str], bool]:
    """True when an 11-digit CN national number is one ``normalize_mobile`` accepts:
    ``is_valid_number`` (its type is not UNKNOWN) and ``number_type`` in
    ``MOBILE_TYPES``. The same decisions as phonenumbers' ``_number_type_helper``, in
    the same order, over the patterns of its own CN metadata compiled once."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    general = _desc_matcher(metadata.general_desc, 11)
    # Types checked before fixed line / mobile: a match there is not a mobile.
    others = [
        matcher
        for matcher in (
            _desc_matcher(getattr(metadata, name), 11)
            for name in (
                "premium_rate",
                "toll_free",
                "shared_cost",
                "voip",
                "personal_number",
                "pager",
                "uan",
                "voicemail",
            )
        )
        if matcher is not None
    ]
    fixed_line = _desc_matcher(metadata.fixed_line, 11)
    mobile = _desc_matcher(metadata.mobile, 11)
    same = bool(metadata.same_mobile_and_fixed_line_pattern)

    def is_mobile(national: str) -> bool:
        if general is None or not general(national):
            return False  # UNKNOWN: not a valid number
        for matcher in others:
            if matcher(national):
                return False
        if fixed_line is not None and fixed_line(national):
            return same or (mobile is not None and bool(mobile(national)))  # FIXED_LINE_OR_MOBILE or FIXED_LINE
        return not same and mobile is not None and bool(mobile(national))  # MOBILE or UNKNOWN

    return is_mobile


class MobileNormalizer:
    """``normalize_mobile`` with a fast path for the common case.

    A mainland mobile number typed as 11 digits starting with 1 (spaces, dashes or a
    +86 allowed) parses to country code 86 and those 11 digits: phonenumbers' CN
    national prefixes ("0" and the carrier codes 11xxx, 12xxx, 179xx) never start a
    mobile number, so nothing is stripped. Such a number is accepted when
    phonenumbers' own CN patterns classify it as a mobile (``_cn_mobile_classifier``)
    -- exactly what ``normalize_mobile`` checks -- without the cost of ``parse`` and
    ``number_type``. Every other input, and every number the fast path does not
    accept, goes through ``normalize_mobile`` itself (and its messages).
    """

    def __init__(self):
        from django.conf import settings

        self.national_is_cn = settings.SMS_DEFAULT_REGION == "CN"
        self.is_mobile = _cn_mobile_classifier()

    def __call__(self, raw: str) -> str:
        compact = raw.replace(" ", "").replace("-", "")
        match = _CN_MOBILE.match(compact)
        if match is not None and (self.national_is_cn or compact.startswith("+")):
            national = match.group(1)
            if self.is_mobile(national):
                return "+86" + national
        return normalize_mobile(raw)


def _mobile_message(code: str | None) -> str:
    """``normalize_mobile``'s verdict without echoing the number (the report and the
    page show sensitive values masked)."""
    if code == "not_mobile":
        return _("This is not a mobile number; members join with their mobile phone.")
    return _("This is not a valid mobile number: check the digits and the country code.")


class RowChecker:
    """Checks rows one at a time against a ``RosterSnapshot``; remembers the employee
    numbers and mobiles seen so far to find duplicates within the file."""

    def __init__(
        self,
        snapshot: RosterSnapshot | None,
        header: list[str | None],
        labels: list[str],
        *,
        find_duplicates: bool = True,
    ):
        self.snapshot = snapshot
        # False for a part of a file checked on its own (``check_part``): duplicates
        # within the file are then found over all the parts by ``merge_parts``.
        self.find_duplicates = find_duplicates
        self.header = header
        self.labels = labels  # the column headers as written in the file
        self.fields = [name for name in header if name is not None and name != DEPARTMENT]
        self.seen_mobiles: dict[str, int] = {}
        self.seen_numbers: dict[str, int] = {}
        self.keys: list[tuple[int, str, str, bool]] = []  # (row, mobile, employee number, resolved)
        self.normalize_mobile = MobileNormalizer()
        self.mobile_digest = keyed_hasher(MOBILE_DIGEST_PURPOSE)  # ``mobile_digest``, keyed once
        self.choices = _choice_lookup()
        self.limits = {
            name: TEXT_LIMITS.get(name) or Member._meta.get_field(name).max_length for name in IMPORTABLE_FIELDS
        }
        self.column_of = {name: labels[index] for index, name in enumerate(header) if name is not None}
        # Per column of the file: its index, field and cleaner (``_clean`` for that field).
        self.columns = [
            (index, name, self._cleaner(name))
            for index, name in enumerate(header)
            if name is not None and name != DEPARTMENT
        ]
        self.department_index = header.index(DEPARTMENT) if DEPARTMENT in header else None

    # ---------------------------------------------------------------- cells

    def _clean(self, name: str, value: str) -> str:
        """The stored form of one non-blank cell or ``ValidationError``."""
        if name == "mobile":
            try:
                return self.normalize_mobile(value)
            except ValidationError as exc:
                raise ValidationError(_mobile_message(exc.code)) from None
        if name in SENSITIVE_CLEANERS:  # ID number check digit, bank card Luhn
            return SENSITIVE_CLEANERS[name](value)
        if name in CHOICE_FIELDS:
            stored = self.choices[name].get(" ".join(value.split()).casefold())
            if stored is None:
                allowed = ", ".join(str(label) for _value, label in CHOICE_FIELDS[name].choices)
                raise ValidationError(_("Use one of: %(choices)s.") % {"choices": allowed})
            return stored
        if name in ("hired_on", AGE_FIELD):
            try:
                if not _DATE.match(value):
                    raise ValueError
                day = date.fromisoformat(value)
            except ValueError:
                raise ValidationError(_("Write the date as YYYY-MM-DD, for example 2024-03-01.")) from None
            if name == AGE_FIELD and day > timezone.localdate():
                raise ValidationError(_("A birthday cannot be in the future."))
            return day.isoformat()
        if name in EMAIL_FIELDS and not (len(value) <= 254 and _PLAIN_EMAIL.match(value)):
            validate_email(value)
        if name == "name":
            value = " ".join(value.split())
        if name == "id_number":
            value = normalize_id_number(value)
        limit = self.limits.get(name)
        if limit and len(value) > limit:
            raise ValidationError(_("At most %(limit)d characters.") % {"limit": limit})
        return value

    def _cleaner(self, name: str) -> Callable[[str], str]:
        """``_clean`` for one field: the same result or ``ValidationError``, with what
        depends only on the field decided once. The common valid values take a short
        path; anything else goes through ``_clean`` itself (and its messages)."""
        clean = self._clean
        if name == "mobile":
            normalize = self.normalize_mobile

            def mobile(value: str) -> str:
                try:
                    return normalize(value)
                except ValidationError as exc:
                    raise ValidationError(_mobile_message(exc.code)) from None

            return mobile
        if name == "id_number":  # ``clean_id_number``: normalized, then checked

            def id_number(value: str) -> str:
                normalized = normalize_id_number(value)
                return normalized if is_valid_id_number(normalized) else clean(name, value)

            return id_number
        if name in SENSITIVE_CLEANERS:  # bank card: ``_clean`` hands it to the form's cleaner as is
            return SENSITIVE_CLEANERS[name]
        if name in CHOICE_FIELDS or name in ("hired_on", AGE_FIELD):
            return lambda value: clean(name, value)
        limit = self.limits.get(name) or 0
        if name in EMAIL_FIELDS:

            def email(value: str) -> str:
                if len(value) <= 254 and _PLAIN_EMAIL.match(value) and not (limit and len(value) > limit):
                    return value
                return clean(name, value)

            return email
        if name == "name":

            def person(value: str) -> str:
                spaced = " ".join(value.split())
                return spaced if not (limit and len(spaced) > limit) else clean(name, value)

            return person
        return lambda value: value if not (limit and len(value) > limit) else clean(name, value)

    # ---------------------------------------------------------------- rows

    def check(self, number: int, cells: list[str]) -> tuple[PlannedRow | None, list[RowError]]:
        errors: list[RowError] = []
        values: dict[str, str] = {}
        width = len(cells)
        header = self.header
        if width > len(header) and any(cell.strip() for cell in cells[len(header) :]):
            errors.append(RowError(number, "", "", _("This row has more cells than the header has columns.")))
        for index, name, clean in self.columns:
            raw = cells[index].strip() if index < width else ""
            if not raw:
                continue
            if raw[0] == "'":
                raw = _unescape(raw)
            try:
                values[name] = clean(raw)
            except ValidationError as exc:
                errors.append(RowError(number, self.labels[index], mask_value(name, raw), " ".join(exc.messages)))
        index = self.department_index
        department_text = _unescape(cells[index].strip()) if index is not None and index < width else ""
        if "name" not in values and not any(e.column == self.column_of.get("name") for e in errors):
            errors.append(RowError(number, self.column_of["name"], "", _("Enter the member's name.")))
        if "mobile" not in values and not any(e.column == self.column_of.get("mobile") for e in errors):
            errors.append(RowError(number, self.column_of["mobile"], "", _("Enter the mobile number.")))
        if errors:
            # Still remember the keys, so that a later copy of this row is reported too.
            self._remember(number, values, resolved=False)
            return None, errors
        planned = PlannedRow(number, None, None, values)
        errors = self.resolve(planned, department_text, within_file=True)
        return (None if errors else planned), errors

    def duplicate_errors(
        self, number: int, mobile: str, employee_number: str, first_mobile: int | None, first_number: int | None
    ) -> list[RowError]:
        """The errors of a row whose mobile number or employee number is already on an
        earlier row of the file (``first_*``: that row, ``None`` when there is none)."""
        errors: list[RowError] = []
        if first_mobile is not None:
            errors.append(
                RowError(
                    number,
                    self.column_of.get("mobile"),
                    mask_value("mobile", mobile),
                    _("The same mobile number is already on row %(row)d.") % {"row": first_mobile},
                )
            )
        if first_number is not None:
            errors.append(
                RowError(
                    number,
                    self.column_of.get("employee_number"),
                    employee_number,
                    _("The same employee number is already on row %(row)d.") % {"row": first_number},
                )
            )
        return errors

    def _remember(self, number: int, values: dict[str, str], *, resolved: bool) -> None:
        if not self.find_duplicates:
            # For ``merge_parts``: the keys of the row, and whether its duplicates are
            # errors of its own (``resolve`` ran: the row had no error in its cells).
            mobile, employee_number = values.get("mobile", ""), values.get("employee_number", "")
            if mobile or employee_number:
                self.keys.append((number, mobile, employee_number, resolved))
            return
        if values.get("mobile"):
            self.seen_mobiles.setdefault(values["mobile"], number)
        if values.get("employee_number"):
            self.seen_numbers.setdefault(values["employee_number"], number)

    def resolve(self, planned: PlannedRow, department_text: str | None, *, within_file: bool) -> list[RowError]:
        """The checks against the roster and the uploader's rights; sets the member to
        update and the department on ``planned``. Run again at import time on a fresh
        snapshot (``within_file=False``, ``department_text=None``: the department chosen
        at check time is kept) to catch what changed since the check."""
        snapshot, number, values = self.snapshot, planned.row, planned.values
        errors: list[RowError] = []
        column = self.column_of.get
        mobile = values["mobile"]
        employee_number = values.get("employee_number", "")
        if within_file:
            if self.find_duplicates:
                errors += self.duplicate_errors(
                    number,
                    mobile,
                    employee_number,
                    self.seen_mobiles.get(mobile),
                    self.seen_numbers.get(employee_number) if employee_number else None,
                )
            self._remember(number, values, resolved=True)
        planned.mobile_digest = self.mobile_digest(mobile)
        existing = snapshot.members_by_digest.get(planned.mobile_digest)
        if within_file:
            planned.member_id = existing.pk if existing is not None else None
        elif (existing.pk if existing is not None else None) != planned.member_id:
            errors.append(
                RowError(
                    number,
                    column("mobile"),
                    mask_value("mobile", mobile),
                    _(
                        "The roster entry with this mobile number changed since the file was checked; "
                        "upload the file again."
                    ),
                )
            )
            return errors
        if employee_number:
            owner = snapshot.employee_numbers.get(employee_number)
            if owner is not None and (existing is None or owner != existing.pk):
                errors.append(
                    RowError(
                        number,
                        column("employee_number"),
                        employee_number,
                        _("Another member of this organization already has this employee number."),
                    )
                )

        child_error = self._child_error(number, values, existing)
        if child_error is not None:
            errors.append(child_error)

        # The department: where a new entry goes, or where an existing one moves.
        department_column = column(DEPARTMENT) or column("name")
        target: tuple[int, str] | None = None
        if department_text is None:  # import time: the department chosen at check time
            if planned.department_id is not None:
                target = snapshot.by_pk.get(planned.department_id)
                if target is None:
                    errors.append(
                        RowError(
                            number, department_column, "", _("This department was deleted since the file was checked.")
                        )
                    )
        elif department_text:
            found = snapshot.department(department_text)
            if found is None:
                errors.append(
                    RowError(
                        number,
                        department_column,
                        department_text,
                        _("There is no department “%(name)s”. Write its path, e.g. Sales/Sales East.")
                        % {"name": department_text},
                    )
                )
            elif found is False:
                errors.append(
                    RowError(
                        number,
                        department_column,
                        department_text,
                        _("Several departments are called “%(name)s”; write the full path, e.g. Sales/%(name)s.")
                        % {"name": department_text},
                    )
                )
            else:
                target = found
        elif existing is None:
            target = snapshot.root
            if target is None:
                errors.append(RowError(number, department_column, "", _("The organization has no department yet.")))

        # The uploader's rights: edit_roster where the row writes, view_sensitive too
        # when it fills sensitive fields (ORG-9, ORG-10).
        guarded = [name for name in values if name in GUARDED_FIELDS]
        scopes: list[tuple[str, ...]] = []
        if existing is not None:
            scopes.append(existing.paths)
            if not snapshot.allowed("edit_roster", existing.paths):
                errors.append(
                    RowError(
                        number,
                        column("mobile"),
                        mask_value("mobile", mobile),
                        _("This mobile number belongs to a member outside the departments whose roster you may edit."),
                    )
                )
        if target is not None:
            scopes.append((target[1],))
            if not snapshot.allowed("edit_roster", (target[1],)):
                errors.append(
                    RowError(
                        number,
                        department_column,
                        department_text or "",
                        _("You may not add members to this department; choose a department whose roster you may edit."),
                    )
                )
            if existing is not None and target[0] in existing.department_ids:
                target = None  # already placed there: nothing to move
        if guarded and not all(snapshot.allowed("view_sensitive", paths) for paths in scopes):
            errors.append(self._sensitive_error(number, guarded))
        planned.department_id = target[0] if target is not None else None
        return errors

    def first_conflict(self, rows: list[PlannedRow], *, creates_unchanged: bool | None = None) -> RowError | None:
        """The import-time re-check of the planned rows on a fresh snapshot: the first
        error ``resolve(row, None, within_file=False)`` finds, in row order, or ``None``.

        New entries -- usually all the rows -- are checked set-wise: none of their
        mobiles and employee numbers may be on the roster now, and their departments
        must still exist and be ones the uploader may add to (and fill sensitive fields
        in, for the rows that do). Those are exactly the conditions under which
        ``resolve`` finds nothing on such a row; then only the updates go through
        ``resolve``. When any condition fails, every row goes through ``resolve``, so
        the error reported is the same first error as row by row.

        ``creates_unchanged``: the verdict of ``creates_unchanged`` when the caller has
        already asked it (from the columns of the plan); ``rows`` may then hold only the
        updates when it is true."""
        if creates_unchanged is None:
            digest = self.mobile_digest
            creates = [row for row in rows if row.member_id is None]
            for row in creates:
                row.mobile_digest = digest(row.values["mobile"])
            guarded = [name for name in self.fields if name in GUARDED_FIELDS]
            creates_unchanged = self.creates_unchanged(
                (row.mobile_digest for row in creates),
                (row.values.get("employee_number") for row in creates),
                {row.department_id for row in creates},
                lambda restricted: {
                    row.department_id
                    for row in creates
                    if row.department_id in restricted and any(name in row.values for name in guarded)
                },
            )
        checked: Iterable[PlannedRow] = rows
        if creates_unchanged:
            checked = [row for row in rows if row.member_id is not None]
        for row in checked:
            errors = self.resolve(row, None, within_file=False)
            if errors:
                return errors[0]
        return None

    def creates_unchanged(
        self,
        mobile_digests: Iterable[str],
        employee_numbers: Iterable[str | None],
        departments: set[int | None],
        sensitive_in: Callable[[set[int]], set[int]],
    ) -> bool:
        """True when ``resolve`` finds nothing on any of the new entries described:
        their mobile digests and (non-blank) employee numbers, the departments they go
        to, and ``sensitive_in(restricted)``: which of the ``restricted`` departments
        (those where the uploader may not view sensitive fields) get an entry that
        fills a sensitive field -- asked only when there are such departments."""
        snapshot = self.snapshot
        if not snapshot.members_by_digest.keys().isdisjoint(mobile_digests):
            return False
        if not snapshot.employee_numbers.keys().isdisjoint(number for number in employee_numbers if number):
            return False
        if not departments <= snapshot.by_pk.keys():  # also None: no department chosen
            return False
        if not all(snapshot.allowed("edit_roster", (snapshot.by_pk[pk][1],)) for pk in departments):
            return False
        if not any(name in GUARDED_FIELDS for name in self.fields):
            return True
        restricted = {pk for pk in departments if not snapshot.allowed("view_sensitive", (snapshot.by_pk[pk][1],))}
        return not restricted or not sensitive_in(restricted)

    def _child_error(self, number: int, values: dict[str, str], existing: ExistingMember | None) -> RowError | None:
        """SEC-3: a child's row (by its birthday, else the entry's) may fill only the
        basic fields until the child's entry has a guardian's consent in force and the
        organization a designated children's data officer. A new entry never has one."""
        snapshot = self.snapshot
        if not snapshot.child_cutoff:
            return None
        birthday = values.get(AGE_FIELD)
        if birthday is not None:
            child = birthday > snapshot.child_cutoff  # ISO dates compare as text
        else:
            child = existing is not None and existing.pk in snapshot.stored_children
        if not child:
            return None
        extended = [name for name in values if name not in CHILD_BASIC_FIELDS]
        if not extended:
            return None
        if existing is not None and existing.pk in snapshot.guardian_consented and snapshot.children_officer:
            return None
        return RowError(
            number,
            self.column_of.get(AGE_FIELD) or self.column_of.get("name", ""),
            values.get(AGE_FIELD, ""),
            _(
                "Guardian consent needed: this member is a child, so only the basic fields can be imported until a "
                "guardian's consent is recorded on their roster entry (%(fields)s)."
            )
            % {"fields": ", ".join(f"“{self.column_of[name]}”" for name in extended)},
        )

    def _sensitive_error(self, number: int, guarded: list[str]) -> RowError:
        return RowError(
            number,
            self.column_of[guarded[0]],
            "",
            _("You may not fill %(fields)s for members in this department: you cannot view sensitive fields there.")
            % {"fields": ", ".join(f"“{self.column_of[name]}”" for name in guarded)},
        )


# --------------------------------------------------------------------------- the whole file


@dataclass
class CheckResult:
    fields: list[str]  # the member fields the file fills, in column order
    has_department: bool
    total_rows: int = 0
    error_rows: int = 0
    planned: list[PlannedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _empty_file() -> ImportFileError:
    return ImportFileError(_("The file is empty."))


def _not_csv(problem: Exception, row: int) -> ImportFileError:
    return ImportFileError(
        _("This row is not valid CSV (%(problem)s); check the quotes in it.") % {"problem": problem}, row=row
    )


def _too_many_rows(row: int) -> ImportFileError:
    return ImportFileError(
        _("The file has more than %(limit)d rows; split it into smaller files.") % {"limit": MAX_ROWS}, row=row
    )


# --------------------------------------------------------------------------- a file in parts (ORG-7)
#
# A large CSV file is checked in parts that can run at the same time (one Celery task
# each): ``split_file`` reads it once to find where each part starts, ``check_part``
# checks the rows of one part exactly as a whole-file check would except for
# duplicates within the file, and ``merge_parts`` finds those over all the parts, in
# row order, with the same messages. ``check_file`` is the same with a single part.


@dataclass(frozen=True)
class FileSplit:
    """``header``: the header cells (``None``: each part reads it, XLSX); ``spans``:
    per part, the character offsets of its rows in the decoded text and the number
    of its first row, or ``None`` for "every row of the file"."""

    header: list[str] | None
    spans: list[tuple[int, int, int] | None]


def _first_file_error(data: bytes, file_format: str, collected: frozenset[str]) -> None:
    """Read the file row by row as a whole-file check does and raise the first
    ``ImportFileError`` it meets (empty file, header, invalid CSV, too many rows)."""
    rows = read_rows(data, file_format)
    try:
        header_cells = next(rows)
    except StopIteration:
        raise _empty_file() from None
    parse_header(header_cells, collected)
    total = 0
    for number, cells in enumerate(rows, start=2):
        if any(cell.strip() for cell in cells):
            total += 1
            if total > MAX_ROWS:
                raise _too_many_rows(number)


def split_file(data: bytes, file_format: str, collected: frozenset[str], part_rows: int) -> FileSplit:
    """Where each part of ``part_rows`` rows (blank ones included) starts; raise the
    ``ImportFileError`` a whole-file check would raise about the file itself, except
    "no members" (``merge_parts``). XLSX files are one part, read by the part."""
    if file_format != "csv":
        read_rows(data, file_format)  # refuses an unknown format
        return FileSplit(None, [None])
    text = decode_text(data)
    if '"' not in text and text.count("\r") == text.count("\r\n"):
        plain = _split_plain(text, collected, part_rows)
        if plain is not None:
            if plain.rows > MAX_ROWS:  # more rows than allowed, unless enough of them are blank
                _first_file_error(data, file_format, collected)
            return plain.split
    lines = io.StringIO(text, newline="").readlines()  # the lines ``_csv_rows`` reads
    header_cells, starts = _split_quoted(data, file_format, collected, lines, part_rows)
    offsets = list(accumulate(map(len, lines), initial=0))
    ends = [line for line, _number in starts[1:]] + [len(lines)]
    spans = [(offsets[start], offsets[end], first) for (start, first), end in zip(starts, ends, strict=True)]
    return FileSplit(header_cells, spans)


@dataclass(frozen=True)
class _PlainSplit:
    split: FileSplit
    rows: int


def _split_plain(text: str, collected: frozenset[str], part_rows: int) -> _PlainSplit | None:
    """``split_file`` for text without quotes whose lines all end with "\n" (or
    "\r\n"): every line is one row, and the reader can only fail on a line longer
    than its field size limit -- then ``None``, and the file is read with the reader."""
    if not text:
        raise _empty_file()
    find, size = text.find, len(text)
    header_end = find("\n") + 1 or size
    header_cells = next(csv.reader([text[:header_end]]))
    parse_header(header_cells, collected)
    starts: list[tuple[int, int]] = []  # (offset, row number) where each part starts
    position, number, longest = header_end, 2, header_end
    while position < size:
        if not (number - 2) % part_rows:
            starts.append((position, number))
        end = find("\n", position) + 1 or size
        if end - position > longest:
            longest = end - position
        position = end
        number += 1
    if longest >= csv.field_size_limit():
        return None
    starts = starts or [(header_end, 2)]  # no rows: one empty part, reported by ``merge_parts``
    ends = [offset for offset, _number in starts[1:]] + [size]
    spans = [(start, end, first) for (start, first), end in zip(starts, ends, strict=True)]
    return _PlainSplit(FileSplit(header_cells, spans), number - 2)


def _split_quoted(
    data: bytes, file_format: str, collected: frozenset[str], lines: list[str], part_rows: int
) -> tuple[list[str], list[tuple[int, int]]]:
    """``split_file`` for text with quotes (a quoted cell may hold line breaks): the
    header and where each part starts, read with the CSV reader."""
    reader = csv.reader(lines, strict=True)
    starts: list[tuple[int, int]] = []
    number = 1
    try:
        try:
            header_cells = next(reader)
        except StopIteration:
            raise _empty_file() from None
        parse_header(header_cells, collected)
        header_end = last = reader.line_num
        for number, _cells in enumerate(reader, start=2):
            if not (number - 2) % part_rows:
                starts.append((last, number))
            last = reader.line_num
    except csv.Error as exc:
        _first_file_error(data, file_format, collected)  # raises the error met first: this one or the row limit
        raise _not_csv(exc, number + 1) from None
    if number - 1 > MAX_ROWS:  # more rows than allowed, unless enough of them are blank
        _first_file_error(data, file_format, collected)
    return header_cells, starts or [(header_end, 2)]  # no rows: one empty part (``merge_parts``)


@dataclass
class PartResult:
    """What checking one part found: ``planned`` the rows without errors (duplicates
    within the file not looked for yet), ``keys`` what ``merge_parts`` needs to find them."""

    header: list[str | None]
    labels: list[str]
    fields: list[str]
    total_rows: int = 0
    error_rows: int = 0
    planned: list[PlannedRow] = field(default_factory=list)
    planned_rows: list[int] = field(default_factory=list)  # their row numbers
    errors: list[RowError] = field(default_factory=list)
    keys: list[tuple[int, str, str, bool]] = field(default_factory=list)

    @property
    def has_department(self) -> bool:
        return DEPARTMENT in self.header


def _span_rows(text: str, first: int) -> Iterator[tuple[int, list[str]]]:
    number = first - 1
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline=""), strict=True), start=first):
            yield number, cells
    except csv.Error as exc:
        raise _not_csv(exc, number + 1) from None


def check_part(
    data: bytes,
    file_format: str,
    snapshot: RosterSnapshot,
    header_cells: list[str] | None = None,
    span: tuple[int, int, int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> PartResult:
    """Check the rows of one part of a file (``span`` from ``split_file``; ``None``:
    every row, the header read from the file). ``progress`` is called with the number
    of rows checked since its last call."""
    if span is None:
        rows = read_rows(data, file_format)
        try:
            header_cells = next(rows)
        except StopIteration:
            raise _empty_file() from None
        numbered: Iterator[tuple[int, list[str]]] = enumerate(rows, start=2)
    else:
        start, end, first = span
        numbered = _span_rows(decode_text(data)[start:end], first)
    header = parse_header(header_cells, snapshot.collected)
    labels = [cell.strip().replace("\ufeff", "") for cell in header_cells]
    checker = RowChecker(snapshot, header, labels, find_duplicates=False)
    result = PartResult(header=header, labels=labels, fields=checker.fields)
    planned_rows, errors, check = result.planned, result.errors, checker.check
    for number, cells in numbered:
        if not any(cell.strip() for cell in cells):
            continue
        result.total_rows += 1
        if result.total_rows > MAX_ROWS:
            raise _too_many_rows(number)
        planned, found = check(number, cells)
        if found:
            result.error_rows += 1
            errors.extend(found)
        else:
            planned_rows.append(planned)
        if progress is not None and result.total_rows % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
    result.planned_rows = [planned.row for planned in planned_rows]
    result.keys = checker.keys
    return result


@dataclass
class MergedCheck:
    """The verdict on the whole file: ``dropped`` the planned rows of the parts that
    are duplicates within the file (errors now), ``errors`` every error in row order."""

    total_rows: int
    error_rows: int
    valid_rows: int
    errors: list[RowError]
    dropped: set[int]


def merge_parts(parts: list[PartResult]) -> MergedCheck:
    """Duplicates within the file over all the parts (given in row order), as a
    whole-file check reports them: a row whose cells are valid and whose mobile number
    or employee number is on an earlier row gets "already on row N" (the first such
    row), before its other errors."""
    first = parts[0]
    checker = RowChecker(None, first.header, first.labels)
    first_mobile: dict[str, int] = {}
    first_number: dict[str, int] = {}
    duplicates: list[RowError] = []
    duplicate_rows: set[int] = set()
    keys = [key for part in parts for key in part.keys]
    mobiles = [mobile for _number, mobile, _employee_number, _resolved in keys if mobile]
    numbers = [employee_number for _number, _mobile, employee_number, _resolved in keys if employee_number]
    if len(set(mobiles)) == len(mobiles) and len(set(numbers)) == len(numbers):
        keys = []  # no value twice in the file: no duplicates to report
    for number, mobile, employee_number, resolved in keys:
        if resolved and (mobile in first_mobile or employee_number in first_number):
            found = checker.duplicate_errors(
                number,
                mobile,
                employee_number,
                first_mobile.get(mobile) if mobile else None,
                first_number.get(employee_number) if employee_number else None,
            )
            if found:
                duplicates += found
                duplicate_rows.add(number)
        if mobile:
            first_mobile.setdefault(mobile, number)
        if employee_number:
            first_number.setdefault(employee_number, number)
    total_rows = sum(part.total_rows for part in parts)
    if total_rows == 0:
        raise ImportFileError(_("The file has a header row but no members in it."), row=2)
    errors = [error for part in parts for error in part.errors]
    if duplicates:  # each row's duplicate errors first, then its other errors
        ordered = [(error.row, 0, index, error) for index, error in enumerate(duplicates)]
        ordered += [(error.row, 1, index, error) for index, error in enumerate(errors)]
        ordered.sort(key=lambda item: item[:3])
        errors = [item[3] for item in ordered]
    dropped = {number for part in parts for number in part.planned_rows if number in duplicate_rows}
    return MergedCheck(
        total_rows=total_rows,
        error_rows=sum(part.error_rows for part in parts) + len(dropped),
        valid_rows=sum(len(part.planned_rows) for part in parts) - len(dropped),
        errors=errors,
        dropped=dropped,
    )


def check_file(
    data: bytes,
    file_format: str,
    snapshot: RosterSnapshot,
    progress: Callable[[int], None] | None = None,
) -> CheckResult:
    """Check every row of a file as one part; raise ``ImportFileError`` when the file
    itself is unusable. Blank rows are skipped (their numbers still count)."""
    part = check_part(data, file_format, snapshot, progress=progress)
    merged = merge_parts([part])
    return CheckResult(
        fields=part.fields,
        has_department=part.has_department,
        total_rows=merged.total_rows,
        error_rows=merged.error_rows,
        planned=[row for row in part.planned if row.row not in merged.dropped],
        errors=merged.errors,
    )


def inspect_header(data: bytes, file_format: str, collected: frozenset[str]) -> list[str | None]:
    """The upload form's quick look: the header is usable and a data row follows."""
    rows = read_rows(data, file_format)
    try:
        header_cells = next(rows)
    except StopIteration:
        raise ImportFileError(_("The file is empty.")) from None
    header = parse_header(header_cells, collected)
    for cells in rows:
        if any(cell.strip() for cell in cells):
            return header
    raise ImportFileError(_("The file has a header row but no members in it."), row=2)
