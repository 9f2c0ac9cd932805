"""Administrator pages and services (ORG-9): the permission matrix of every view, "no
admin can grant a right it does not hold" (each refused attempt writes nothing), edits
replace grants, removal deletes every grant of that admin in the organization in the
same transaction, and the list's query count is pinned."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dataprotection.models import AuditEvent
from organizations.models import (
    Administrator,
    AdministratorRole,
    DepartmentUserObjectPermission,
    OrganizationUserObjectPermission,
    Right,
)
from organizations.permissions import org_access
from organizations.services import administrators as services
from organizations.services.grants import grant_rights
from tests.factories import AdministratorFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(cast):
    """The Sales sub-admin (view and edit roster on Sales) also manages admins there."""
    grant_rights(cast.sub_admin, [Right.MANAGE_ADMINS], cast.sales)
    return cast.sub_admin


@pytest.fixture
def helper(cast):
    """A sub-admin viewing the Sales East roster, appointed by the owner."""
    user = UserFactory(name="Sales East helper")
    administrator = AdministratorFactory(organization=cast.organization, user=user, scope=[cast.sales_east])
    grant_rights(user, [Right.VIEW_ROSTER], cast.sales_east)
    return administrator


def admin_row(cast, user) -> Administrator:
    return Administrator.objects.get(organization=cast.organization, user=user)


def status_for(client, user, url, method="get", data=None) -> int:
    client.logout()
    if user is not None:
        client.force_login(user)
    return getattr(client, method)(url, data or {}).status_code


def grant_rows() -> tuple[int, int, int]:
    return (
        Administrator.objects.count(),
        OrganizationUserObjectPermission.objects.count(),
        DepartmentUserObjectPermission.objects.count(),
    )


def listed_admins(response) -> set[int]:
    return {int(pk) for pk in re.findall(r'data-administrator="(\d+)"', response.content.decode())}


# --------------------------------------------------------------------------- permission matrix


@pytest.mark.parametrize("view", ["admins", "admin_appoint"])
def test_list_and_appoint_permission_matrix(client, cast, manager, view):
    url = reverse(f"organizations:{view}", args=[cast.organization.pk])
    for user, code in [
        (cast.owner, 200),
        (manager, 200),
        (cast.out_of_scope_sub_admin, 403),  # administers the organization, no manage_admins
        (cast.other_org_admin, 404),
        (cast.member_user, 404),
        (cast.staff, 404),
        (None, 302),
    ]:
        assert status_for(client, user, url) == code, user


def test_list_shows_admins_in_scope_with_grant_summaries(client, cast, manager, helper):
    url = reverse("organizations:admins", args=[cast.organization.pk])
    client.force_login(cast.owner)
    response = client.get(url)
    everyone = {admin.pk for admin in Administrator.objects.filter(organization=cast.organization)}
    assert listed_admins(response) == everyone
    content = response.content.decode()
    assert "View roster — Engineering" in content
    assert "View roster — Sales East" in content
    assert "Manage administrators — Sales" in content
    assert "Every right — whole organization (owner)" in content

    client.force_login(manager)
    response = client.get(url)
    # the owner and the Engineering admin are outside the Sales manager's scope
    assert listed_admins(response) == {admin_row(cast, manager).pk, helper.pk}
    content = response.content.decode()
    assert "Engineering" not in content
    assert reverse("organizations:admin_edit", args=[cast.organization.pk, helper.pk]) in content
    assert reverse("organizations:admin_edit", args=[cast.organization.pk, admin_row(cast, manager).pk]) not in content


def test_list_counts_departments_outside_the_grantors_scope(client, cast, manager, helper):
    grant_rights(helper.user, [Right.VIEW_ROSTER], cast.engineering)
    client.force_login(manager)
    content = client.get(reverse("organizations:admins", args=[cast.organization.pk])).content.decode()
    assert "View roster — Sales East, 1 department outside your scope" in content


@pytest.mark.parametrize("view", ["admin_edit", "admin_remove"])
def test_edit_and_remove_permission_matrix(client, cast, manager, helper, view):
    method = "get" if view == "admin_edit" else "post"
    url = reverse(f"organizations:{view}", args=[cast.organization.pk, helper.pk])
    other_manager = cast.out_of_scope_sub_admin
    for user, code in [
        (cast.out_of_scope_sub_admin, 403),  # no manage_admins anywhere
        (cast.other_org_admin, 404),
        (cast.member_user, 404),
        (cast.staff, 404),
        (None, 302),
    ]:
        assert status_for(client, user, url, method) == code, user
    grant_rights(other_manager, [Right.MANAGE_ADMINS], cast.engineering)
    assert status_for(client, other_manager, url, method) == 404  # helper is scoped to Sales East only
    assert status_for(client, cast.owner, url, "get") in {200, 405}
    assert status_for(client, manager, url, "get") in {200, 405}
    assert Administrator.objects.filter(pk=helper.pk).exists()  # nothing above removed it

    # the owner's row: 403 for the owner, out of scope (404) for a scoped manager
    owner_url = reverse(f"organizations:{view}", args=[cast.organization.pk, admin_row(cast, cast.owner).pk])
    assert status_for(client, cast.owner, owner_url, method) == 403
    assert status_for(client, manager, owner_url, method) == 404
    # one's own row: 403
    own_url = reverse(f"organizations:{view}", args=[cast.organization.pk, admin_row(cast, manager).pk])
    assert status_for(client, manager, own_url, method) == 403
    # an admin of another organization: 404 even for the owner
    foreign = Administrator.objects.get(user=cast.other_org_admin)
    assert (
        status_for(
            client, cast.owner, reverse(f"organizations:{view}", args=[cast.organization.pk, foreign.pk]), method
        )
        == 404
    )

    if view == "admin_remove":
        assert status_for(client, cast.owner, url, "get") == 405
        assert status_for(client, manager, url, "post") == 302
        assert not Administrator.objects.filter(pk=helper.pk).exists()
    else:
        assert status_for(client, cast.owner, url) == 200
        assert status_for(client, manager, url) == 200
    assert Administrator.objects.filter(user=cast.owner, role=AdministratorRole.OWNER).exists()


# --------------------------------------------------------------------------- appoint


def appoint_data(phone, rights, departments=(), scope="departments") -> dict:
    return {"phone": phone, "rights": list(rights), "scope": scope, "departments": [d.pk for d in departments]}


def test_owner_appoints_by_mobile_number(client, cast):
    person = UserFactory(phone="+8613911112222", name="New helper")
    client.force_login(cast.owner)
    url = reverse("organizations:admin_appoint", args=[cast.organization.pk])
    response = client.post(
        url, appoint_data("139 1111 2222", [Right.VIEW_ROSTER, Right.EDIT_ROSTER], [cast.sales, cast.engineering])
    )
    assert response.status_code == 302
    administrator = admin_row(cast, person)
    assert administrator.role == AdministratorRole.SUB_ADMIN and administrator.appointed_by == cast.owner
    assert set(administrator.scope.all()) == {cast.sales, cast.engineering}
    grants = set(
        DepartmentUserObjectPermission.objects.filter(user=person).values_list(
            "permission__codename", "content_object_id"
        )
    )
    assert grants == {
        (right, department.pk)
        for right in (Right.VIEW_ROSTER, Right.EDIT_ROSTER)
        for department in (cast.sales, cast.engineering)
    }
    access = org_access(person, cast.organization.pk)
    assert access.covers(Right.EDIT_ROSTER, cast.sales_east) and not access.has_whole(Right.VIEW_ROSTER)
    event = AuditEvent.objects.get(action="administrator.appointed")
    assert event.organization_id == cast.organization.pk and event.subject_user == person
    assert event.metadata == {
        "rights": ["edit_roster", "view_roster"],
        "whole_organization": False,
        "scope": [cast.sales.pk, cast.engineering.pk],  # in tree order
    }

    whole = UserFactory(phone="+8613911113333")
    response = client.post(url, appoint_data(whole.phone, [Right.HANDLE_REQUESTS], [cast.sales], scope="organization"))
    assert response.status_code == 302
    assert not admin_row(cast, whole).scope.exists()
    assert OrganizationUserObjectPermission.objects.filter(user=whole, content_object=cast.organization).count() == 1
    assert not DepartmentUserObjectPermission.objects.filter(user=whole).exists()


@pytest.mark.parametrize(
    "phone, message",
    [
        ("139 2222 0000", "No account uses this number; ask them to register first."),
        ("12345", "is not a valid mobile number"),
        ("", "Enter their mobile number."),
    ],
)
def test_appoint_needs_a_registered_number(client, cast, phone, message):
    client.force_login(cast.owner)
    before = grant_rows()
    url = reverse("organizations:admin_appoint", args=[cast.organization.pk])
    response = client.post(url, appoint_data(phone, [Right.VIEW_ROSTER], [cast.sales]))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert grant_rows() == before


def test_appoint_refuses_owner_existing_admins_and_empty_choices(client, cast):
    client.force_login(cast.owner)
    url = reverse("organizations:admin_appoint", args=[cast.organization.pk])
    before = grant_rows()
    for data, message in [
        (appoint_data(cast.owner.phone, [Right.VIEW_ROSTER], [cast.sales]), "owns the organization"),
        (appoint_data(cast.sub_admin.phone, [Right.VIEW_ROSTER], [cast.sales]), "edit their rights instead"),
        (appoint_data(cast.member_user.phone, [], [cast.sales]), "Choose at least one right."),
        (appoint_data(cast.member_user.phone, [Right.VIEW_ROSTER], []), "Choose at least one department"),
    ]:
        response = client.post(url, data)
        assert response.status_code == 200
        assert message in response.content.decode()
    assert grant_rows() == before


# --------------------------------------------------------------------------- ORG-9: no granting what one lacks


@pytest.mark.parametrize(
    "rights, scope, message",
    [
        ([Right.VIEW_SENSITIVE], "sales", "You cannot grant “View sensitive fields” on “Sales”"),
        ([Right.VIEW_ROSTER, Right.VIEW_SENSITIVE], "sales_east", "“View sensitive fields” on “Sales East”"),
        ([Right.VIEW_ROSTER], "engineering", "You cannot grant “View roster” on “Engineering”"),
        ([Right.VIEW_ROSTER], "sales+engineering", "You cannot grant “View roster” on “Engineering”"),
        ([Right.VIEW_ROSTER], None, "You cannot grant “View roster” on the whole organization"),
    ],
)
def test_no_admin_can_grant_a_right_it_does_not_hold(cast, manager, rights, scope, message):
    person = UserFactory(name="Candidate")
    departments = {
        "sales": [cast.sales],
        "sales_east": [cast.sales_east],
        "engineering": [cast.engineering],
        "sales+engineering": [cast.sales, cast.engineering],
        None: [],
    }[scope]
    access = org_access(manager, cast.organization.pk)
    before = grant_rows()
    with pytest.raises(ValidationError, match=message):
        services.appoint_administrator(access, person, rights, departments)
    assert grant_rows() == before
    assert not Administrator.objects.filter(user=person).exists()
    assert not AuditEvent.objects.filter(action="administrator.appointed").exists()


def test_refusals_through_the_page_write_nothing(client, cast, manager):
    person = UserFactory(phone="+8613933334444")
    client.force_login(manager)
    url = reverse("organizations:admin_appoint", args=[cast.organization.pk])
    before = grant_rows()
    response = client.post(url, appoint_data(person.phone, [Right.VIEW_SENSITIVE], [cast.sales]))
    assert "You cannot grant “View sensitive fields” on “Sales”" in response.content.decode()
    # Engineering and the whole organization are not even offered to the Sales manager
    for data in (
        appoint_data(person.phone, [Right.VIEW_ROSTER], [cast.engineering]),
        appoint_data(person.phone, [Right.VIEW_ROSTER], scope="organization"),
    ):
        response = client.post(url, data)
        assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert grant_rows() == before
    content = client.get(url).content.decode()
    assert "Engineering" not in content and 'value="organization"' not in content

    response = client.post(url, appoint_data(person.phone, [Right.VIEW_ROSTER, Right.MANAGE_ADMINS], [cast.sales_east]))
    assert response.status_code == 302
    assert set(org_access(person, cast.organization.pk).rights) == {Right.VIEW_ROSTER, Right.MANAGE_ADMINS}


def test_sub_admin_without_manage_admins_cannot_appoint(cast):
    access = org_access(cast.sub_admin, cast.organization.pk)
    with pytest.raises(PermissionDenied):
        services.appoint_administrator(access, UserFactory(), [Right.VIEW_ROSTER], [cast.sales])


# --------------------------------------------------------------------------- edit


def helper_grants(helper) -> set[tuple[str, int | None]]:
    return set(services.administrator_grants(helper).pairs)


def test_owner_replaces_rights_and_scope(client, cast, helper):
    client.force_login(cast.owner)
    url = reverse("organizations:admin_edit", args=[cast.organization.pk, helper.pk])
    response = client.get(url)
    assert response.status_code == 200
    content = response.content.decode()
    assert re.search(r'value="view_roster"[^>]*checked', content)
    assert re.search(rf'value="{cast.sales_east.pk}"[^>]*checked', content)

    response = client.post(
        url, {"rights": [Right.VIEW_ROSTER, Right.EDIT_ROSTER], "scope": "departments", "departments": [cast.sales.pk]}
    )
    assert response.status_code == 302
    assert helper_grants(helper) == {(Right.VIEW_ROSTER, cast.sales.pk), (Right.EDIT_ROSTER, cast.sales.pk)}
    assert list(helper.scope.all()) == [cast.sales]
    event = AuditEvent.objects.get(action="administrator.rights_changed")
    assert event.metadata["removed"] == [["view_roster", cast.sales_east.pk]]

    response = client.post(url, {"rights": [Right.HANDLE_REQUESTS], "scope": "organization"})
    assert response.status_code == 302
    assert helper_grants(helper) == {(Right.HANDLE_REQUESTS, None)}
    assert not helper.scope.exists()
    # resubmitting the same choices changes nothing and records nothing
    response = client.post(url, {"rights": [Right.HANDLE_REQUESTS], "scope": "organization"})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="administrator.rights_changed").count() == 2


def test_manager_adds_and_removes_only_what_they_could_grant(client, cast, manager, helper):
    access = org_access(manager, cast.organization.pk)
    services.update_administrator_rights(access, helper, [Right.VIEW_ROSTER, Right.EDIT_ROSTER], [cast.sales_east])
    assert helper_grants(helper) == {(Right.VIEW_ROSTER, cast.sales_east.pk), (Right.EDIT_ROSTER, cast.sales_east.pk)}

    grant_rights(helper.user, [Right.MANAGE_SERVICES], cast.sales_east)  # by the owner, say
    before = helper_grants(helper)
    with pytest.raises(ValidationError, match="You cannot remove “Manage services” on “Sales East”"):
        services.update_administrator_rights(access, helper, [Right.VIEW_ROSTER], [cast.sales_east])
    with pytest.raises(ValidationError, match="You cannot grant “View sensitive fields” on “Sales East”"):
        services.update_administrator_rights(
            access, helper, [Right.VIEW_ROSTER, Right.MANAGE_SERVICES, Right.VIEW_SENSITIVE], [cast.sales_east]
        )
    with pytest.raises(ValidationError, match="on the whole organization"):
        services.update_administrator_rights(access, helper, [Right.VIEW_ROSTER], [])
    assert helper_grants(helper) == before
    # keeping the right they do not hold untouched is fine
    services.update_administrator_rights(access, helper, [Right.VIEW_ROSTER, Right.MANAGE_SERVICES], [cast.sales_east])
    assert helper_grants(helper) == {
        (Right.VIEW_ROSTER, cast.sales_east.pk),
        (Right.MANAGE_SERVICES, cast.sales_east.pk),
    }

    client.force_login(manager)
    url = reverse("organizations:admin_edit", args=[cast.organization.pk, helper.pk])
    response = client.post(url, {"rights": [Right.VIEW_ROSTER], "scope": "departments", "departments": [cast.sales.pk]})
    assert response.status_code == 200
    assert "You cannot remove “Manage services” on “Sales East”" in response.content.decode()


def test_nobody_edits_the_owner_or_themselves_through_the_service(cast, manager):
    owner_access = org_access(cast.owner, cast.organization.pk)
    with pytest.raises(PermissionDenied):
        services.update_administrator_rights(owner_access, admin_row(cast, cast.owner), [Right.VIEW_ROSTER], [])
    with pytest.raises(PermissionDenied):
        services.remove_administrator(owner_access, admin_row(cast, cast.owner))
    access = org_access(manager, cast.organization.pk)
    with pytest.raises(PermissionDenied):
        services.update_administrator_rights(access, admin_row(cast, manager), [Right.VIEW_ROSTER], [cast.sales])


# --------------------------------------------------------------------------- remove


def test_removal_deletes_every_grant_in_this_organization_only(client, cast, helper):
    other_org = OrganizationFactory()
    AdministratorFactory(organization=other_org, user=helper.user)
    grant_rights(helper.user, [Right.VIEW_ROSTER, Right.MANAGE_SERVICES], other_org)
    grant_rights(helper.user, [Right.HANDLE_REQUESTS], cast.organization)
    grant_rights(helper.user, [Right.EDIT_ROSTER], cast.sales)

    client.force_login(cast.owner)
    response = client.post(reverse("organizations:admin_remove", args=[cast.organization.pk, helper.pk]))
    assert response.status_code == 302
    assert not Administrator.objects.filter(pk=helper.pk).exists()
    assert not DepartmentUserObjectPermission.objects.filter(user=helper.user).exists()
    assert not OrganizationUserObjectPermission.objects.filter(
        user=helper.user, content_object=cast.organization
    ).exists()
    assert OrganizationUserObjectPermission.objects.filter(user=helper.user, content_object=other_org).count() == 2
    assert Administrator.objects.filter(organization=other_org, user=helper.user).exists()
    event = AuditEvent.objects.get(action="administrator.removed")
    assert event.metadata == {"rights": ["edit_roster", "handle_requests", "view_roster"], "grants_revoked": 3}
    assert event.organization_id == cast.organization.pk


def test_removal_is_one_transaction(cast, helper, monkeypatch):
    """If any step fails (here the audit event, the last one), neither the row nor any
    grant is gone: the grants and the Administrator row go together or not at all."""

    def failing_event(*args, **kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(services, "record_event", failing_event)
    before = grant_rows()
    with pytest.raises(RuntimeError):
        services.remove_administrator(org_access(cast.owner, cast.organization.pk), helper)
    assert grant_rows() == before
    assert helper_grants(helper) == {(Right.VIEW_ROSTER, cast.sales_east.pk)}


def test_manager_cannot_remove_an_admin_holding_rights_they_lack(client, cast, manager, helper):
    grant_rights(helper.user, [Right.VIEW_SENSITIVE], cast.sales_east)
    client.force_login(manager)
    url = reverse("organizations:admin_remove", args=[cast.organization.pk, helper.pk])
    response = client.post(url, follow=True)
    assert "You cannot remove “View sensitive fields” on “Sales East”" in response.content.decode()
    assert Administrator.objects.filter(pk=helper.pk).exists()
    assert len(helper_grants(helper)) == 2


# --------------------------------------------------------------------------- query count


def test_list_query_count_is_constant(client, cast):
    """Pinned: session, user, the gate (the owner's administrator row), the administrators
    with their users, organization-wide grants, department grants = 6, with 3 or 23
    administrators each holding several grants."""
    url = reverse("organizations:admins", args=[cast.organization.pk])
    client.force_login(cast.owner)
    client.get(url)  # warm caches
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for index in range(20):
        user = UserFactory(name=f"Helper {index}")
        AdministratorFactory(organization=cast.organization, user=user, scope=[cast.sales, cast.engineering])
        grant_rights(user, [Right.VIEW_ROSTER, Right.EDIT_ROSTER], cast.sales)
        grant_rights(user, [Right.VIEW_ROSTER], cast.engineering)
        grant_rights(user, [Right.HANDLE_REQUESTS], cast.organization)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(listed_admins(response)) == 23
    assert len(few) == len(many) == 6, [query["sql"] for query in many.captured_queries]
