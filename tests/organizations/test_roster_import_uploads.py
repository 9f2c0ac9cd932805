"""Uploads are stored, never parsed, in the web request (ORG-7, SEC-1): the upload checks
the size cap and sniffs the kind from the first bytes, seals the file and starts the job;
the worker reads the header and checks the file's limits. Each hostile file of
``roster_bombs`` is accepted by the upload and refused by the worker with its message,
and nothing is written to the roster. The time and memory of the web request are
measured by ``bench/upload_bombs.py``."""

from __future__ import annotations

import csv
import tracemalloc
from xml.etree import ElementTree

import pytest

from organizations.models import ImportStatus, RosterImport, UploadAttestation
from organizations.services.roster_import import file_checks, files, parsing
from tests.organizations import roster_bombs
from tests.organizations.test_roster_import import (
    csv_bytes,
    detail_url,
    good_rows,
    latest_job,
    member_count,
    upload,
)

pytestmark = pytest.mark.django_db

# name: (the file, its name, what the worker says about it)
BOMBS = {
    "2,000,000-cell row": (roster_bombs.one_wide_row, "roster.xlsx", "This row has more than 100 columns"),
    "sheet bomb": (roster_bombs.sheet_bomb, "roster.xlsx", "The workbook unpacks to 300.0\xa0MB, more than the"),
    "shared-strings bomb": (roster_bombs.shared_strings_bomb, "roster.xlsx", "more than the 32.0\xa0MB a roster"),
    "200,000-column CSV": (roster_bombs.wide_csv, "roster.csv", "This row has more than 100 columns"),
}
# An upload that parsed one of them would hold hundreds of megabytes (the 2,000,000-cell
# row: 981 MB); storing it takes a few copies of a file of at most 4 MB.
REQUEST_PEAK_BYTES = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def bomb_files() -> dict[str, bytes]:
    return {name: make() for name, (make, _file_name, _message) in BOMBS.items()}


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def owner_client(client, cast):
    client.force_login(cast.owner)
    return client


def _never(what: str):
    def refuse(*args, **kwargs):
        raise AssertionError(f"{what} ran in the web request")

    return refuse


def forbid_parsing(monkeypatch) -> None:
    """Every way into a file's contents beyond its first bytes raises."""
    monkeypatch.setattr("openpyxl.load_workbook", _never("openpyxl.load_workbook"))
    monkeypatch.setattr(ElementTree, "iterparse", _never("ElementTree.iterparse"))
    monkeypatch.setattr(csv, "reader", _never("csv.reader"))
    for module, name in (
        (parsing, "read_rows"),
        (parsing, "parse_header"),
        (files, "check_xlsx"),
        (file_checks, "split_file"),
        (file_checks, "check_part"),
    ):
        monkeypatch.setattr(module, name, _never(f"{module.__name__}.{name}"))


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_a_bomb_is_accepted_by_the_upload_and_refused_by_the_worker(
    owner_client, cast, monkeypatch, django_capture_on_commit_callbacks, bomb_files, bomb
):
    """ORG-7, SEC-1: the upload never parses (every parser raises while it runs, and it
    holds far less memory than parsing would); the worker refuses the file with its
    message, the job fails, nothing is written and the stored file is deleted."""
    _make, file_name, message = BOMBS[bomb]
    content = bomb_files[bomb]
    with monkeypatch.context() as patched:
        forbid_parsing(patched)
        with django_capture_on_commit_callbacks() as callbacks:
            tracemalloc.start()
            try:
                response = upload(owner_client, cast, content, name=file_name)
                _current, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    assert response.status_code == 302, response.content[:2000]
    job = latest_job()
    assert job.status == ImportStatus.VALIDATING and job.file_ref
    assert peak < REQUEST_PEAK_BYTES, peak
    assert len(callbacks) == 1  # the check, queued once the upload commits

    callbacks[0]()  # the worker's turn, parsers back
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.file_ref == ""
    assert message in job.last_error
    assert len(job.last_error) < 300  # a short message, whatever the file holds
    assert member_count(cast) == 1
    assert UploadAttestation.objects.get().fields == []
    page = owner_client.get(detail_url(cast, job)).content.decode()
    assert message in page


def test_a_200000_column_header_is_named_in_a_few_bounded_names(owner_client, cast, django_capture_on_commit_callbacks):
    """The issue's CSV echoed all 2.09 million characters of its column names: a header
    of unknown columns -- within the column limit, each name long -- is answered with at
    most five names, each cut short, and a count of the rest."""
    header = ["name", "mobile", *(f"column {index} " + "x" * 1000 for index in range(90))]
    upload(owner_client, cast, csv_bytes(good_rows(1), header), capture=django_capture_on_commit_callbacks)
    job = latest_job()
    assert job.status == ImportStatus.FAILED
    assert "and 85 more" in job.last_error
    assert job.last_error.count("“column ") == 5
    assert len(job.last_error) < 400
    page = owner_client.get(detail_url(cast, job)).content.decode()
    assert "column 5 " not in page and "x" * 50 not in page


def test_a_good_file_still_goes_through_after_an_upload_that_never_parsed(
    owner_client, cast, monkeypatch, django_capture_on_commit_callbacks
):
    """The worker fills what the upload used to: the attestation's columns (ORG-6)."""
    with monkeypatch.context() as patched:
        forbid_parsing(patched)
        with django_capture_on_commit_callbacks() as callbacks:
            response = upload(owner_client, cast, csv_bytes(good_rows(3)))
    assert response.status_code == 302
    callbacks[0]()
    job = RosterImport.objects.get()
    assert (job.status, job.valid_rows) == (ImportStatus.VALIDATED, 3)
    assert UploadAttestation.objects.get().fields == ["name", "mobile", "employee_number", "department"]


def test_a_row_error_echoes_only_an_excerpt_of_a_huge_cell(owner_client, cast, django_capture_on_commit_callbacks):
    """A cell may hold 131,072 characters: the error shows at most an excerpt of it, in
    its value and in its message, on the page and in the report."""
    rows = [["Ann Lee", "13900000001", "Q" * 100_000, "E1"], ["N" * 100_000, "13900000002", "Sales", "E2"]]
    upload(owner_client, cast, csv_bytes(rows), capture=django_capture_on_commit_callbacks)
    job = latest_job()
    assert (job.status, job.error_rows) == (ImportStatus.VALIDATED, 2)
    assert all(len(error["value"]) <= 100 and len(error["message"]) < 300 for error in job.error_preview)
    assert "There is no department “" + "Q" * 99 + "…”" in job.error_preview[0]["message"]
    assert len(owner_client.get(detail_url(cast, job)).content) < 100_000
