"""Hostile roster files (ORG-7, SEC-1): small uploads that would cost a reader gigabytes
or minutes. Used by the import tests and by ``bench/upload_bombs.py``."""

from __future__ import annotations

import io
import zipfile

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Roster" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/>{extra}</Relationships>'
)
SHARED_STRINGS_REL = (
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'sharedStrings" Target="sharedStrings.xml"/>'
)
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_TAIL = "</sheetData></worksheet>"


def _workbook(sheet_chunks, shared_strings_chunks=None) -> bytes:
    """A minimal XLSX whose sheet (and shared strings) are written chunk by chunk, so
    even a part of hundreds of megabytes never sits in memory whole."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        extra = SHARED_STRINGS_REL if shared_strings_chunks is not None else ""
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.format(extra=extra))
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            for chunk in sheet_chunks:
                sheet.write(chunk.encode())
        if shared_strings_chunks is not None:
            with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as strings:
                for chunk in shared_strings_chunks:
                    strings.write(chunk.encode())
    return buffer.getvalue()


def _inline(text: str) -> str:
    return f'<c t="inlineStr"><is><t>{text}</t></is></c>'


def one_wide_row(cells: int = 2_000_000) -> bytes:
    """One row of ``cells`` cells (the issue's 58 KB file took 12.7 s and 981 MB)."""

    def chunks():
        yield SHEET_HEAD + "<row>"
        block = "<c><v>1</v></c>" * 10_000
        for _ in range(cells // 10_000):
            yield block
        yield "</row>" + SHEET_TAIL

    return _workbook(chunks())


def sheet_bomb(unpacked_bytes: int = 300 * 1024 * 1024) -> bytes:
    """A valid roster header, then rows until the sheet unpacks to ``unpacked_bytes``."""
    row = "<row>" + _inline("1") + "</row>"
    block = row * 20_000

    def chunks():
        yield SHEET_HEAD + "<row>" + _inline("name") + _inline("mobile") + "</row>"
        for _ in range(unpacked_bytes // len(block) + 1):
            yield block
        yield SHEET_TAIL

    return _workbook(chunks())


def shared_strings_bomb(unpacked_bytes: int = 64 * 1024 * 1024) -> bytes:
    """A tiny sheet pointing into a shared-strings table of ``unpacked_bytes``."""
    item = "<si><t>" + "x" * 1000 + "</t></si>"
    block = item * 1_000

    def strings():
        yield '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        for _ in range(unpacked_bytes // len(block) + 1):
            yield block
        yield "</sst>"

    sheet = [SHEET_HEAD + '<row><c t="s"><v>0</v></c><c t="s"><v>1</v></c></row>' + SHEET_TAIL]
    return _workbook(sheet, strings())


def wide_csv(columns: int = 200_000) -> bytes:
    """A header of ``columns`` made-up column names (2 MB of names)."""
    return (",".join(f"column number {index}" for index in range(columns)) + "\n").encode()


def roster_workbook(rows: int) -> bytes:
    """An ordinary workbook: a header and ``rows`` members, in this module's writer."""

    def chunks():
        yield SHEET_HEAD + "<row>" + _inline("name") + _inline("mobile") + "</row>"
        for index in range(rows):
            yield "<row>" + _inline(f"Member {index}") + _inline(f"+86139{index:08d}") + "</row>"
        yield SHEET_TAIL

    return _workbook(chunks())


def far_row() -> bytes:
    """Two rows, the second numbered a million: a reader fills the gap with empty rows."""
    sheet = [
        SHEET_HEAD
        + '<row r="1">'
        + _inline("name")
        + _inline("mobile")
        + '</row><row r="1000000">'
        + _inline("x")
        + "</row>"
        + SHEET_TAIL
    ]
    return _workbook(sheet)
