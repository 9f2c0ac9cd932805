"""Department tree pages and services (ORG-3): the permission matrix of every view, the
tree restricted to the administrator's subtrees with a pinned query count, create,
rename/move (one UPDATE for the whole subtree) and delete (refused with members; grants
go with the departments)."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dataprotection.models import AuditEvent
from organizations.models import Department, DepartmentUserObjectPermission, Right
from organizations.permissions import org_access
from organizations.services import departments as services
from organizations.services.grants import grant_rights
from tests.factories import AdministratorFactory, DepartmentFactory, MemberFactory, UserFactory

pytestmark = pytest.mark.django_db


def visible_departments(response) -> set[int]:
    return {int(pk) for pk in re.findall(r'data-department="(\d+)"', response.content.decode())}


@pytest.fixture
def viewer(cast):
    """A sub-administrator who may only view the Sales roster (no edit_roster)."""
    user = UserFactory(name="Sales viewer")
    AdministratorFactory(organization=cast.organization, user=user, scope=[cast.sales])
    grant_rights(user, [Right.VIEW_ROSTER], cast.sales)
    return user


def status_for(client, user, url, method="get", data=None) -> int:
    client.logout()
    if user is not None:
        client.force_login(user)
    return getattr(client, method)(url, data or {}).status_code


# --------------------------------------------------------------------------- permission matrix


def test_tree_permission_matrix_and_visible_sets(client, cast, viewer):
    url = reverse("organizations:departments", args=[cast.organization.pk])
    all_departments = {cast.root.pk, cast.sales.pk, cast.sales_east.pk, cast.engineering.pk}
    expected = [
        (cast.owner, 200, all_departments),
        (cast.sub_admin, 200, {cast.sales.pk, cast.sales_east.pk}),
        (viewer, 200, {cast.sales.pk, cast.sales_east.pk}),
        (cast.out_of_scope_sub_admin, 200, {cast.engineering.pk}),
    ]
    for user, code, departments in expected:
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == code, user
        assert visible_departments(response) == departments, user
    for user in (cast.other_org_admin, cast.member_user, cast.staff):
        assert status_for(client, user, url) == 404
    client.logout()
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_tree_shows_names_counts_and_edit_links_only_where_editable(client, cast, viewer):
    client.force_login(cast.sub_admin)
    response = client.get(reverse("organizations:departments", args=[cast.organization.pk]))
    content = response.content.decode()
    assert "Sales East" in content and "Engineering" not in content
    assert "1 member" in content
    assert reverse("organizations:department_edit", args=[cast.organization.pk, cast.sales_east.pk]) in content
    client.force_login(viewer)
    content = client.get(reverse("organizations:departments", args=[cast.organization.pk])).content.decode()
    assert reverse("organizations:department_edit", args=[cast.organization.pk, cast.sales_east.pk]) not in content


def test_create_permission_matrix(client, cast, viewer):
    url = reverse("organizations:department_create", args=[cast.organization.pk])
    for user, code in [
        (cast.owner, 200),
        (cast.sub_admin, 200),
        (cast.out_of_scope_sub_admin, 200),
        (viewer, 403),
        (cast.other_org_admin, 404),
        (cast.member_user, 404),
        (cast.staff, 404),
        (None, 302),
    ]:
        assert status_for(client, user, url) == code, user
        assert status_for(client, user, url, "post", {"name": "X", "parent": cast.sales.pk}) in {code, 302}, user
    # the only successful POST was the owner's and the sub-admin's (both edit Sales)
    assert Department.objects.filter(name="X").count() == 2


@pytest.mark.parametrize("view", ["department_edit", "department_delete"])
def test_edit_and_delete_permission_matrix(client, cast, viewer, view):
    url = reverse(f"organizations:{view}", args=[cast.organization.pk, cast.sales_east.pk])
    for user, code in [
        (cast.owner, 200),
        (cast.sub_admin, 200),
        (viewer, 403),
        (cast.out_of_scope_sub_admin, 404),
        (cast.other_org_admin, 404),
        (cast.member_user, 404),
        (cast.staff, 404),
        (None, 302),
    ]:
        assert status_for(client, user, url) == code, user
    # out of scope, forbidden, anonymous: POSTs change nothing
    for user in (viewer, cast.out_of_scope_sub_admin, cast.other_org_admin, cast.member_user, None):
        status_for(client, user, url, "post", {"name": "Renamed", "parent": cast.sales.pk, "confirm": "on"})
    cast.sales_east.refresh_from_db()
    assert cast.sales_east.name == "Sales East"
    # the root is outside the sub-admin's subtree
    root_url = reverse(f"organizations:{view}", args=[cast.organization.pk, cast.root.pk])
    assert status_for(client, cast.sub_admin, root_url) == 404
    assert status_for(client, cast.owner, root_url) == 200


def test_other_organizations_department_is_404(client, cast):
    foreign = DepartmentFactory(name="Foreign")
    url = reverse("organizations:department_edit", args=[cast.organization.pk, foreign.pk])
    assert status_for(client, cast.owner, url) == 404


# --------------------------------------------------------------------------- query count


def test_tree_query_count_is_constant(client, cast):
    """Pinned: session, user, the gate's two queries (administrator row, grants), the
    departments, the member counts = 6, with 3 or 30 departments in the sub-admin's tree."""
    url = reverse("organizations:departments", args=[cast.organization.pk])
    client.force_login(cast.sub_admin)
    client.get(url)  # warm caches (content types)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    parent = cast.sales_east
    for index in range(27):
        parent = DepartmentFactory(organization=cast.organization, parent=parent if index % 3 else cast.sales)
        MemberFactory(organization=cast.organization, department=parent)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(visible_departments(response)) == 29
    assert len(few) == len(many) == 6, [query["sql"] for query in many.captured_queries]


# --------------------------------------------------------------------------- create


def test_create_under_a_department_where_one_edits(client, cast):
    client.force_login(cast.sub_admin)
    url = reverse("organizations:department_create", args=[cast.organization.pk])
    response = client.post(url, {"name": " Sales West ", "parent": cast.sales.pk})
    assert response.status_code == 302
    west = Department.objects.get(name="Sales West")
    assert west.path == cast.sales.path + Department.segment(west.pk)
    assert west.depth == 2 and west.parent == cast.sales
    assert AuditEvent.objects.filter(action="department.created", organization_id=cast.organization.pk).exists()

    # Engineering is not offered to the Sales sub-admin: refused, nothing written
    response = client.post(url, {"name": "Sneaky", "parent": cast.engineering.pk})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    response = client.post(url, {"name": "   ", "parent": cast.sales.pk})
    assert response.status_code == 200
    assert not Department.objects.filter(name__in=["Sneaky", ""]).exists()


def test_create_service_rechecks_rights(cast):
    access = org_access(cast.sub_admin, cast.organization.pk)
    with pytest.raises(PermissionDenied):
        services.create_department(access, name="Sneaky", parent=cast.engineering)
    with pytest.raises(PermissionDenied):
        services.create_department(access, name="Sneaky", parent=None)
    owner = org_access(cast.owner, cast.organization.pk)
    with pytest.raises(ValidationError, match="parent"):
        services.create_department(owner, name="Second root", parent=None)
    assert not Department.objects.filter(name__in=["Sneaky", "Second root"]).exists()


# --------------------------------------------------------------------------- move


def path_of(*departments) -> str:
    return "".join(Department.segment(department.pk) for department in departments)


def test_move_rewrites_the_whole_subtree(client, cast):
    team = DepartmentFactory(organization=cast.organization, parent=cast.sales_east, name="Team")
    client.force_login(cast.owner)
    url = reverse("organizations:department_edit", args=[cast.organization.pk, cast.sales.pk])
    response = client.post(url, {"name": "Sales & Marketing", "parent": cast.engineering.pk})
    assert response.status_code == 302
    for department in (cast.sales, cast.sales_east, team, cast.engineering):
        department.refresh_from_db()
    assert cast.sales.name == "Sales & Marketing"
    assert cast.sales.parent == cast.engineering
    assert cast.sales.path == path_of(cast.root, cast.engineering, cast.sales)
    assert cast.sales_east.path == path_of(cast.root, cast.engineering, cast.sales, cast.sales_east)
    assert team.path == cast.sales_east.path + Department.segment(team.pk)
    assert (cast.sales.depth, cast.sales_east.depth, team.depth) == (2, 3, 4)
    assert set(Department.objects.subtree(cast.engineering)) == {cast.engineering, cast.sales, cast.sales_east, team}
    assert set(Department.objects.subtree(cast.sales)) == {cast.sales, cast.sales_east, team}
    event = AuditEvent.objects.get(action="department.updated")
    assert event.changes == ["name", "parent"] and event.organization_id == cast.organization.pk

    # and back up one level: depth shrinks again
    owner = org_access(cast.owner, cast.organization.pk)
    services.update_department(owner, cast.sales_east, name="Sales East", parent=cast.root)
    team.refresh_from_db()
    assert team.path == path_of(cast.root, cast.sales_east, team) and team.depth == 2


def department_updates(queries) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "organizations_department"')]


def test_move_is_one_update_whatever_the_subtree_size(cast):
    owner = org_access(cast.owner, cast.organization.pk)
    small = DepartmentFactory(organization=cast.organization, parent=cast.sales, name="Small")
    DepartmentFactory(organization=cast.organization, parent=small)
    large = DepartmentFactory(organization=cast.organization, parent=cast.sales, name="Large")
    parent = large
    for _index in range(25):
        parent = DepartmentFactory(organization=cast.organization, parent=parent)

    with CaptureQueriesContext(connection) as small_move:
        services.update_department(owner, small, name="Small", parent=cast.engineering)
    with CaptureQueriesContext(connection) as large_move:
        services.update_department(owner, large, name="Large", parent=cast.engineering)
    assert len(department_updates(small_move)) == len(department_updates(large_move)) == 1
    assert len(small_move) == len(large_move)
    large.refresh_from_db()
    assert Department.objects.subtree(large).count() == 26
    parent.refresh_from_db()
    assert parent.path.startswith(path_of(cast.root, cast.engineering, large)) and parent.depth == 27
    assert all(
        department.path == (department.parent.path if department.parent else "") + Department.segment(department.pk)
        for department in Department.objects.filter(organization=cast.organization).select_related("parent")
    )


def test_invalid_moves_are_refused(client, cast):
    owner = org_access(cast.owner, cast.organization.pk)
    for department, parent in [(cast.sales, cast.sales_east), (cast.sales, cast.sales)]:
        with pytest.raises(ValidationError, match="under itself"):
            services.update_department(owner, department, name=department.name, parent=parent)
    with pytest.raises(ValidationError, match="top-level department cannot be moved"):
        services.update_department(owner, cast.root, name=cast.root.name, parent=cast.sales)
    # through the page: descendants are not offered
    client.force_login(cast.owner)
    url = reverse("organizations:department_edit", args=[cast.organization.pk, cast.sales.pk])
    response = client.post(url, {"name": "Sales", "parent": cast.sales_east.pk})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    # the root's page has no parent field: posting one moves nothing
    root_url = reverse("organizations:department_edit", args=[cast.organization.pk, cast.root.pk])
    assert client.post(root_url, {"name": "Root renamed", "parent": cast.sales.pk}).status_code == 302
    for department in (cast.root, cast.sales, cast.sales_east):
        department.refresh_from_db()
    assert cast.root.name == "Root renamed" and cast.root.parent is None and cast.root.path == path_of(cast.root)
    assert cast.sales.path == path_of(cast.root, cast.sales)
    assert cast.sales_east.path == path_of(cast.root, cast.sales, cast.sales_east)


def test_move_needs_edit_roster_on_the_new_parent(client, cast):
    access = org_access(cast.sub_admin, cast.organization.pk)
    with pytest.raises(PermissionDenied):
        services.update_department(access, cast.sales_east, name="Sales East", parent=cast.engineering)
    client.force_login(cast.sub_admin)
    url = reverse("organizations:department_edit", args=[cast.organization.pk, cast.sales_east.pk])
    assert client.post(url, {"name": "Sales East", "parent": cast.engineering.pk}).status_code == 200
    # the sub-admin may rename Sales, keeping its parent (the root, outside their subtree)
    sales_url = reverse("organizations:department_edit", args=[cast.organization.pk, cast.sales.pk])
    assert client.post(sales_url, {"name": "Sales CN", "parent": cast.root.pk}).status_code == 302
    cast.sales.refresh_from_db()
    cast.sales_east.refresh_from_db()
    assert cast.sales.name == "Sales CN" and cast.sales_east.parent == cast.sales


# --------------------------------------------------------------------------- delete


def test_delete_refused_while_members_remain(client, cast):
    client.force_login(cast.owner)
    url = reverse("organizations:department_delete", args=[cast.organization.pk, cast.sales.pk])
    response = client.post(url, {"confirm": "on"})
    assert response.status_code == 200
    assert "“Sales” cannot be deleted: 1 member is still placed in it or its sub-departments" in (
        response.content.decode()
    )
    assert Department.objects.filter(pk__in=[cast.sales.pk, cast.sales_east.pk]).count() == 2
    owner = org_access(cast.owner, cast.organization.pk)
    with pytest.raises(ValidationError, match="top-level department cannot be deleted"):
        services.delete_department(owner, cast.root)
    # without the confirmation box nothing happens either
    empty = DepartmentFactory(organization=cast.organization, parent=cast.root, name="Empty")
    url = reverse("organizations:department_delete", args=[cast.organization.pk, empty.pk])
    response = client.post(url, {})
    assert response.status_code == 200 and "Tick the box" in response.content.decode()
    assert Department.objects.filter(pk=empty.pk).exists()


def test_delete_removes_subtree_grants_and_scopes(client, cast):
    sub_team = DepartmentFactory(organization=cast.organization, parent=cast.engineering, name="Platform")
    grant_rights(cast.sub_admin, [Right.VIEW_ROSTER], sub_team)  # a grant on a descendant
    assert DepartmentUserObjectPermission.objects.filter(content_object__in=[cast.engineering, sub_team]).count() == 3
    client.force_login(cast.owner)
    url = reverse("organizations:department_delete", args=[cast.organization.pk, cast.engineering.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"confirm": "on"}).status_code == 302
    assert not Department.objects.filter(pk__in=[cast.engineering.pk, sub_team.pk]).exists()
    assert not DepartmentUserObjectPermission.objects.filter(user=cast.out_of_scope_sub_admin).exists()
    assert DepartmentUserObjectPermission.objects.filter(user=cast.sub_admin).count() == 2  # Sales grants stay
    assert not cast.out_of_scope_sub_admin.administrations.get().scope.exists()
    event = AuditEvent.objects.get(action="department.deleted")
    assert event.metadata == {"name": "Engineering", "departments_deleted": 2, "grants_deleted": 3}


def test_sub_admin_deletes_inside_their_subtree_only(client, cast):
    team = DepartmentFactory(organization=cast.organization, parent=cast.sales_east, name="Team")
    client.force_login(cast.sub_admin)
    url = reverse("organizations:department_delete", args=[cast.organization.pk, team.pk])
    assert client.post(url, {"confirm": "on"}).status_code == 302
    assert not Department.objects.filter(pk=team.pk).exists()
    url = reverse("organizations:department_delete", args=[cast.organization.pk, cast.engineering.pk])
    assert client.post(url, {"confirm": "on"}).status_code == 404
    assert Department.objects.filter(pk=cast.engineering.pk).exists()
