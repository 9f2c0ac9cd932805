"""Browser journey through the roster import (ORG-6, ORG-7) in Debian's chromium via
Playwright: the owner uploads a CSV with two bad rows, reads the problems on the page,
downloads the full report, imports only the valid rows and sees the imported count."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from dataprotection.models import AuditEvent
from organizations.models import ImportStatus, Member, RosterImport
from tests.browser.pages import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.realservices]


def roster_csv() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Name", "Mobile number", "Department", "Employee number"])
    writer.writerow(["Ann Lee", "139 0000 0001", "Sales/Sales East", "E1"])
    writer.writerow(["Bo Chen", "13900000002", "Sales", "E2"])
    writer.writerow(["Bad Mobile", "12345", "Sales", "E3"])
    writer.writerow(["Lost", "13900000004", "Marketing", "E4"])
    writer.writerow(["Cai Wu", "+86 139 0000 0005", "", "E5"])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def test_owner_imports_only_the_valid_rows_after_reading_the_report(cast, page):
    sign_in(page, cast.owner)
    page.goto(f"/orgs/{cast.organization.pk}/roster/")
    page.get_by_role("link", name="Import").click()
    expect(page.get_by_role("heading", name="Import roster")).to_be_visible()

    page.get_by_label("Roster file").set_input_files(
        {"name": "roster.csv", "mimeType": "text/csv", "buffer": roster_csv()}
    )
    page.get_by_label("I confirm that the members in this file gave their explicit consent").check()
    page.get_by_role("button", name="Upload and check").click()

    expect(page.get_by_role("heading", name="Roster import")).to_be_visible()
    expect(page.get_by_test_id("import-status")).to_have_text("Checked, waiting for your decision")
    expect(page.get_by_test_id("valid-rows")).to_have_text("3")
    expect(page.get_by_test_id("error-rows")).to_have_text("2")
    problems = page.locator("#import-errors tbody tr")
    expect(problems).to_have_count(2)
    expect(problems.nth(0)).to_contain_text("4")
    expect(problems.nth(0)).to_contain_text("Mobile number")
    expect(problems.nth(1)).to_contain_text("5")
    expect(problems.nth(1)).to_contain_text("no department “Marketing”")
    expect(page.get_by_role("button", name="Import all rows")).to_be_disabled()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the full report").click()
    download = download_info.value
    assert download.suggested_filename.endswith("-report.csv")
    report = list(csv.reader(io.StringIO(download.path().read_text(encoding="utf-8-sig"))))
    assert report[0] == ["Row", "Column", "Value", "Problem"]
    assert [line[:2] for line in report[1:]] == [["4", "Mobile number"], ["5", "Department"]]
    assert AuditEvent.objects.filter(action="roster.import_report_downloaded").count() == 1
    assert Member.objects.filter(organization=cast.organization).count() == 1  # nothing written yet

    page.get_by_role("button", name="Import only the 3 valid rows").click()
    expect(page.get_by_test_id("import-status")).to_have_text("Imported")
    expect(page.get_by_test_id("imported-rows")).to_have_text("3")
    expect(page.get_by_text("3 rows were imported.")).to_be_visible()

    job = RosterImport.objects.get()
    assert (job.status, job.imported_rows) == (ImportStatus.COMPLETED, 3)
    assert set(Member.objects.filter(organization=cast.organization).values_list("name", flat=True)) == {
        "Member",
        "Ann Lee",
        "Bo Chen",
        "Cai Wu",
    }
    page.get_by_role("link", name="Open the roster").click()
    expect(page.locator("#roster tbody tr")).to_have_count(4)


def test_a_wrong_header_is_shown_on_the_import_page_and_nothing_is_written(cast, page):
    """ORG-7, SEC-1: the upload takes the file without reading it; the worker finds the
    header wrong, and the import's page says what is wrong, in a few words."""
    sign_in(page, cast.owner)
    page.goto(f"/orgs/{cast.organization.pk}/roster/import/")
    header = ["Name", "Department", "Shoe size", *(f"Mystery {index} " + "x" * 200 for index in range(30))]
    content = ",".join(header).encode() + b"\nAnn Lee,Sales,42\n"
    page.get_by_label("Roster file").set_input_files({"name": "roster.csv", "mimeType": "text/csv", "buffer": content})
    page.get_by_label("I confirm that the members in this file gave their explicit consent").check()
    page.get_by_role("button", name="Upload and check").click()

    expect(page.get_by_role("heading", name="Roster import")).to_be_visible()
    expect(page.get_by_test_id("import-status")).to_have_text("Failed")
    failure = page.get_by_test_id("import-failure")
    expect(failure).to_contain_text("Unknown columns: “Shoe size”, “Mystery 0")
    expect(failure).to_contain_text("and 26 more")
    expect(failure).to_contain_text("The column “mobile number” is required.")
    assert len(failure.inner_text()) < 500
    expect(page.get_by_role("button", name="Import all rows")).to_have_count(0)

    job = RosterImport.objects.get()
    assert (job.status, job.file_ref) == (ImportStatus.FAILED, "")
    assert Member.objects.filter(organization=cast.organization).count() == 1
