"""Roster export (ORG-5, ORG-7, ORG-10): the permission matrix, collected fields only,
sensitive values masked without ``view_sensitive`` on the whole organization, scope,
the audit event, and a constant query count."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from dataprotection.identifiers import id_number_check_digit, luhn_check_digit
from dataprotection.models import AuditEvent
from organizations.models import CollectionSetting, Member, Right
from organizations.services.grants import grant_rights
from organizations.services.lookups import id_number_digest, mobile_digest
from organizations.services.roster_import import columns
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

ROLES = ("owner", "sub_admin", "out_of_scope_sub_admin", "other_org_admin", "member_user", "staff", "anonymous")
MOBILE = "+8613912345678"
ID_NUMBER = "33010619880512345" + id_number_check_digit("33010619880512345")
BANK_CARD = "622202123456789012" + luhn_check_digit("622202123456789012")


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def roster(cast):
    Member.objects.filter(pk=cast.member.pk).update(
        mobile=MOBILE,
        mobile_digest=mobile_digest(MOBILE),
        id_number=ID_NUMBER,
        id_number_digest=id_number_digest(ID_NUMBER),
        bank_card=BANK_CARD,
        employee_number="S-1",
        position="Clerk",
        household_registration="Hangzhou",  # held, but not collected: never exported
    )
    MemberFactory(organization=cast.organization, department=cast.engineering, name="Engineer", employee_number="E-1")
    return cast


def export_url(cast) -> str:
    return reverse("organizations:roster_export", args=[cast.organization.pk])


def read_export(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment")
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode())  # Excel reads UTF-8 with the BOM
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


MATRIX = {
    "owner": 200,
    "sub_admin": 200,
    "out_of_scope_sub_admin": 200,
    "other_org_admin": 404,
    "member_user": 404,
    "staff": 404,
    "anonymous": 302,
}


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(client, roster, role):
    if role != "anonymous":
        client.force_login(getattr(roster, role))
    response = client.get(export_url(roster))
    assert response.status_code == MATRIX[role]
    if response.status_code == 200:
        b"".join(response.streaming_content)
    assert AuditEvent.objects.filter(action="roster.exported").count() == (1 if MATRIX[role] == 200 else 0)


def test_export_without_view_roster_is_403(client, cast):
    from tests.factories import AdministratorFactory, UserFactory

    admin = UserFactory(name="Requests only")
    AdministratorFactory(organization=cast.organization, user=admin, scope=[cast.sales])
    grant_rights(admin, [Right.HANDLE_REQUESTS], cast.sales)
    client.force_login(admin)
    assert client.get(export_url(cast)).status_code == 403


def test_owner_exports_collected_fields_in_clear_and_is_audited(client, roster):
    CollectionSetting.objects.create(organization=roster.organization, field="id_number", enabled=True)
    client.force_login(roster.owner)
    rows = read_export(client.get(export_url(roster)))
    assert [row["name"] for row in rows] == ["Engineer", "Member"]
    member = rows[1]
    assert list(member) == [
        "name",
        "mobile number",
        "department",
        "employee number",
        "position",
        "office email",
        "office phone",
        "ID card number",
    ]
    assert member["mobile number"] == MOBILE
    assert member["ID card number"] == ID_NUMBER
    assert member["department"] == "Sales/Sales East"
    text = str(rows)
    assert BANK_CARD not in text  # not collected
    assert "Hangzhou" not in text.replace("Hangzhou Example Co.", "")  # household registration: not collected
    event = AuditEvent.objects.get(action="roster.exported")
    assert event.organization_id == roster.organization.pk
    assert event.actor_id == roster.owner.pk
    assert event.metadata["rows"] == 2
    assert "id_number" in event.metadata["fields"] and "bank_card" not in event.metadata["fields"]
    assert event.metadata["sensitive_in_clear"] is True


def test_sensitive_values_are_masked_without_whole_org_view_sensitive(client, roster):
    CollectionSetting.objects.create(organization=roster.organization, field="id_number", enabled=True)
    CollectionSetting.objects.create(organization=roster.organization, field="bank_card", enabled=True)
    grant_rights(roster.sub_admin, [Right.VIEW_SENSITIVE], roster.sales)  # a subtree is not enough
    client.force_login(roster.sub_admin)
    rows = read_export(client.get(export_url(roster)))
    assert [row["name"] for row in rows] == ["Member"]  # the Sales subtree only
    member = rows[0]
    assert member["mobile number"] == "+86139****5678"
    assert member["ID card number"] == ID_NUMBER[:4] + "*" * 10 + ID_NUMBER[-4:]
    assert member["payroll bank card"] == "*" * 15 + BANK_CARD[-4:]
    body = str(rows)
    assert MOBILE not in body and ID_NUMBER not in body and BANK_CARD not in body
    assert AuditEvent.objects.get(action="roster.exported").metadata["sensitive_in_clear"] is False


def test_the_export_reads_back_as_an_import_header(client, roster):

    client.force_login(roster.owner)
    rows = read_export(client.get(export_url(roster)))
    aliases = columns.header_aliases()
    assert all(columns.normalize_header(column) in aliases for column in rows[0])


def test_export_query_count_is_constant(client, roster, django_assert_max_num_queries):
    client.force_login(roster.owner)
    for index in range(30):
        MemberFactory(organization=roster.organization, department=roster.sales, name=f"Extra {index}")
    with django_assert_max_num_queries(12):
        rows = read_export(client.get(export_url(roster)))
    assert len(rows) == 32
