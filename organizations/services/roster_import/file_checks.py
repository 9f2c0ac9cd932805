"""Checking a whole roster file, in parts (ORG-7).

A large CSV file is checked in parts that can run at the same time (one Celery task
each): ``split_file`` reads it once to find where each part starts, ``check_part``
checks the rows of one part exactly as a whole-file check would except for
duplicates within the file, and ``merge_parts`` finds those over all the parts, in
row order, with the same messages. ``check_file`` is the same with a single part.
Pure code, no database.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate

from organizations.services.roster_import import files
from organizations.services.roster_import.checks import PlannedRow, RowChecker, RowError
from organizations.services.roster_import.columns import DEPARTMENT
from organizations.services.roster_import.files import (
    decode_text,
    empty_file,
    no_members,
    not_csv,
    too_many_rows,
)
from organizations.services.roster_import.parsing import parse_header, read_rows
from organizations.services.roster_import.snapshot import RosterSnapshot

PROGRESS_EVERY = 5_000  # rows between progress updates of the job row


@dataclass
class CheckResult:
    fields: list[str]  # the member fields the file fills, in column order
    has_department: bool
    total_rows: int = 0
    error_rows: int = 0
    planned: list[PlannedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


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
        raise empty_file() from None
    parse_header(header_cells, collected)
    total = 0
    for number, cells in enumerate(rows, start=2):
        if any(cell.strip() for cell in cells):
            total += 1
            if total > files.MAX_ROWS:
                raise too_many_rows(number)


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
            if plain.rows > files.MAX_ROWS:  # more rows than allowed, unless enough of them are blank
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
        raise empty_file()
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
            raise empty_file() from None
        parse_header(header_cells, collected)
        header_end = last = reader.line_num
        for number, _cells in enumerate(reader, start=2):
            if not (number - 2) % part_rows:
                starts.append((last, number))
            last = reader.line_num
    except csv.Error as exc:
        _first_file_error(data, file_format, collected)  # raises the error met first: this one or the row limit
        raise not_csv(exc, number + 1) from None
    if number - 1 > files.MAX_ROWS:  # more rows than allowed, unless enough of them are blank
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
        raise not_csv(exc, number + 1) from None


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
            raise empty_file() from None
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
        if result.total_rows > files.MAX_ROWS:
            raise too_many_rows(number)
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
        raise no_members()
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
