"""The permission gate (ORG-9, brief rule 2): 404 out of scope, 403 in scope but
forbidden, subtree grants cover descendants, owners hold everything, and the gate costs
two queries however many grants a user holds."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from organizations.models import Right
from organizations.permissions import minimal_paths, org_access
from organizations.services.grants import grant_rights, revoke_all_rights
from tests.factories import DepartmentFactory, MemberFactory

pytestmark = pytest.mark.django_db


def test_minimal_paths_drops_nested_prefixes():
    assert minimal_paths(["a/b/", "a/", "c/", "a/b/c/", "c/"]) == ("a/", "c/")


def test_non_administrators_get_404(cast):
    for user in (cast.member_user, cast.other_org_admin, cast.staff):
        with pytest.raises(Http404):
            org_access(user, cast.organization.pk)


def test_owner_holds_every_right_everywhere(cast):
    access = org_access(cast.owner, cast.organization.pk)
    assert access.is_owner
    assert all(access.has_whole(right) for right in Right.values if right != Right.VIEW_CHILDREN)
    assert not access.has_whole(Right.VIEW_CHILDREN)  # SEC-3: only as the designated officer
    assert set(access.members().values_list("pk", flat=True)) == {cast.member.pk}


def test_subtree_grant_covers_descendants_only(cast):
    in_scope = org_access(cast.sub_admin, cast.organization.pk)
    assert in_scope.covers(Right.VIEW_ROSTER, cast.sales_east)
    assert not in_scope.covers(Right.VIEW_ROSTER, cast.engineering)
    assert not in_scope.has_whole(Right.VIEW_ROSTER)
    assert list(in_scope.members()) == [cast.member]
    assert in_scope.get_member(cast.member.pk) == cast.member

    out_of_scope = org_access(cast.out_of_scope_sub_admin, cast.organization.pk)
    assert list(out_of_scope.members()) == []
    with pytest.raises(Http404):
        out_of_scope.get_member(cast.member.pk)


def test_in_scope_without_the_right_is_403(cast):
    access = org_access(cast.sub_admin, cast.organization.pk)
    with pytest.raises(PermissionDenied):
        access.get_member(cast.member.pk, Right.VIEW_SENSITIVE)
    with pytest.raises(PermissionDenied):
        access.members(Right.MANAGE_ADMINS)
    with pytest.raises(PermissionDenied):
        access.require_owner()


def test_no_admin_can_grant_a_right_it_does_not_hold(cast):
    grant_rights(cast.sub_admin, [Right.MANAGE_ADMINS], cast.sales)
    access = org_access(cast.sub_admin, cast.organization.pk)
    assert access.can_grant(Right.VIEW_ROSTER, cast.sales_east)
    assert not access.can_grant(Right.VIEW_SENSITIVE, cast.sales_east)  # does not hold it
    assert not access.can_grant(Right.VIEW_ROSTER, cast.engineering)  # not there
    assert not access.can_grant(Right.VIEW_ROSTER, None)  # not on the whole organization


def test_member_in_two_departments_is_listed_once(cast):
    second = DepartmentFactory(organization=cast.organization, parent=cast.sales, name="Sales West")
    cast.member.departments.add(second, through_defaults={"is_primary": False})
    access = org_access(cast.sub_admin, cast.organization.pk)
    assert list(access.members()) == [cast.member]


def test_gate_query_count_does_not_grow_with_grants(cast, django_assert_num_queries):
    """Two queries: the administrator row with its organization, then all grants."""
    with django_assert_num_queries(2):
        org_access(cast.sub_admin, cast.organization.pk)
    for index in range(20):
        department = DepartmentFactory(organization=cast.organization, parent=cast.sales, name=f"Team {index}")
        grant_rights(cast.sub_admin, [Right.VIEW_ROSTER, Right.HANDLE_REQUESTS], department)
        MemberFactory(organization=cast.organization, department=department)
    with django_assert_num_queries(2):
        access = org_access(cast.sub_admin, cast.organization.pk)
    assert access.paths(Right.VIEW_ROSTER) == (cast.sales.path,)
    with django_assert_num_queries(1):
        assert len(list(access.members())) == 21


def test_revoking_removes_every_grant_in_the_organization(cast):
    grant_rights(cast.sub_admin, [Right.MANAGE_SERVICES], cast.organization)
    assert org_access(cast.sub_admin, cast.organization.pk).has_whole(Right.MANAGE_SERVICES)
    assert revoke_all_rights(cast.sub_admin, cast.organization) == 3
    access = org_access(cast.sub_admin, cast.organization.pk)
    assert access.rights == frozenset()


def test_deleting_a_department_deletes_its_grants(cast):
    """Direct foreign keys: no grant survives its object (style-anchors (d) 4)."""
    from organizations.models import DepartmentUserObjectPermission

    assert DepartmentUserObjectPermission.objects.filter(content_object=cast.engineering).count() == 2
    cast.engineering.delete()
    assert not DepartmentUserObjectPermission.objects.filter(user=cast.out_of_scope_sub_admin).exists()
