"""Roster import (ORG-5, ORG-6, ORG-7, ORG-10): the permission matrix of every view, bad
files and bad rows that write nothing and name the row and column, the decision
(all rows / only the valid rows), all-or-nothing writes under fault injection,
idempotent tasks, constant query counts, and XLSX files."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from dataprotection.files import store_encrypted
from dataprotection.identifiers import id_number_check_digit, luhn_check_digit
from dataprotection.models import AuditEvent
from organizations.models import (
    CollectionSetting,
    ImportStatus,
    Member,
    MemberDepartment,
    MemberStatus,
    Right,
    RosterImport,
    UploadAttestation,
)
from organizations.services.grants import grant_rights
from organizations.services.lookups import id_number_digest, mobile_digest
from organizations.services.roster_import import checks, columns, file_checks, files, jobs, parsing, service, writing
from organizations.services.roster_import.snapshot import build_snapshot
from organizations.tasks import run_roster_import, validate_roster_import
from tests.factories import AdministratorFactory, DepartmentFactory, MemberFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = ("owner", "sub_admin", "out_of_scope_sub_admin", "other_org_admin", "member_user", "staff", "anonymous")
HEADER = ["name", "mobile", "department", "employee_number"]


def id_number(sequence: int) -> str:
    first17 = f"33010619880512{sequence % 1000:03d}"
    return first17 + id_number_check_digit(first17)


def bank_card(sequence: int) -> str:
    body = f"622202{sequence:012d}"
    return body + luhn_check_digit(body)


def mobile(index: int) -> str:
    return f"139{index:08d}"


def e164(index: int) -> str:
    return f"+86{mobile(index)}"


def csv_bytes(rows, header=HEADER, *, encoding="utf-8-sig") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def good_rows(count: int, start: int = 1, department: str = "Sales/Sales East") -> list[list[str]]:
    return [[f"Person {i}", mobile(i), department, f"E{i:05d}"] for i in range(start, start + count)]


def collect(organization, *fields: str) -> None:
    for field in fields:
        CollectionSetting.objects.update_or_create(
            organization=organization, field=field, defaults={"enabled": True, "purpose": "Payroll"}
        )


def upload_url(cast) -> str:
    return reverse("organizations:roster_import", args=[cast.organization.pk])


def detail_url(cast, job) -> str:
    return reverse("organizations:roster_import_detail", args=[cast.organization.pk, job.pk])


def report_url(cast, job) -> str:
    return reverse("organizations:roster_import_report", args=[cast.organization.pk, job.pk])


def upload(client, cast, content: bytes, *, name="roster.csv", attest=True, capture=None):
    data = {"file": SimpleUploadedFile(name, content, content_type="text/csv")}
    if attest:
        data["attestation"] = "on"
    if capture is None:
        return client.post(upload_url(cast), data)
    with capture(execute=True):
        return client.post(upload_url(cast), data)


def latest_job() -> RosterImport:
    return RosterImport.objects.order_by("-pk").first()


def decide(client, cast, job, action, capture):
    with capture(execute=True):
        return client.post(detail_url(cast, job), {"action": action})


def member_count(cast) -> int:
    return Member.objects.filter(organization=cast.organization).count()


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def owner_client(client, cast):
    client.force_login(cast.owner)
    return client


# --------------------------------------------------------------------------- permission matrix

# Expected status per role: upload GET, template GET, detail GET, report GET, decision POST
# (on an import the owner uploaded).
MATRIX = {
    "owner": (200, 200, 200, 200, 302),
    "sub_admin": (200, 200, 404, 404, 404),  # edit_roster on Sales: sees only its own imports
    "out_of_scope_sub_admin": (200, 200, 404, 404, 404),
    "other_org_admin": (404, 404, 404, 404, 404),
    "member_user": (404, 404, 404, 404, 404),
    "staff": (404, 404, 404, 404, 404),
    "anonymous": (302, 302, 302, 302, 302),
}


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix_of_every_import_view(client, cast, role, django_capture_on_commit_callbacks):
    client.force_login(cast.owner)
    upload(client, cast, csv_bytes(good_rows(2)), capture=django_capture_on_commit_callbacks)
    job = latest_job()
    assert job.status == ImportStatus.VALIDATED
    client.logout()
    if role != "anonymous":
        client.force_login(getattr(cast, role))
    responses = (
        client.get(upload_url(cast)),
        client.get(upload_url(cast) + "?template=csv"),
        client.get(detail_url(cast, job)),
        client.get(report_url(cast, job)),
        client.post(detail_url(cast, job), {"action": "discard"}),
    )
    assert tuple(response.status_code for response in responses) == MATRIX[role]
    if role == "anonymous":
        login = reverse("accounts:login")
        assert all(response["Location"].startswith(login) for response in responses)
    job.refresh_from_db()
    assert job.status == (ImportStatus.DISCARDED if role == "owner" else ImportStatus.VALIDATED)
    assert member_count(cast) == 1  # only the cast's member: nothing was imported


def test_admin_without_edit_roster_gets_403(client, cast):
    viewer = UserFactory(name="Viewer")
    AdministratorFactory(organization=cast.organization, user=viewer, scope=[cast.sales])
    grant_rights(viewer, [Right.VIEW_ROSTER], cast.sales)
    client.force_login(viewer)
    assert client.get(upload_url(cast)).status_code == 403
    response = upload(client, cast, csv_bytes(good_rows(1)))
    assert response.status_code == 403
    assert not RosterImport.objects.exists()


def test_sub_admin_sees_its_own_import_and_writes_only_in_its_scope(client, cast, django_capture_on_commit_callbacks):
    client.force_login(cast.sub_admin)
    rows = [*good_rows(2), ["Engineer", mobile(50), "Engineering", "E00050"], ["Rootless", mobile(51), "", ""]]
    upload(client, cast, csv_bytes(rows), capture=django_capture_on_commit_callbacks)
    job = latest_job()
    assert client.get(detail_url(cast, job)).status_code == 200
    assert (job.total_rows, job.valid_rows, job.error_rows) == (4, 2, 2)
    assert {(error["row"], error["column"]) for error in job.error_preview} == {(4, "department"), (5, "department")}
    decide(client, cast, job, "valid_only", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == ImportStatus.COMPLETED and job.imported_rows == 2
    assert set(Member.objects.filter(name__startswith="Person").values_list("name", flat=True)) == {
        "Person 1",
        "Person 2",
    }


# --------------------------------------------------------------------------- the upload page


def test_template_csv_has_the_collected_fields(owner_client, cast):
    collect(cast.organization, "id_number")
    response = owner_client.get(upload_url(cast) + "?template=csv", HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text)))
    fields = [columns.header_aliases()[columns.normalize_header(cell)] for cell in header]
    assert fields[:3] == ["name", "mobile", "department"]
    assert "id_number" in fields and "employee_number" in fields
    assert "bank_card" not in fields  # not collected


def test_excel_template_reads_back_as_a_header_only_import_with_a_guide(owner_client, cast):
    """ORG-7: the first sheet -- the only one the import reads -- is the header row; the
    guide sheet gives every column's allowed values and an example row, with the
    organization's own department paths; the department column offers them in a list."""
    from openpyxl import load_workbook

    collect(cast.organization, "id_number", "degree")
    response = owner_client.get(upload_url(cast) + "?template=xlsx", HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Roster", "Guide", "Departments"]
    header = [cell.value for cell in workbook["Roster"][1]]
    assert workbook["Roster"].max_row == 1  # no example row where the import would read it
    fields = [columns.header_aliases()[columns.normalize_header(cell)] for cell in header]
    assert fields[:3] == ["name", "mobile", "department"] and {"id_number", "degree"} <= set(fields)
    rows = list(workbook["Guide"].iter_rows(values_only=True))
    by_column = {row[0]: row for row in rows[3 : 3 + len(header)]}
    assert by_column["Mobile number"][1] == "Yes" and by_column["Department"][1] == "No"
    assert "Sales/Sales East" in by_column["Department"][2] and "Engineering" in by_column["Department"][2]
    assert "Bachelor's degree" in by_column["Degree"][2]
    assert by_column["Department"][3] == "Sales/Sales East"
    example_header, example = rows[-2], rows[-1]
    assert list(example_header) == header and example[1] == "13900001111"
    departments = [row[0] for row in workbook["Departments"].iter_rows(min_row=2, values_only=True)]
    assert departments == ["Sales", "Sales/Sales East", "Engineering"]  # tree order
    validations = {str(v.sqref).split(":")[0]: v.formula1 for v in workbook["Roster"].data_validations.dataValidation}
    assert validations["C2"] == "'Departments'!$A$2:$A$4"
    # The template, uploaded as it is, is a file with a header and no rows: nothing to import.
    assert list(parsing.read_rows(response.content, "xlsx")) == [header]


def test_upload_page_lists_the_columns_with_allowed_values(owner_client, cast):
    content = owner_client.get(upload_url(cast), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="import-columns"' in content
    assert "Sales/Sales East" in content and "13900001111" in content


def test_upload_page_links_template_and_roster_list_links_import_and_export(owner_client, cast):
    content = owner_client.get(upload_url(cast)).content.decode()
    assert "?template=csv" in content and "?template=xlsx" in content
    roster = owner_client.get(reverse("organizations:roster", args=[cast.organization.pk])).content.decode()
    assert upload_url(cast) in roster
    assert reverse("organizations:roster_export", args=[cast.organization.pk]) in roster


def test_roster_list_hides_import_without_edit_roster(client, cast):
    viewer = UserFactory(name="Viewer")
    AdministratorFactory(organization=cast.organization, user=viewer, scope=[cast.sales])
    grant_rights(viewer, [Right.VIEW_ROSTER], cast.sales)
    client.force_login(viewer)
    roster = client.get(reverse("organizations:roster", args=[cast.organization.pk])).content.decode()
    assert upload_url(cast) not in roster
    assert reverse("organizations:roster_export", args=[cast.organization.pk]) in roster


# --------------------------------------------------------------------------- bad files: refused on the upload page


def form_errors(response) -> str:
    assert response.status_code == 200, response.status_code
    return " ".join(str(error) for errors in response.context["form"].errors.values() for error in errors)


def assert_nothing_written(cast) -> None:
    assert member_count(cast) == 1
    assert not RosterImport.objects.exists()
    assert not UploadAttestation.objects.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "The submitted file is empty"),
        (b"\x00\x01\x02\xff\xfe binary \x00 garbage" * 20, "not a CSV or Excel"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "not a CSV or Excel"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200, "not a CSV or Excel"),
    ],
    ids=["empty", "garbage", "pdf", "old-xls"],
)
def test_files_of_another_kind_are_refused_on_the_upload_page_and_write_nothing(owner_client, cast, content, expected):
    """ORG-7, SEC-1: what the first bytes give away (nothing, binary, a PDF, an old
    .xls) is refused by the upload itself; nothing else of the file is read there."""
    response = upload(owner_client, cast, content, name="roster.csv")
    assert expected in form_errors(response)
    assert_nothing_written(cast)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"PK\x03\x04 not really a workbook", "not an Excel workbook"),
        (csv_bytes([]), "The file has a header row but no members"),
        (csv_bytes(good_rows(1), ["name", "mobile", "shoe size"]), "Unknown columns: “shoe size”"),
        (csv_bytes(good_rows(1), ["name", "department"]), "The column “mobile number” is required"),
        (
            csv_bytes([["A", mobile(1), "x"]], ["name", "mobile", "ID card number"]),
            "The organization does not collect “ID card number”; turn it on in collection settings",
        ),
        (b'name,mobile\n"Unclosed,13900000001\n', "This row is not valid CSV"),
    ],
    ids=["fake-zip", "header-only", "unknown", "missing", "not-collected", "malformed"],
)
def test_unusable_files_fail_their_job_with_a_clear_message_and_write_nothing(
    owner_client, cast, settings, tmp_path, django_capture_on_commit_callbacks, content, expected
):
    """ORG-7, SEC-1: the header and the file's shape are read by the worker, never by the
    upload: the upload is accepted, the job fails with the message on the import's page,
    nothing reaches the roster and the stored file is deleted (the one-line report stays)."""
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    response = upload(owner_client, cast, content, name="roster.csv", capture=django_capture_on_commit_callbacks)
    assert response.status_code == 302
    job = latest_job()
    assert job.status == ImportStatus.FAILED and job.file_ref == ""
    assert expected in job.last_error
    assert [path.name for path in settings.PRIVATE_MEDIA_ROOT.iterdir()] == [job.report_ref]
    assert member_count(cast) == 1
    page = owner_client.get(detail_url(cast, job)).content.decode()
    assert "Nothing was imported." in page and expected in page


def test_a_header_error_is_shown_in_the_readers_language(owner_client, cast, django_capture_on_commit_callbacks):
    """The worker fails the job in the uploader's language; the page renders the file's
    problem again in the language of whoever reads it."""
    content = csv_bytes(good_rows(1), ["name", "department", "shoe size"])
    upload(owner_client, cast, content, capture=django_capture_on_commit_callbacks)
    job = latest_job()
    assert job.status == ImportStatus.FAILED
    assert job.last_error.startswith("Unknown columns: “shoe size”.")
    page = owner_client.get(detail_url(cast, job), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "Unknown columns" not in page
    assert "无法识别的列：“shoe size”" in page and "“手机号”" in page


def test_missing_attestation_is_refused(owner_client, cast):
    response = upload(owner_client, cast, csv_bytes(good_rows(1)), attest=False)
    assert "Confirm that the members consented" in form_errors(response)
    assert_nothing_written(cast)


def test_oversized_upload_is_refused(owner_client, cast, monkeypatch):
    monkeypatch.setattr(files, "MAX_UPLOAD_BYTES", 200)
    response = upload(owner_client, cast, csv_bytes(good_rows(20)))
    assert "the largest allowed is 200" in form_errors(response)
    assert_nothing_written(cast)


def test_gbk_csv_from_excel_on_chinese_windows_is_read(owner_client, cast, django_capture_on_commit_callbacks):
    header = ["姓名", "手机号", "部门", "工号"]
    rows = [["张伟", mobile(1), "Sales/Sales East", "E1"], ["李娜", mobile(2), "Sales East", "E2"]]
    response = upload(
        owner_client, cast, csv_bytes(rows, header, encoding="gbk"), capture=django_capture_on_commit_callbacks
    )
    assert response.status_code == 302
    job = latest_job()
    assert (job.status, job.valid_rows, job.error_rows) == (ImportStatus.VALIDATED, 2, 0), job.error_preview
    decide(owner_client, cast, job, "all", django_capture_on_commit_callbacks)
    assert set(Member.objects.filter(employee_number__in=["E1", "E2"]).values_list("name", flat=True)) == {
        "张伟",
        "李娜",
    }


# --------------------------------------------------------------------------- bad rows: reported, nothing written


def check(client, cast, rows, capture, header=HEADER) -> RosterImport:
    response = upload(client, cast, csv_bytes(rows, header), capture=capture)
    assert response.status_code == 302, form_errors(response)
    job = latest_job()
    assert response["Location"] == detail_url(cast, job)
    return job


def errors_of(job) -> dict[tuple[int, str], str]:
    return {(error["row"], error["column"]): error["message"] for error in job.error_preview}


def test_each_bad_row_is_reported_with_row_column_and_message(owner_client, cast, django_capture_on_commit_callbacks):
    collect(cast.organization, "id_number", "bank_card", "hired_on", "degree", "labor_contract_status")
    MemberFactory(organization=cast.organization, department=cast.sales, name="Taken", employee_number="E-TAKEN")
    header = [*HEADER, "ID card number", "bank_card", "hired_on", "degree", "Labor-contract status", "office_email"]
    bad_id = id_number(1)[:-1] + ("0" if id_number(1)[-1] != "0" else "1")
    rows = [
        ["Good", mobile(1), "Sales", "E1", id_number(1), bank_card(1), "2024-03-01", "Master's degree", "regular",
         "a@example.com"],
        ["", mobile(2), "Sales", "E2", "", "", "", "", "", ""],
        ["Bad mobile", "12345", "Sales", "E3", "", "", "", "", "", ""],
        ["Bad id", mobile(4), "Sales", "E4", bad_id, "", "", "", "", ""],
        ["Bad card", mobile(5), "Sales", "E5", "", "6222021234567890", "", "", "", ""],
        ["Bad date", mobile(6), "Sales", "E6", "", "", "01/03/2024", "", "", ""],
        ["Bad choice", mobile(7), "Sales", "E7", "", "", "", "wizard", "", ""],
        ["Bad email", mobile(8), "Sales", "E8", "", "", "", "", "", "not-an-email"],
        ["No dept", mobile(9), "Marketing/Nowhere", "E9", "", "", "", "", "", ""],
        ["Dup number", mobile(10), "Sales", "E1", "", "", "", "", "", ""],
        ["Taken number", mobile(11), "Sales", "E-TAKEN", "", "", "", "", "", ""],
        ["Dup mobile", mobile(1), "Sales", "E12", "", "", "", "", "", ""],
        ["Chinese labels ok", mobile(13), "Sales East", "E13", "", "", "", "硕士", "正式", ""],
    ]  # fmt: skip
    job = check(owner_client, cast, rows, django_capture_on_commit_callbacks, header)
    assert job.status == ImportStatus.VALIDATED
    found = errors_of(job)
    assert "Enter the member's name" in found[(3, "name")]
    assert "not a valid mobile number" in found[(4, "mobile")]
    assert "ID card number" in found[(5, "ID card number")]
    assert "bank card" in found[(6, "bank_card")]
    assert "YYYY-MM-DD" in found[(7, "hired_on")]
    assert "Use one of" in found[(8, "degree")]
    assert "valid email" in found[(9, "office_email")]
    assert "no department “Marketing/Nowhere”" in found[(10, "department")]
    assert "already on row 2" in found[(11, "employee_number")]
    assert "Another member of this organization already has this employee number" in found[(12, "employee_number")]
    assert "same mobile number is already on row 2" in found[(13, "mobile")]
    assert (job.total_rows, job.valid_rows, job.error_rows) == (13, 2, 11), sorted(found.items())[-4:]
    assert member_count(cast) == 2  # nothing written by the check
    # Sensitive values are masked in the preview and the report, never in clear.
    bad_id_error = next(error for error in job.error_preview if error["column"] == "ID card number")
    assert bad_id_error["value"] == bad_id[:4] + "*" * 10 + bad_id[-4:]
    report = owner_client.get(report_url(cast, job))
    assert report["Content-Type"].startswith("text/csv")
    assert report["Content-Disposition"].startswith("attachment")
    text = report.content.decode("utf-8-sig")
    assert bad_id not in text and "6222021234567890" not in text
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["Row", "Column", "Value", "Problem"]
    assert len(lines) == 1 + 11
    assert AuditEvent.objects.filter(action="roster.import_report_downloaded", organization_id=cast.organization.pk)


def test_all_rows_is_refused_when_errors_exist(owner_client, cast, django_capture_on_commit_callbacks):
    job = check(owner_client, cast, [*good_rows(2), ["", mobile(9), "Sales", ""]], django_capture_on_commit_callbacks)
    page = owner_client.get(detail_url(cast, job)).content.decode()
    assert 'value="all" disabled' in page
    assert "Import only the 2 valid rows" in page
    response = decide(owner_client, cast, job, "all", django_capture_on_commit_callbacks)
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.VALIDATED
    assert member_count(cast) == 1
    assert not AuditEvent.objects.filter(action="roster.imported").exists()


def test_valid_only_imports_exactly_the_valid_rows(owner_client, cast, django_capture_on_commit_callbacks):
    collect(cast.organization, "id_number")
    header = [*HEADER, "id_number"]
    rows = [
        ["Ann", mobile(1), "Sales/Sales East", "E1", id_number(1)],
        ["Bad", mobile(2), "Sales", "E2", "123"],
        ["Bob", mobile(3), "", "E3", ""],
        ["Bad dept", mobile(4), "Nowhere", "E4", ""],
    ]
    job = check(owner_client, cast, rows, django_capture_on_commit_callbacks, header)
    assert (job.valid_rows, job.error_rows) == (2, 2)
    decide(owner_client, cast, job, "valid_only", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert (job.status, job.mode, job.imported_rows) == (ImportStatus.COMPLETED, "valid_only", 2)
    assert job.finished_at is not None
    ann = Member.objects.get(organization=cast.organization, name="Ann")
    bob = Member.objects.get(organization=cast.organization, name="Bob")
    assert not Member.objects.filter(name__in=["Bad", "Bad dept"]).exists()
    assert ann.status == MemberStatus.INVITED and ann.employee_number == "E1"
    assert ann.mobile == e164(1) and ann.mobile_digest == mobile_digest(e164(1))
    assert ann.id_number == id_number(1) and ann.id_number_digest == id_number_digest(id_number(1))
    assert list(MemberDepartment.objects.filter(member=ann).values_list("department_id", "is_primary")) == [
        (cast.sales_east.pk, True)
    ]
    assert list(MemberDepartment.objects.filter(member=bob).values_list("department_id", flat=True)) == [cast.root.pk]
    event = AuditEvent.objects.get(action="roster.imported")
    assert event.organization_id == cast.organization.pk
    assert event.metadata["created"] == 2 and event.metadata["attestation"] == job.attestation_id
    assert "id_number" in event.metadata["fields"]
    attestation = UploadAttestation.objects.get(pk=job.attestation_id)
    assert attestation.kind == "import" and attestation.rows == 4 and "explicit consent" in attestation.text
    page = owner_client.get(detail_url(cast, job)).content.decode()
    assert "2 rows were imported" in page


def test_existing_mobile_updates_that_member(owner_client, cast, django_capture_on_commit_callbacks):
    Member.objects.filter(pk=cast.member.pk).update(
        mobile=e164(7), mobile_digest=mobile_digest(e164(7)), employee_number="OLD", position="Clerk"
    )
    rows = [["Member Renamed", "+86 139-0000-0007", "Sales", "NEW"], *good_rows(1, start=20)]
    job = check(owner_client, cast, rows, django_capture_on_commit_callbacks, [*HEADER])
    assert (job.valid_rows, job.error_rows) == (2, 0), job.error_preview
    decide(owner_client, cast, job, "all", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == ImportStatus.COMPLETED, job.last_error
    member = Member.objects.get(pk=cast.member.pk)
    assert (member.name, member.employee_number, member.position) == ("Member Renamed", "NEW", "Clerk")
    assert member.status == MemberStatus.ACTIVE  # an update keeps the status
    assert list(MemberDepartment.objects.filter(member=member).values_list("department_id", flat=True)) == [
        cast.sales.pk
    ]
    assert member_count(cast) == 2
    event = AuditEvent.objects.get(action="roster.imported")
    assert (event.metadata["created"], event.metadata["updated"]) == (1, 1)


def test_rows_filling_sensitive_fields_need_view_sensitive(client, cast, django_capture_on_commit_callbacks):
    collect(cast.organization, "id_number")
    client.force_login(cast.sub_admin)  # edit_roster on Sales, no view_sensitive
    rows = [["With id", mobile(1), "Sales", "E1", id_number(1)], ["Without", mobile(2), "Sales", "E2", ""]]
    job = check(client, cast, rows, django_capture_on_commit_callbacks, [*HEADER, "id_number"])
    assert (job.valid_rows, job.error_rows) == (1, 1)
    assert "cannot view sensitive fields" in errors_of(job)[(2, "id_number")]
    grant_rights(cast.sub_admin, [Right.VIEW_SENSITIVE], cast.sales)
    job = check(client, cast, rows, django_capture_on_commit_callbacks, [*HEADER, "id_number"])
    assert (job.valid_rows, job.error_rows) == (2, 0)


def test_update_of_a_member_outside_the_uploaders_scope_is_refused(client, cast, django_capture_on_commit_callbacks):
    engineer = MemberFactory(
        organization=cast.organization, department=cast.engineering, name="Engineer", mobile=e164(5),
        mobile_digest=mobile_digest(e164(5)),
    )  # fmt: skip
    client.force_login(cast.sub_admin)
    job = check(client, cast, [["Hijack", mobile(5), "Sales", ""]], django_capture_on_commit_callbacks)
    assert job.valid_rows == 0
    assert "outside the departments" in errors_of(job)[(2, "mobile")]
    engineer.refresh_from_db()
    assert engineer.name == "Engineer"


def test_ambiguous_department_name_needs_a_path(owner_client, cast, django_capture_on_commit_callbacks):
    DepartmentFactory(organization=cast.organization, parent=cast.engineering, name="Sales East")
    job = check(owner_client, cast, good_rows(1, department="Sales East"), django_capture_on_commit_callbacks)
    assert "write the full path" in errors_of(job)[(2, "department")]


# --------------------------------------------------------------------------- all or nothing, idempotence


def test_a_failure_midway_writes_nothing_and_fails_the_job(
    owner_client, cast, django_capture_on_commit_callbacks, monkeypatch
):
    job = check(owner_client, cast, good_rows(30), django_capture_on_commit_callbacks)
    original = writing.RosterWriter._bulk

    def explode(self, table, columns, rows):
        original(self, table, columns, rows)  # the members are written ...
        if table == MemberDepartment._meta.db_table:
            raise RuntimeError("disk full")  # ... and then the placements fail

    monkeypatch.setattr(writing.RosterWriter, "_bulk", explode)
    decide(owner_client, cast, job, "all", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert "disk full" in job.last_error
    assert job.attempts == jobs.MAX_ATTEMPTS
    assert member_count(cast) == 1
    assert MemberDepartment.objects.filter(department=cast.sales_east).count() == 1  # the cast member's
    assert not AuditEvent.objects.filter(action="roster.imported").exists()
    assert "Nothing was imported" in owner_client.get(detail_url(cast, job)).content.decode()


def test_roster_change_between_check_and_import_fails_without_writing(
    owner_client, cast, django_capture_on_commit_callbacks
):
    job = check(owner_client, cast, good_rows(3), django_capture_on_commit_callbacks)
    MemberFactory(organization=cast.organization, name="Sneaky", employee_number="E00002")
    decide(owner_client, cast, job, "all", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert "Row 3" in job.last_error and "employee number" in job.last_error
    assert not Member.objects.filter(name__startswith="Person").exists()


def test_tasks_are_idempotent_under_redelivery(owner_client, cast, django_capture_on_commit_callbacks):
    job = check(owner_client, cast, good_rows(5), django_capture_on_commit_callbacks)
    assert validate_roster_import.delay(job.pk).get() == "nothing to do"
    decide(owner_client, cast, job, "all", django_capture_on_commit_callbacks)
    assert run_roster_import.delay(job.pk).get() == "nothing to do"
    job.refresh_from_db()
    assert job.status == ImportStatus.COMPLETED and job.imported_rows == 5
    assert member_count(cast) == 6
    assert AuditEvent.objects.filter(action="roster.imported").count() == 1
    # A second decision on a completed job changes nothing either.
    decide(owner_client, cast, job, "all", django_capture_on_commit_callbacks)
    assert member_count(cast) == 6


def test_spent_attempts_fail_the_job(owner_client, cast, django_capture_on_commit_callbacks):
    job = check(owner_client, cast, good_rows(2), django_capture_on_commit_callbacks)
    RosterImport.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTING, attempts=jobs.MAX_ATTEMPTS)
    assert run_roster_import.delay(job.pk).get() == "nothing to do"
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert member_count(cast) == 1


def test_discard_deletes_the_stored_file(owner_client, cast, django_capture_on_commit_callbacks, settings):
    job = check(owner_client, cast, good_rows(2), django_capture_on_commit_callbacks)
    stored = settings.PRIVATE_MEDIA_ROOT / job.file_ref
    assert stored.exists()
    decide(owner_client, cast, job, "discard", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == ImportStatus.DISCARDED and not stored.exists()
    assert member_count(cast) == 1


def test_the_page_follows_the_job_while_working(owner_client, cast):
    """ORG-7: while working, the page polls the job's status with a script file (no
    timed refresh of the whole page, WCAG 2.2.1, and no inline script under the CSP) and
    offers a link to check again; the status is for the uploader and the owner only."""
    job = RosterImport.objects.create(
        organization=cast.organization, uploaded_by=cast.owner, file_name="x.csv", file_format="csv",
        status=ImportStatus.VALIDATING, total_rows=0, processed_rows=5000,
    )  # fmt: skip
    status_url = reverse("organizations:roster_import_status", args=[cast.organization.pk, job.pk])
    page = owner_client.get(detail_url(cast, job)).content.decode()
    assert "http-equiv" not in page and not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert f'data-import-status-url="{status_url}"' in page and "/static/js/import-progress.js" in page
    assert f'href="{detail_url(cast, job)}">Check again</a>' in page
    assert owner_client.get(status_url).json() == {
        "status": "validating",
        "working": True,
        "waiting": False,
        "processed_rows": 5000,
        "total_rows": 0,
    }  # fmt: skip  (a new job counts as beaten when created)
    other = Client()
    other.force_login(cast.sub_admin)  # not the uploader
    assert other.get(status_url).status_code == 404
    RosterImport.objects.filter(pk=job.pk).update(status=ImportStatus.FAILED)
    assert owner_client.get(status_url).json()["working"] is False
    assert "import-progress.js" not in owner_client.get(detail_url(cast, job)).content.decode()


# --------------------------------------------------------------------------- queries and XLSX


def test_check_query_count_does_not_grow_with_rows(owner_client, cast, django_assert_max_num_queries):
    from organizations.permissions import org_access

    access = org_access(cast.owner, cast.organization.pk)
    counts = []
    for size in (10, 200):
        content = csv_bytes(good_rows(size, start=size * 10))
        job = RosterImport.objects.create(
            organization=cast.organization, uploaded_by=cast.owner, file_name="r.csv", file_format="csv",
            file_ref=store_encrypted(content, jobs.FILE_PURPOSE),
        )  # fmt: skip
        with django_assert_max_num_queries(12) as captured:
            assert service.check_import(job.pk) == "validated"
        counts.append(len(captured))
        job.refresh_from_db()
        assert job.valid_rows == size
    assert counts[0] == counts[1]
    assert access.organization == cast.organization


def test_xlsx_import_works(owner_client, cast, django_capture_on_commit_callbacks):
    from datetime import date

    from openpyxl import Workbook

    collect(cast.organization, "hired_on")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Name", "Mobile number", "Department", "Employee number", "Hired on"])
    sheet.append(["Xia", int(mobile(1)), "Sales/Sales East", "X1", date(2023, 5, 4)])
    sheet.append(["Yu", mobile(2), "Sales", 42, None])
    sheet.append([None, None, None, None, None])
    sheet.append(["Zed", "bad", "Sales", "X3", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = upload(
        owner_client, cast, buffer.getvalue(), name="roster.xlsx", capture=django_capture_on_commit_callbacks
    )
    assert response.status_code == 302
    job = latest_job()
    assert job.file_format == "xlsx"
    assert (job.total_rows, job.valid_rows, job.error_rows) == (3, 2, 1)
    assert list(errors_of(job)) == [(5, "Mobile number")]
    decide(owner_client, cast, job, "valid_only", django_capture_on_commit_callbacks)
    xia = Member.objects.get(organization=cast.organization, name="Xia")
    assert xia.hired_on == date(2023, 5, 4) and xia.mobile == e164(1)
    assert Member.objects.get(organization=cast.organization, name="Yu").employee_number == "42"


def test_mobile_fast_path_agrees_with_normalize_mobile():
    import random

    from django.core.exceptions import ValidationError

    from accounts.services.phones import normalize_mobile
    from organizations.services.demo_data import generators

    rng = random.Random(5)
    # Every 11-digit string starting with 1 is decided by the CN patterns of the fast
    # path, and phonenumbers' CN patterns tell such numbers apart by their first six
    # digits at most: one number under every six-digit prefix (each with its own random
    # tail) reaches every branch; fully random ones in case a later metadata looks
    # deeper; then the demo generator's numbers and odd forms.
    samples = [f"1{prefix:05d}{rng.randrange(10**5):05d}" for prefix in range(10**5)]
    samples += [f"1{rng.randrange(10**10):010d}" for _ in range(10_000)]
    samples += [generators.mobile_number(rng)[3:] for _ in range(5_000)]
    samples += ["+86 139 1234 5678", "139-1234-5678", "17951234567", "11012345678", "16012345678", "+6581234567"]
    samples += ["+8613912345678", "8613912345678", "+86 1740 0012345", "17406012345", "16100012345", "1610 0012 345"]
    normalizer = checks.MobileNormalizer()
    for raw in samples:
        try:
            expected = normalize_mobile(raw)
        except ValidationError:
            expected = None
        try:
            got = normalizer(raw)
        except ValidationError:
            got = None
        assert got == expected, raw


def test_identifier_checks_agree_with_the_digit_by_digit_definitions():
    """The C-level check digits of ``is_valid_id_number`` and ``is_valid_bank_card``
    decide like the plain definitions (MOD 11-2 over the weights, Luhn) on a large
    deterministic sample of valid, mistyped and malformed values."""
    import random
    from datetime import date

    from dataprotection import identifiers

    def id_reference(value: str) -> bool:
        value = identifiers.normalize_id_number(value)
        if not identifiers._ID_PATTERN.match(value):
            return False
        try:
            born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        except ValueError:
            return False
        if born.year < 1900 or born > date.today():
            return False
        return id_number_check_digit(value[:17]) == value[17]

    def card_reference(value: str) -> bool:
        digits = (value or "").replace(" ", "")
        if not digits.isdigit() or not 12 <= len(digits) <= 19:
            return False
        return luhn_check_digit(digits[:-1]) == digits[-1]

    rng = random.Random(11)
    ids = []
    for _ in range(50_000):
        year = (
            rng.choice(["1899", "1900", "1985", "2099", "0000"])
            if rng.random() < 0.2
            else str(rng.randrange(1880, 2030))
        )
        body = (
            f"{rng.randrange(10**6):06d}{year}{rng.randrange(14):02d}{rng.randrange(33):02d}{rng.randrange(1000):03d}"
        )
        ids.append(body + (id_number_check_digit(body) if rng.random() < 0.5 else rng.choice("0123456789Xx")))
    ids += ["", " 110101 19900307 123x ", "١١٠١٠١١٩٩٠٠٣٠٧١٢٣٤", "1101011990030712", "11010119900229123X"]
    cards = ["".join(rng.choice("0123456789") for _ in range(rng.randrange(10, 21))) for _ in range(50_000)]
    cards += [body + luhn_check_digit(body) for body in cards[:5_000]]
    cards += ["", "6222 0212 3456 7890", "١٢٣٤٥٦٧٨٩٠١٢", "abc", "6222-0212-3456-7890"]
    assert [identifiers.is_valid_id_number(v) for v in ids] == [id_reference(v) for v in ids]
    assert [identifiers.is_valid_bank_card(v) for v in cards] == [card_reference(v) for v in cards]
    assert sum(map(identifiers.is_valid_id_number, ids)) > 10_000
    assert sum(map(identifiers.is_valid_bank_card, cards)) > 5_000


def test_mobile_taken_between_check_and_import_fails_without_writing(
    owner_client, cast, django_capture_on_commit_callbacks
):
    job = check(owner_client, cast, good_rows(3), django_capture_on_commit_callbacks)
    MemberFactory(organization=cast.organization, name="Sneaky", mobile=e164(2), mobile_digest=mobile_digest(e164(2)))
    decide(owner_client, cast, job, "all", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert "Row 3" in job.last_error and "changed since the file was checked" in job.last_error
    assert not Member.objects.filter(name__startswith="Person").exists()


# --------------------------------------------------------------------------- the check in parts (ORG-7)


def row_by_row_check(data: bytes, snapshot):
    """The reference: the whole file checked row by row by one ``RowChecker`` that
    finds duplicates within the file as it goes (the check before it was split)."""
    rows = parsing.read_rows(data, "csv")
    header_cells = next(rows)
    header = parsing.parse_header(header_cells, snapshot.collected)
    checker = checks.RowChecker(snapshot, header, [cell.strip().replace("\ufeff", "") for cell in header_cells])
    total, error_rows, planned, errors = 0, 0, [], []
    for number, cells in enumerate(rows, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        total += 1
        row, found = checker.check(number, cells)
        if found:
            error_rows += 1
            errors += found
        else:
            planned.append(row)
    return total, error_rows, planned, errors


def tricky_rows(*, quoted: bool) -> list[list[str]]:
    """Rows whose duplicates and errors fall on both sides of the part boundaries when
    the file is split every 5 rows (parts start on rows 2, 7, 12, 17, ...)."""
    return [
        ["Ann", mobile(1), "Sales", "E1"],  # 2
        ["Bob", mobile(2), "Sales", "E2"],  # 3
        ["", "", "", ""],  # 4: blank, still numbered
        ["Bad mobile", "12345", "Sales", "E3"],  # 5: its employee number counts as seen
        ["", mobile(4), "Sales", "E4"],  # 6: no name, the last row of the first part
        ["Copy of Ann's mobile", mobile(1), "Sales", "E7"],  # 7: already on row 2
        ["Copy of row 5's number", mobile(8), "Sales", "E3"],  # 8: already on row 5
        ["Copy of row 6's mobile", mobile(4), "Sales", "E9"],  # 9: already on row 6
        ["Three problems", mobile(2), "Nowhere", "E2"],  # 10: mobile, number, department
        ["Kim", mobile(11), "Sales East", "E11"],  # 11: the last row of the second part
        ["Taken number", mobile(12), "Sales", "E-TAKEN"],  # 12: another member has it
        ["Copy of Kim's mobile", mobile(11), "Sales", "E13"],  # 13: already on row 11
        *good_rows(7, start=14, department="Engineering"),  # 14-20
        ["Bad copy of Kim's number", "bad", "Sales", "E11"],  # 21: its cells fail, no duplicate error
        ["Line\nbreak" if quoted else "Lee", mobile(22), "Sales", "E22"],  # 22
        ["Last", mobile(23), "Sales", "E7"],  # 23: already on row 7, the last row of the file
    ]


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
def test_parts_report_exactly_what_a_row_by_row_check_reports(cast, quoted):
    """ORG-7: a file checked in parts gives the same errors (row, column, value,
    message, in the same order), the same counts and the same checked rows as the
    whole file checked row by row -- duplicates whose two rows fall in different
    parts, errors on the last row of a part, blank rows and quoted line breaks included."""
    from organizations.permissions import org_access

    MemberFactory(organization=cast.organization, department=cast.sales, name="Taken", employee_number="E-TAKEN")
    data = csv_bytes(tricky_rows(quoted=quoted))
    assert (b'"' in data) is quoted
    snapshot = build_snapshot(org_access(cast.owner, cast.organization.pk))
    total, error_rows, planned, errors = row_by_row_check(data, snapshot)
    assert (total, error_rows, len(planned)) == (21, 10, 11)
    assert "already on row 2" in errors[2].message and errors[2].row == 7  # after rows 5 and 6

    split = file_checks.split_file(data, "csv", snapshot.collected, 5)
    assert [span[2] for span in split.spans] == [2, 7, 12, 17, 22]
    parts = [file_checks.check_part(data, "csv", snapshot, split.header, span) for span in split.spans]
    merged = file_checks.merge_parts(parts)
    assert merged.errors == errors
    assert (merged.total_rows, merged.error_rows, merged.valid_rows) == (total, error_rows, len(planned))
    assert [row for part in parts for row in part.planned if row.row not in merged.dropped] == planned
    # One part (the whole file) gives the same too.
    whole = file_checks.check_file(data, "csv", snapshot)
    assert (whole.errors, whole.planned, whole.total_rows, whole.error_rows) == (errors, planned, total, error_rows)
    assert [(error.row, error.column) for error in errors if error.row == 10] == [
        (10, "mobile"),
        (10, "employee_number"),
        (10, "department"),
    ]


def test_upload_checked_in_parts_reports_and_imports_like_one_check(
    owner_client, cast, django_capture_on_commit_callbacks, monkeypatch, settings, tmp_path
):
    """ORG-7: through the upload page and the tasks (run eagerly here), a file split
    into parts gets the report a row-by-row check gives and imports exactly its valid
    rows; the parts' stored results are deleted once merged."""
    from organizations.permissions import org_access

    MemberFactory(organization=cast.organization, department=cast.sales, name="Taken", employee_number="E-TAKEN")
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    monkeypatch.setattr(service, "CHECK_PART_ROWS", 5)
    data = csv_bytes(tricky_rows(quoted=True))
    snapshot = build_snapshot(org_access(cast.owner, cast.organization.pk))
    total, error_rows, planned, errors = row_by_row_check(data, snapshot)
    job = check(owner_client, cast, tricky_rows(quoted=True), django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.VALIDATED, job.last_error
    assert (job.parts_total, job.parts_done, job.parts) == (5, 5, {})
    assert job.error_preview == [error.as_dict() for error in errors]
    assert (job.total_rows, job.valid_rows, job.error_rows, job.processed_rows) == (
        total,
        len(planned),
        error_rows,
        total,
    )
    lines = list(csv.reader(io.StringIO(owner_client.get(report_url(cast, job)).content.decode("utf-8-sig"))))
    assert [(int(line[0]), line[3]) for line in lines[1:]] == [(error.row, error.message) for error in errors]
    assert sorted(path.name for path in settings.PRIVATE_MEDIA_ROOT.iterdir()) == sorted([job.file_ref, job.report_ref])
    decide(owner_client, cast, job, "valid_only", django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == ImportStatus.COMPLETED, job.last_error
    imported = Member.objects.filter(organization=cast.organization).exclude(name__in=["Member", "Taken"])
    assert sorted(imported.values_list("name", "mobile", "employee_number")) == sorted(
        (row.values["name"], row.values["mobile"], row.values.get("employee_number", "")) for row in planned
    )
    lee = imported.get(employee_number="E22")
    assert lee.name == "Line break" and lee.mobile_digest == mobile_digest(e164(22))
    assert MemberDepartment.objects.get(member=imported.get(employee_number="E11")).department == cast.sales_east


def test_a_part_delivered_twice_queues_the_merge_once(cast, monkeypatch, settings):
    """ORG-7: a part message delivered twice (late acks) checks and counts its part
    once; the part recorded last queues the merge exactly once, and a second merge
    message finds nothing to do."""
    from organizations import tasks
    from organizations.forms.roster_import import ATTESTATION_TEXT
    from organizations.permissions import org_access

    monkeypatch.setattr(service, "CHECK_PART_ROWS", 4)
    queued = []
    monkeypatch.setattr(tasks.finish_roster_check, "delay_on_commit", lambda *args, **kwargs: queued.append(args))
    monkeypatch.setattr(tasks.check_roster_import_part, "delay_on_commit", lambda *args, **kwargs: None)
    monkeypatch.setattr(tasks.validate_roster_import, "delay_on_commit", lambda *args, **kwargs: None)
    access = org_access(cast.owner, cast.organization.pk)
    job = service.start_import(
        access, file_name="r.csv", file_format="csv", content=csv_bytes(good_rows(10)),
        attestation_text=str(ATTESTATION_TEXT),
    )  # fmt: skip
    assert service.check_import(job.pk) == "split"
    assert service.check_import(job.pk) == "nothing to do"  # the split, delivered again
    job.refresh_from_db()
    assert (job.parts_total, job.parts_done, job.attempts) == (3, 0, 0)
    assert service.check_part(job.pk, 0) == "checked"
    assert service.check_part(job.pk, 0) == "nothing to do"
    assert service.check_part(job.pk, 2) == "checked"
    assert queued == []
    assert service.check_part(job.pk, 1) == "checked"
    assert service.check_part(job.pk, 1) == "nothing to do"
    assert service.check_part(job.pk, 2) == "nothing to do"
    assert queued == [(job.pk,)]
    job.refresh_from_db()
    assert (job.parts_done, job.parts["attempts"]) == (3, {"0": 1, "1": 1, "2": 1})
    refs = list(job.parts["refs"].values())
    assert all((settings.PRIVATE_MEDIA_ROOT / ref).exists() for ref in refs)
    assert service.finish_check(job.pk) == "validated"
    assert service.finish_check(job.pk) == "nothing to do"
    job.refresh_from_db()
    assert (job.status, job.valid_rows, job.error_rows, job.parts) == (ImportStatus.VALIDATED, 10, 0, {})
    assert not any((settings.PRIVATE_MEDIA_ROOT / ref).exists() for ref in refs)
    assert service.check_part(job.pk, 1) == "nothing to do"  # a late copy after the merge


def test_a_part_failing_every_attempt_fails_the_job(
    owner_client, cast, django_capture_on_commit_callbacks, monkeypatch
):
    """ORG-7: each part counts its attempts in the job row; when one part has spent
    them the job is failed with the last error, nothing is written and the other
    parts' stored results are deleted."""
    monkeypatch.setattr(service, "CHECK_PART_ROWS", 4)
    original = file_checks.check_part
    failures = []

    def flaky(data, file_format, snapshot, header_cells=None, span=None, progress=None):
        if span is not None and span[2] == 6:
            failures.append(span)
            raise RuntimeError("worker lost its disk")
        return original(data, file_format, snapshot, header_cells, span, progress)

    monkeypatch.setattr(file_checks, "check_part", flaky)
    job = check(owner_client, cast, good_rows(10), django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.FAILED
    assert "worker lost its disk" in job.last_error
    assert len(failures) == jobs.MAX_ATTEMPTS  # then no more tries
    assert job.parts == {} and member_count(cast) == 1


def test_the_report_on_the_page_names_columns_by_their_labels(owner_client, cast):
    """ORG-7: the problems table names each column as the reader's template does, not by
    its field name; a header that is no field stays as the file had it."""
    job = RosterImport.objects.create(
        organization=cast.organization, uploaded_by=cast.owner, file_name="x.csv", file_format="csv",
        status=ImportStatus.VALIDATED, total_rows=2, valid_rows=0, error_rows=2,
        error_preview=[
            {"row": 2, "column": "mobile", "value": "139****", "message": "bad"},
            {"row": 3, "column": "Shoe size", "value": "", "message": "unknown column"},
        ],
    )  # fmt: skip
    content = owner_client.get(detail_url(cast, job), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<td>Mobile number</td>" in content and "<td>Shoe size</td>" in content
    assert "<td>mobile</td>" not in content
    chinese = owner_client.get(detail_url(cast, job), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "<td>手机号</td>" in chinese
