"""The organization API beyond the roster (the REST API): organizations (ORG-1), departments
(ORG-3), administrators (ORG-9), disband (ORG-11), the audit log (SEC-2), and tokens
that no longer work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api.tokens import create_api_token, revoke_api_token
from accounts.models import ApiToken, TokenScope
from dataprotection.models import AnonymizationJob, AuditEvent, JobStatus
from organizations.models import (
    Administrator,
    AdministratorRole,
    Department,
    DepartmentUserObjectPermission,
    OrganizationStatus,
    Right,
)
from organizations.services.grants import grant_rights
from tests.conftest import last_code
from tests.factories import AdministratorFactory, DepartmentFactory, OrganizationFactory, UserFactory, verified_session
from tests.organizations.api.conftest import api_client_as, base, error_of

pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- organizations


def test_list_shows_role_and_rights(cast):
    """ORG-9: the owner holds every right; the Sales sub-administrator its two."""
    owner = api_client_as(cast, "owner").get("/api/v1/organizations/").json()["results"][0]
    assert owner["role"] == "owner" and set(owner["rights"]) == set(Right.values)
    sub = api_client_as(cast, "sub_admin").get("/api/v1/organizations/").json()["results"][0]
    assert sub["role"] == "sub_admin" and sub["rights"] == ["edit_roster", "view_roster"]


def test_a_frozen_organization_lists_no_write_rights(cast):
    """ORG-11: while a disband is pending the organization is read-only."""
    cast.organization.status = OrganizationStatus.FROZEN
    cast.organization.save(update_fields=["status"])
    row = api_client_as(cast, "owner").get("/api/v1/organizations/").json()["results"][0]
    assert "edit_roster" not in row["rights"] and "view_roster" in row["rights"]


@pytest.mark.parametrize("organizations", [1, 12])
def test_organization_list_query_count_is_constant(cast, django_assert_num_queries, organizations):
    """The REST API: the count, the page with the caller's role, every grant of the caller
    in those organizations -- whatever their number."""
    for index in range(organizations):
        organization = OrganizationFactory(name=f"Extra {index}")
        AdministratorFactory(organization=organization, user=cast.sub_admin)
        grant_rights(cast.sub_admin, [Right.VIEW_ROSTER, Right.MANAGE_ADMINS], organization)
        department = DepartmentFactory(organization=organization)
        grant_rights(cast.sub_admin, [Right.EDIT_ROSTER], department)
    client = api_client_as(cast, "sub_admin")
    with django_assert_num_queries(3):
        response = client.get("/api/v1/organizations/")
    assert len(response.json()["results"]) == organizations + 1


def test_detail_carries_no_certification_documents(cast, owner_api):
    data = owner_api.get(base(cast)).json()
    assert data["name"] == "Hangzhou Example Co." and data["role"] == "owner"
    assert not any("document" in key for key in data)


# --------------------------------------------------------------------------- departments


def test_departments_of_a_scoped_sub_administrator(cast):
    """ORG-3: the Sales subtree only, with what it may edit."""
    rows = api_client_as(cast, "sub_admin").get(base(cast) + "departments/").json()["results"]
    assert [(row["name"], row["can_edit"]) for row in rows] == [("Sales", True), ("Sales East", True)]


@pytest.mark.parametrize("departments", [3, 40])
def test_department_list_query_count_is_constant(cast, django_assert_num_queries, departments):
    for index in range(departments):
        DepartmentFactory(organization=cast.organization, parent=cast.sales, name=f"Team {index}")
        grant_rights(cast.sub_admin, [Right.VIEW_SENSITIVE], cast.sales)
    client = api_client_as(cast, "sub_admin")
    with django_assert_num_queries(4):  # the gate (2), the count, the page
        response = client.get(base(cast) + "departments/")
    assert response.json()["count"] == departments + 2


def test_create_move_rename_and_delete_a_department(cast, owner_api):
    """ORG-3 through the services: each change audited; a move carries the subtree."""
    created = owner_api.post(
        base(cast) + "departments/", {"name": "Sales North", "parent": cast.sales.pk}, format="json"
    )
    assert created.status_code == 201
    north = Department.objects.get(pk=created.json()["id"])
    child = DepartmentFactory(organization=cast.organization, parent=north, name="North child")
    moved = owner_api.patch(
        base(cast) + f"departments/{north.pk}/", {"parent": cast.engineering.pk, "name": "North"}, format="json"
    )
    assert moved.status_code == 200 and moved.json()["parent"] == cast.engineering.pk
    child.refresh_from_db()
    assert child.path.startswith(cast.engineering.path)
    assert owner_api.delete(base(cast) + f"departments/{north.pk}/").status_code == 204
    assert not Department.objects.filter(pk__in=[north.pk, child.pk]).exists()
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["department.created", "department.updated", "department.deleted"]


@pytest.mark.parametrize(
    ("method", "target", "body", "field"),
    [
        ("delete", "sales_east", None, None),  # a member is placed there
        ("delete", "root", None, None),
        ("patch", "sales", {"parent": "sales_east"}, None),  # under its own subtree
        ("patch", "sales", {"name": ""}, "name"),
        ("patch", "sales", {"name": "x" * 201}, "name"),
        ("patch", "sales", {"parent": "nope"}, "parent"),
        ("patch", "sales", {"colour": "red"}, "colour"),
        ("post", None, {"name": "Second root"}, None),  # a root already exists
    ],
)
def test_department_refusals_are_400_and_change_nothing(cast, owner_api, method, target, body, field):
    if body and body.get("parent") in ("sales_east",):
        body = {**body, "parent": cast.sales_east.pk}
    url = base(cast) + "departments/" + (f"{getattr(cast, target).pk}/" if target else "")
    response = getattr(owner_api, method)(url, body, format="json")
    assert response.status_code == 400, response.content
    if field:
        assert field in error_of(response)["fields"]
    assert Department.objects.filter(organization=cast.organization).count() == 4
    assert not AuditEvent.objects.filter(action__startswith="department.").exists()


# --------------------------------------------------------------------------- administrators


@pytest.fixture
def sales_manager(cast):
    """A sub-administrator managing administrators (and the roster) in Sales only."""
    user = UserFactory(name="Sales manager")
    AdministratorFactory(organization=cast.organization, user=user, scope=[cast.sales])
    grant_rights(user, [Right.VIEW_ROSTER, Right.EDIT_ROSTER, Right.MANAGE_ADMINS], cast.sales)
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_appoint_change_and_remove_a_sub_administrator(cast, owner_api):
    """ORG-9 through the services: grants on the scope, replaced, then all revoked."""
    person = UserFactory(name="New admin")
    appointed = owner_api.post(
        base(cast) + "administrators/",
        {"phone": person.phone, "rights": ["view_roster", "edit_roster"], "departments": [cast.sales.pk]},
        format="json",
    )
    assert appointed.status_code == 201, appointed.content
    data = appointed.json()
    assert data["scope"] == [cast.sales.pk] and data["editable"] is True
    assert {(g["right"], g["department"]) for g in data["grants"]} == {
        ("view_roster", cast.sales.pk),
        ("edit_roster", cast.sales.pk),
    }
    url = base(cast) + f"administrators/{data['id']}/"
    changed = owner_api.patch(url, {"rights": ["view_roster"], "departments": []}, format="json")
    assert changed.json()["grants"] == [{"right": "view_roster", "department": None}]
    assert owner_api.delete(url).status_code == 204
    assert not Administrator.objects.filter(user=person).exists()
    assert not DepartmentUserObjectPermission.objects.filter(user=person).exists()


def test_an_administrator_cannot_grant_what_it_does_not_hold(cast, sales_manager):
    """ORG-9: the Sales manager lacks view_sensitive, and the whole organization."""
    person = UserFactory(name="Candidate")
    url = base(cast) + "administrators/"
    for body in (
        {"phone": person.phone, "rights": ["view_sensitive"], "departments": [cast.sales.pk]},
        {"phone": person.phone, "rights": ["view_roster"]},  # the whole organization
        {"phone": person.phone, "rights": ["view_roster"], "departments": [cast.engineering.pk]},
    ):
        response = sales_manager.post(url, body, format="json")
        assert response.status_code == 400, (body, response.content)
    assert not Administrator.objects.filter(user=person).exists()


def test_the_owner_row_and_ones_own_row_are_403(cast, owner_api):
    owner_row = Administrator.objects.get(user=cast.owner, organization=cast.organization)
    assert (
        owner_api.patch(
            base(cast) + f"administrators/{owner_row.pk}/", {"rights": ["view_roster"]}, format="json"
        ).status_code
        == 403
    )
    assert owner_api.delete(base(cast) + f"administrators/{owner_row.pk}/").status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "+8613000000000", "rights": ["view_roster"]},  # no account
        {"phone": "not a phone", "rights": ["view_roster"]},
        {"phone": "+8613800000001", "rights": []},
        {"phone": "+8613800000001", "rights": ["fly"]},
        {"phone": "+8613800000001", "rights": "view_roster"},
        {"phone": "+8613800000001", "rights": ["view_roster"], "departments": ["x"]},
        {"phone": "+8613800000001", "rights": ["view_roster"], "departments": [999999]},
        {"phone": "+8613800000001", "rights": ["view_roster"], "role": "owner"},
    ],
)
def test_bad_appointments_are_400(cast, owner_api, body):
    before = Administrator.objects.count()
    response = owner_api.post(base(cast) + "administrators/", body, format="json")
    assert response.status_code == 400, response.content
    assert Administrator.objects.count() == before


@pytest.mark.parametrize("administrators", [2, 15])
def test_administrator_list_query_count_is_constant(cast, owner_api, django_assert_num_queries, administrators):
    """ORG-9: the gate, the count, the page, the grants (two) and the scopes."""
    for index in range(administrators):
        user = UserFactory(name=f"Admin {index}")
        AdministratorFactory(organization=cast.organization, user=user, scope=[cast.sales])
        grant_rights(user, [Right.VIEW_ROSTER, Right.EDIT_ROSTER], cast.sales)
        grant_rights(user, [Right.HANDLE_REQUESTS], cast.organization)
    with django_assert_num_queries(6):
        response = owner_api.get(base(cast) + "administrators/")
    assert response.json()["count"] == administrators + 3


# --------------------------------------------------------------------------- disband


def send_disband_code(cast, client, capture) -> None:
    with capture(execute=True):  # the SMS goes out on commit
        assert client.post(base(cast) + "disband/code/").status_code == 202


def test_disband_with_a_fresh_code_then_cancel(cast, owner_api, sms_outbox, django_capture_on_commit_callbacks):
    """ORG-11: code, name and code confirm; frozen with a scheduled job; cancel restores."""
    send_disband_code(cast, owner_api, django_capture_on_commit_callbacks)
    code = last_code(sms_outbox, cast.owner.phone)
    wrong_name = owner_api.post(base(cast) + "disband/", {"code": code, "confirm_name": "Other"}, format="json")
    assert wrong_name.status_code == 400
    started = owner_api.post(
        base(cast) + "disband/", {"code": code, "confirm_name": cast.organization.name}, format="json"
    )
    assert started.status_code == 202, started.content
    assert started.json()["organization_status"] == "frozen"
    assert started.json()["job"]["status"] == JobStatus.SCHEDULED and started.json()["job"]["can_cancel"]
    status = owner_api.get(base(cast) + "disband/")
    assert status.json()["job"]["id"] == started.json()["job"]["id"]
    assert status["Cache-Control"] == "no-store"
    cancelled = owner_api.post(base(cast) + "disband/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["organization_status"] == "active"
    assert owner_api.post(base(cast) + "disband/cancel/").status_code == 409


def test_after_the_grace_window_the_api_offers_no_cancel(
    cast, owner_api, sms_outbox, django_capture_on_commit_callbacks, settings
):
    """ORG-11: a due job (grace window over, not taken up yet) cannot be cancelled."""
    settings.DISBAND_GRACE_DAYS = 7
    send_disband_code(cast, owner_api, django_capture_on_commit_callbacks)
    code = last_code(sms_outbox, cast.owner.phone)
    owner_api.post(base(cast) + "disband/", {"code": code, "confirm_name": cast.organization.name}, format="json")
    AnonymizationJob.objects.filter(organization_id=cast.organization.pk).update(
        not_before=timezone.now() - timedelta(seconds=1)
    )
    status = owner_api.get(base(cast) + "disband/").json()
    assert status["job"]["status"] == JobStatus.SCHEDULED and status["job"]["can_cancel"] is False
    assert owner_api.post(base(cast) + "disband/cancel/").status_code == 409


def test_a_disband_code_is_used_once(cast, owner_api, sms_outbox, django_capture_on_commit_callbacks):
    send_disband_code(cast, owner_api, django_capture_on_commit_callbacks)
    code = last_code(sms_outbox, cast.owner.phone)
    body = {"code": code, "confirm_name": cast.organization.name}
    assert owner_api.post(base(cast) + "disband/", body, format="json").status_code == 202
    owner_api.post(base(cast) + "disband/cancel/")
    again = owner_api.post(base(cast) + "disband/", body, format="json")
    assert again.status_code == 400 and "code" in error_of(again)["fields"]


@pytest.mark.parametrize("body", [{}, {"code": "12345", "confirm_name": "x"}, {"code": 123456, "confirm_name": ["x"]}])
def test_bad_disband_input_is_400(cast, owner_api, body):
    assert owner_api.post(base(cast) + "disband/", body, format="json").status_code == 400
    cast.organization.refresh_from_db()
    assert cast.organization.status == OrganizationStatus.ACTIVE


# --------------------------------------------------------------------------- audit


def test_audit_events_are_listed_and_filtered_by_action(cast, owner_api):
    """SEC-2: the owner reads the organization's trail, filtered by action."""
    owner_api.post(base(cast) + "departments/", {"name": "A", "parent": cast.sales.pk}, format="json")
    owner_api.post(base(cast) + f"members/{cast.member.pk}/reveal/", {"field": "mobile"}, format="json")
    rows = owner_api.get(base(cast) + "audit-events/").json()["results"]
    assert [row["action"] for row in rows] == ["member.revealed", "department.created"]
    assert rows[0]["actor_name"] == "Owner"
    filtered = owner_api.get(base(cast) + "audit-events/?action=department.created").json()
    assert filtered["count"] == 1
    assert owner_api.get(base(cast) + "audit-events/?since=yesterday").status_code == 400
    assert owner_api.get(base(cast) + "audit-events/?page=99").status_code == 404


@pytest.mark.parametrize("events", [2, 30])
def test_audit_list_query_count_is_constant(cast, owner_api, django_assert_num_queries, events):
    for _index in range(events):
        owner_api.post(base(cast) + f"members/{cast.member.pk}/reveal/", {"field": "mobile"}, format="json")
    with django_assert_num_queries(3):  # the gate, the count, the page with its actors
        response = owner_api.get(base(cast) + "audit-events/")
    assert response.json()["count"] == events


# --------------------------------------------------------------------------- tokens


def test_expired_and_revoked_tokens_are_401(cast):
    """The REST API: a token that no longer works is a 401 with a message, never anonymous."""
    secret, token = create_api_token(
        cast.owner, minted_by=verified_session(), name="integration", scope=TokenScope.WRITE
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get(base(cast)).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = client.get(base(cast))
    assert expired.status_code == 401 and error_of(expired)["message"]
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + timedelta(days=1))
    revoke_api_token(token, actor=cast.owner)
    assert client.post(base(cast) + "members/bulk/", {}, format="json").status_code == 401


def test_a_token_restricted_to_the_organization_works_there(cast):
    secret, _token = create_api_token(
        cast.owner,
        minted_by=verified_session(),
        name="hr",
        scope=TokenScope.WRITE,
        organization_id=cast.organization.pk,
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    rows = client.get("/api/v1/organizations/").json()["results"]
    assert [row["id"] for row in rows] == [cast.organization.pk]
    assert client.get(base(cast) + "members/").status_code == 200
    assert rows[0]["role"] == AdministratorRole.OWNER
