"""Bulk roster upsert for HR integrations (the REST API; ORG-5, ORG-6, ORG-7, ORG-10): the
file import's row checks and writer, answered synchronously; all or nothing, or only
the valid rows; matched by mobile number as the import."""

from __future__ import annotations

import pytest

from dataprotection.models import AuditEvent
from organizations.models import AttestationKind, Member, MemberDepartment, UploadAttestation
from tests.organizations.api.conftest import api_client_as, base, error_of
from tests.organizations.test_roster_views import MOBILE, collect

pytestmark = pytest.mark.django_db

GOOD = [
    {"name": "Amy", "mobile": "13900000001", "employee_number": "B-1", "department": "Sales/Sales East"},
    {"name": "Bob", "mobile": "+8613900000002", "position": "Engineer", "department": "Engineering"},
]
BAD = {"name": "Carl", "mobile": "12345", "department": "Sales"}


def bulk(client, cast, rows, mode="all_or_nothing", **extra):
    body = {"attestation": {"confirmed": True}, "mode": mode, "rows": rows}
    return client.post(base(cast) + "members/bulk/", body, format="json", **extra)


def test_all_rows_are_created_with_one_attestation_and_one_event(cast, owner_api):
    """ORG-6, ORG-7: the rows go in (invited, in their departments) with the upload
    attestation (kind api) and one roster.upserted event."""
    response = bulk(owner_api, cast, GOOD)
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 2, "updated": 0, "errors": []}
    amy = Member.objects.get(name="Amy")
    assert (amy.mobile, amy.employee_number, amy.status) == ("+8613900000001", "B-1", "invited")
    assert MemberDepartment.objects.get(member=amy).department == cast.sales_east
    assert Member.objects.get(name="Bob").departments.get() == cast.engineering
    attestation = UploadAttestation.objects.get()
    assert attestation.kind == AttestationKind.API and attestation.rows == 2
    event = AuditEvent.objects.get(action="roster.upserted")
    assert event.metadata["created"] == 2 and event.metadata["attestation"] == attestation.pk


def test_all_or_nothing_writes_nothing_when_a_row_is_invalid(cast, owner_api):
    """The REST API: one bad row, nothing written, a 422 with the per-row report."""
    response = bulk(owner_api, cast, [*GOOD, BAD])
    assert response.status_code == 422
    report = response.json()
    assert (report["created"], report["updated"]) == (0, 0)
    assert [(error["row"], error["column"]) for error in report["errors"]] == [(2, "mobile")]
    assert not Member.objects.filter(name__in=["Amy", "Bob", "Carl"]).exists()
    assert not UploadAttestation.objects.exists() and not AuditEvent.objects.filter(action="roster.upserted").exists()


def test_valid_only_writes_the_valid_rows_and_reports_the_others(cast, owner_api):
    response = bulk(owner_api, cast, [BAD, *GOOD], mode="valid_only")
    assert response.status_code == 200
    assert response.json()["created"] == 2
    assert [error["row"] for error in response.json()["errors"]] == [0]
    assert set(Member.objects.filter(name__in=["Amy", "Bob", "Carl"]).values_list("name", flat=True)) == {"Amy", "Bob"}


def test_an_existing_mobile_updates_that_entry_and_blank_values_keep_what_is_stored(cast, owner_api, roster):
    """The import's upsert key: the mobile number (through its digest)."""
    rows = [{"name": "Member Renamed", "mobile": MOBILE, "position": "", "employee_number": None, "grade": "P9"}]
    response = bulk(owner_api, cast, rows)
    assert response.json() == {"created": 0, "updated": 1, "errors": []}
    member = Member.objects.get(pk=cast.member.pk)
    assert (member.name, member.grade, member.position, member.employee_number) == (
        "Member Renamed",
        "P9",
        "Account manager",
        "S-1001",
    )


def test_duplicates_within_the_request_and_with_the_roster_are_row_errors(cast, owner_api, roster):
    rows = [
        {"name": "A", "mobile": "13900000011", "employee_number": "D-1"},
        {"name": "B", "mobile": "13900000011", "employee_number": "D-2"},
        {"name": "C", "mobile": "13900000012", "employee_number": "E-2001"},  # the engineer's
    ]
    errors = bulk(owner_api, cast, rows).json()["errors"]
    assert [(error["row"], error["column"]) for error in errors] == [(1, "mobile"), (2, "employee_number")]


def test_a_scoped_sub_administrator_writes_only_where_it_may_edit(cast, roster):
    """ORG-9: edit_roster where the row writes; the rest are row errors."""
    client = api_client_as(cast, "sub_admin")
    rows = [
        {"name": "In Sales", "mobile": "13900000021", "department": "Sales"},
        {"name": "In Engineering", "mobile": "13900000022", "department": "Engineering"},
        {"name": "The engineer", "mobile": "+8613911110002"},  # an existing entry outside Sales
    ]
    response = bulk(client, cast, rows, mode="valid_only")
    assert response.json()["created"] == 1 and response.json()["updated"] == 0
    assert [error["row"] for error in response.json()["errors"]] == [1, 2]


def test_sensitive_values_need_view_sensitive_where_they_go(cast, roster):
    """ORG-10: the Sales sub-administrator may not fill ID numbers."""
    collect(cast.organization, "id_number")
    rows = [{"name": "X", "mobile": "13900000031", "department": "Sales", "id_number": "11010519491231002X"}]
    response = bulk(api_client_as(cast, "sub_admin"), cast, rows)
    assert response.status_code == 422
    assert response.json()["errors"][0]["column"] == "id_number"


def test_department_by_id_and_unknown_department(cast, owner_api):
    rows = [
        {"name": "By id", "mobile": "13900000041", "department": cast.sales.pk},
        {"name": "Nowhere", "mobile": "13900000042", "department": 999999},
    ]
    response = bulk(owner_api, cast, rows, mode="valid_only")
    assert response.json()["created"] == 1
    assert Member.objects.get(name="By id").departments.get() == cast.sales
    assert response.json()["errors"][0]["row"] == 1


@pytest.mark.parametrize(
    ("rows", "column"),
    [
        ([{"name": "Typed", "mobile": 13900000051}], "mobile"),
        ([{"name": ["a"], "mobile": "13900000052"}], "name"),
        ([{"name": "Dept", "mobile": "13900000053", "department": True}], "department"),
        ([{"name": "x" * 101, "mobile": "13900000054"}], "name"),
        ([{"mobile": "13900000055"}], "name"),
    ],
)
def test_wrong_types_and_values_are_row_errors(cast, owner_api, rows, column):
    response = bulk(owner_api, cast, rows)
    assert response.status_code == 422
    assert response.json()["errors"][0]["column"] == column
    assert not Member.objects.filter(mobile_digest__gt="", name__in=["Typed", "Dept"]).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "all_or_nothing", "rows": GOOD}, "attestation"),
        ({"attestation": {"confirmed": False}, "mode": "all_or_nothing", "rows": GOOD}, "attestation"),
        ({"attestation": {"confirmed": True, "extra": 1}, "mode": "all_or_nothing", "rows": GOOD}, "attestation"),
        ({"attestation": {"confirmed": True}, "mode": "some", "rows": GOOD}, "mode"),
        ({"attestation": {"confirmed": True}, "mode": "valid_only", "rows": []}, "rows"),
        ({"attestation": {"confirmed": True}, "mode": "valid_only", "rows": "nope"}, "rows"),
        ({"attestation": {"confirmed": True}, "mode": "valid_only", "rows": [1, 2]}, "rows"),
        ({"attestation": {"confirmed": True}, "mode": "valid_only", "rows": GOOD, "dry_run": True}, "dry_run"),
        ({"attestation": {"confirmed": True}, "mode": "valid_only", "rows": [{"shoe_size": "42"}]}, "shoe_size"),
        ({"attestation": {"confirmed": True}, "mode": "valid_only", "rows": [{"status": "active"}]}, "status"),
        ({"attestation": {"confirmed": True}, "mode": "valid_only", "rows": [{"home_address": "X"}]}, "home_address"),
    ],
)
def test_bad_requests_are_400_naming_the_field(cast, owner_api, body, field):
    """ORG-5, ORG-6: no attestation, unknown keys, fields not collected."""
    response = owner_api.post(base(cast) + "members/bulk/", body, format="json")
    assert response.status_code == 400, response.content
    assert any(key.split(".")[0] == field for key in error_of(response)["fields"])
    assert not Member.objects.filter(name__in=["Amy", "Bob"]).exists()


def test_too_many_rows_is_413(cast, owner_api):
    rows = [{"name": f"P{index}", "mobile": f"139{index:08d}"} for index in range(5_001)]
    response = bulk(owner_api, cast, rows)
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"


def test_a_body_larger_than_the_upload_limit_is_413(cast, owner_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = bulk(owner_api, cast, [{"name": "x" * 20_000, "mobile": "13900000061"}])
    assert response.status_code == 413


def test_a_replayed_idempotency_key_writes_once(cast, owner_api):
    """The REST API: an HR system retrying after a timeout gets the first report again."""
    first = bulk(owner_api, cast, GOOD, HTTP_IDEMPOTENCY_KEY="sync-2026-01-31")
    again = bulk(owner_api, cast, GOOD, HTTP_IDEMPOTENCY_KEY="sync-2026-01-31")
    assert first.json() == again.json() == {"created": 2, "updated": 0, "errors": []}
    assert again["Idempotent-Replayed"] == "true"
    assert Member.objects.filter(name="Amy").count() == 1
    assert bulk(owner_api, cast, GOOD[:1], HTTP_IDEMPOTENCY_KEY="sync-2026-01-31").status_code == 422


def test_a_frozen_organization_takes_no_rows(cast, owner_api):
    """ORG-11: while a disband is pending nobody edits the roster."""
    cast.organization.status = "frozen"
    cast.organization.save(update_fields=["status"])
    assert bulk(owner_api, cast, GOOD).status_code == 403
