"""Hostile roster files are refused before they cost memory or time (ORG-7, SEC-1): a
workbook's parts are checked by their unpacked sizes before any is opened, its sheet is
scanned as a stream for rows, columns and cells, and a message names at most a few of
the offending columns."""

from __future__ import annotations

import pytest
from django.utils import translation

from organizations.services.roster_import import files, parsing
from tests.organizations import roster_bombs

COLLECTED = frozenset({"name", "mobile"})


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def refusal(data: bytes) -> files.ImportFileError:
    with pytest.raises(files.ImportFileError) as caught:
        list(parsing.read_rows(data, files.sniff_format(data[:8192])))
    return caught.value


def test_one_row_of_millions_of_cells_is_refused_at_its_101st(monkeypatch):
    """The issue's 58 KB workbook with one 2,000,000-cell row: refused while scanning,
    openpyxl never opens it."""
    opened = []
    monkeypatch.setattr("openpyxl.load_workbook", lambda *args, **kwargs: opened.append(1))
    error = refusal(roster_bombs.one_wide_row())
    assert error.row == 1
    assert error.message == "This row has more than 100 columns; a roster file has at most 100."
    assert opened == []


def test_a_sheet_that_unpacks_past_the_limit_is_refused_unopened(monkeypatch):
    monkeypatch.setattr(files, "XLSX_MAX_UNPACKED_BYTES", 5 * 1024 * 1024)
    error = refusal(roster_bombs.sheet_bomb(unpacked_bytes=6 * 1024 * 1024))
    assert error.message.startswith("The workbook unpacks to 6.")
    assert "more than the 5.0\xa0MB a roster may take" in error.message


def test_the_sheet_itself_has_its_own_limit(monkeypatch):
    monkeypatch.setattr(files, "XLSX_MAX_SHEET_BYTES", 1024 * 1024)
    error = refusal(roster_bombs.sheet_bomb(unpacked_bytes=2 * 1024 * 1024))
    assert "more than the 1.0\xa0MB a roster may take" in error.message


def test_a_shared_strings_bomb_is_refused_before_the_strings_are_read(monkeypatch):
    """The issue's 416 KB shared-strings workbook (12 s, 364 MB)."""
    monkeypatch.setattr(files, "XLSX_MAX_SHARED_STRINGS_BYTES", 2 * 1024 * 1024)
    opened = []
    monkeypatch.setattr("openpyxl.load_workbook", lambda *args, **kwargs: opened.append(1))
    error = refusal(roster_bombs.shared_strings_bomb(unpacked_bytes=3 * 1024 * 1024))
    assert "more than the 2.0\xa0MB a roster may take" in error.message
    assert opened == []


def test_too_many_rows_and_cells_are_counted_while_scanning(monkeypatch):
    monkeypatch.setattr(files, "MAX_ROWS", 10)
    error = refusal(roster_bombs.roster_workbook(rows=50))
    assert error.row == 12 and "more than 10 rows" in error.message
    monkeypatch.setattr(files, "MAX_ROWS", 200_000)
    monkeypatch.setattr(files, "MAX_CELLS", 30)
    error = refusal(roster_bombs.roster_workbook(rows=50))
    assert "more than 30 cells" in error.message


def test_a_row_numbered_far_away_counts_by_its_number():
    error = refusal(roster_bombs.far_row())
    assert error.row == 1_000_000 and "more than 200000 rows" in error.message


def test_an_ordinary_workbook_still_reads():
    rows = list(parsing.read_rows(roster_bombs.roster_workbook(rows=3), "xlsx"))
    assert rows[0] == ["name", "mobile"]
    assert rows[1] == ["Member 0", "+8613900000000"]
    assert len(rows) == 4


def test_a_csv_header_of_200000_columns_is_refused_in_a_short_message():
    """The issue's CSV echoed all 2.09 million characters of its column names."""
    error = refusal(roster_bombs.wide_csv())
    assert error.row == 1
    assert len(error.message) < 200


def test_unknown_columns_are_named_at_most_five_times():
    cells = ["name", "mobile", *(f"mystery {index}" for index in range(40))]
    with pytest.raises(files.ImportFileError) as caught:
        parsing.parse_header(cells, COLLECTED)
    message = caught.value.message
    assert "“mystery 0”, “mystery 1”, “mystery 2”, “mystery 3”, “mystery 4” and 35 more" in message
    assert "mystery 5”" not in message


def test_a_broken_zip_is_an_unreadable_workbook():
    error = refusal(b"PK\x03\x04" + b"\x00" * 100)
    assert error.message.startswith("The file is not an Excel workbook (.xlsx) that can be read")
