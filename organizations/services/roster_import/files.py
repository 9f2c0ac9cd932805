"""The roster file as bytes (ORG-7, SEC-1): the upload limits, the format sniffed from
the first bytes, text decoding, and the checks that refuse a workbook that would cost too
much to read -- its parts by their unpacked sizes before any is opened, then its first
worksheet scanned as a stream for rows, columns and cells. Pure code, no database.

Files: CSV in UTF-8 (with or without the BOM Excel writes) or, failing that, GB18030
(a superset of GBK: what Excel on Chinese Windows saves as "CSV"), or XLSX. The kind is
recognized from the content, never from the name. Anything else is refused with a
message saying so.
"""

from __future__ import annotations

import io
import zipfile
from xml.etree import ElementTree

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_noop

from dataprotection.deferred_text import DeferredText, deferred
from dataprotection.files import sniff_document_type

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
NAMED_COLUMN_CHARS = 40  # of each named column: a message never echoes more of the file
PROBLEM_CHARS = 200  # of a reader's own complaint (zipfile, XML, csv) quoted in a message


class ImportFileError(Exception):
    """The file as a whole cannot be imported (format, encoding, header, limits): nothing
    in it is checked row by row. ``row`` and ``column`` say where, when that is known.

    The worker finds these, and the import's page shows them later to whoever reads it:
    the message is kept as deferred texts (``dataprotection.deferred_text``, sentences
    joined by a space) and rendered in the reader's language; ``message`` renders it in
    the active one. ``as_dict`` keeps both: ``message`` for the report, ``text`` for the page."""

    def __init__(self, *texts: DeferredText, row: int | None = None, column: str = ""):
        self.texts = texts
        self.row = row
        self.column = column
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return " ".join(text.render() for text in self.texts)

    def as_dict(self) -> dict:
        return {
            "row": self.row,
            "column": self.column,
            "value": "",
            "message": self.message,
            "text": [text.as_json() for text in self.texts],
        }


def render_error(error: dict) -> str:
    """An error kept on a job (``error_preview``) in the active language: a file error
    from its deferred texts, a row error as it was written."""
    texts = error.get("text")
    if texts:
        return " ".join(DeferredText.from_json(text).render() for text in texts)
    return error.get("message", "")


def _problem(problem) -> str | DeferredText:
    """A reader's complaint about the file, bounded (it may quote the file); one of
    ours (a deferred text) as it is."""
    if isinstance(problem, DeferredText):
        return problem
    text = str(problem)
    return text if len(text) <= PROBLEM_CHARS else text[: PROBLEM_CHARS - 1] + "…"


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
        raise _not_text()
    controls = sum(1 for char in text[:4096] if ord(char) < 32 and char not in "\t\r\n")
    if "\x00" in text or controls > 2:
        raise _not_text()
    return text


def _not_text() -> ImportFileError:
    return ImportFileError(
        deferred(gettext_noop("The file is not readable text: save it as CSV UTF-8 or as an Excel workbook (.xlsx)."))
    )


def unreadable_workbook(problem) -> ImportFileError:
    return ImportFileError(
        deferred(
            gettext_noop("The file is not an Excel workbook (.xlsx) that can be read: %(problem)s"),
            problem=_problem(problem),
        )
    )


def _too_big_to_unpack(size: int, limit: int) -> ImportFileError:
    return ImportFileError(
        deferred(
            gettext_noop(
                "The workbook unpacks to %(size)s, more than the %(limit)s a roster may take. Save it again as "
                "CSV UTF-8, or split it."
            ),
            size=filesizeformat(size),
            limit=filesizeformat(limit),
        )
    )


def too_many_columns(row: int) -> ImportFileError:
    return ImportFileError(
        deferred(
            gettext_noop("This row has more than %(limit)d columns; a roster file has at most %(limit)d."),
            limit=MAX_COLUMNS,
        ),
        row=row,
    )


def too_many_rows(row: int) -> ImportFileError:
    return ImportFileError(
        deferred(gettext_noop("The file has more than %(limit)d rows; split it into smaller files."), limit=MAX_ROWS),
        row=row,
    )


def empty_file() -> ImportFileError:
    return ImportFileError(deferred(gettext_noop("The file is empty.")))


def no_members() -> ImportFileError:
    return ImportFileError(deferred(gettext_noop("The file has a header row but no members in it.")), row=2)


def not_csv(problem: Exception, row: int) -> ImportFileError:
    return ImportFileError(
        deferred(
            gettext_noop("This row is not valid CSV (%(problem)s); check the quotes in it."), problem=_problem(problem)
        ),
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
        raise unreadable_workbook(exc) from None
    first = next((element for element in workbook.iter() if _local(element.tag) == "sheet"), None)
    if first is None:
        return None
    rid = next((value for key, value in first.attrib.items() if _local(key) == "id"), None)
    for relationship in relationships:
        if relationship.get("Id") == rid:
            target = relationship.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    raise unreadable_workbook("no worksheet")


def check_xlsx(data: bytes) -> None:
    """Refuse a workbook that would cost too much to read, before reading it: every
    part by its unpacked size (as the ZIP directory states it; a part that unpacks to
    more than it states fails its checksum at that size), then the first worksheet as a
    stream, element by element, for its rows, columns and cells."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise unreadable_workbook(exc) from None
    with archive:
        if len(parts) > XLSX_MAX_PARTS:
            raise unreadable_workbook(deferred(gettext_noop("it has %(count)d parts"), count=len(parts)))
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
        raise unreadable_workbook("no worksheet") from None
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
                            raise too_many_rows(int(number) if number.isdigit() else rows)
                    continue
                if tag == "c":
                    in_row += 1
                    cells += 1
                    if in_row > MAX_COLUMNS:
                        raise too_many_columns(rows)
                    if cells > MAX_CELLS:
                        raise ImportFileError(
                            deferred(
                                gettext_noop("The file has more than %(limit)d cells; split it into smaller files."),
                                limit=MAX_CELLS,
                            ),
                            row=rows,
                        )
                elif tag == "row" and sheet_data is not None:
                    sheet_data.clear()
    except (ElementTree.ParseError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise unreadable_workbook(exc) from None
