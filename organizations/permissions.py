"""The one permission gate for organization data (ORG-9, brief rule 2).

Every HTML view and API endpoint that shows or changes organization data starts with
``org_access(user, organization_id)`` and asks the returned ``OrgAccess`` for querysets
and decisions. The gate answers in two queries per request (the administrator row with
its organization, then every grant of that user in that organization, unioned) and never
checks permissions per row: lists are filtered with one subquery on department paths.

Rules:
- Not an administrator of the organization: 404 (the organization is out of scope).
- An object outside every subtree where the administrator holds the right to see it: 404.
- In scope but without the right for the action: 403.
- The owner holds every right on the whole organization; grants are never stored for it.
- SEC-3, children: a child's roster entry (``organizations.models.children``) is left out of
  every roster queryset, and is 404 as a single object, unless the administrator holds
  ``view_children`` where the child is placed. Minimum-sufficient access: the owner does
  not hold it implicitly -- only as the organization's designated children's data
  officer, who holds it on the whole organization whatever their role. The owner may
  still grant it (it appoints the administrators), and the grant is audited like any
  other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet, Value
from django.http import Http404
from django.utils import timezone

from accounts.assurance import require_second_factor
from organizations.models import (
    Administrator,
    AdministratorRole,
    Department,
    DepartmentUserObjectPermission,
    Member,
    MemberDepartment,
    Organization,
    OrganizationStatus,
    OrganizationUserObjectPermission,
    Right,
)
from organizations.models.children import child_cutoff, children_q

ALL_RIGHTS = frozenset(Right.values)
# Rights that change the organization's data: none of them holds while the organization
# is frozen for a pending disband (ORG-11), whatever the grants say.
WRITE_RIGHTS = frozenset({Right.EDIT_ROSTER, Right.MANAGE_SERVICES, Right.MANAGE_ADMINS})
WHOLE_ORGANIZATION = None  # the scope of a grant on the organization itself


def minimal_paths(paths: Iterable[str]) -> tuple[str, ...]:
    """Drop every path that lies inside another one: a grant on Sales already covers
    Sales East, so the subtree filter needs only the outermost prefixes."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not kept or not path.startswith(kept[-1]):
            kept.append(path)
    return tuple(kept)


def path_filter(lookup: str, paths: Iterable[str]) -> Q:
    return reduce(or_, (Q(**{f"{lookup}__startswith": path}) for path in paths), Q(pk__in=[]))


def members_placed_in(paths: Iterable[str]) -> QuerySet:
    """The ids of the entries placed in any of the subtrees ``paths`` (a subquery)."""
    return MemberDepartment.objects.filter(path_filter("department__path", paths)).values("member_id")


@dataclass(frozen=True)
class OrgAccess:
    user: object
    organization: Organization
    administrator: Administrator
    org_rights: frozenset[str] = frozenset()
    subtree_rights: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # SEC-3: the designated children's data officer holds ``view_children`` everywhere.
    children_officer: bool = False

    # ------------------------------------------------------------------ decisions

    @property
    def is_owner(self) -> bool:
        return self.administrator.role == AdministratorRole.OWNER

    @property
    def is_frozen(self) -> bool:
        return self.organization.status != OrganizationStatus.ACTIVE

    def _blocked(self, right: str) -> bool:
        return right in WRITE_RIGHTS and self.is_frozen

    def has(self, right: str) -> bool:
        """Holds ``right`` somewhere in the organization."""
        return self.has_whole(right) or (not self._blocked(right) and bool(self.subtree_rights.get(right)))

    def has_whole(self, right: str) -> bool:
        """Holds ``right`` on the whole organization."""
        if self._blocked(right):
            return False
        if right == Right.VIEW_CHILDREN:
            return self.children_officer or right in self.org_rights
        return self.is_owner or right in self.org_rights

    def require(self, right: str) -> None:
        if not self.has(right):
            raise PermissionDenied

    def require_owner(self, *, writing: bool = True) -> None:
        """Owner-only actions; those that change the organization also need it active
        (the disband pages themselves pass ``writing=False``)."""
        if not self.is_owner or (writing and self.is_frozen):
            raise PermissionDenied

    def paths(self, right: str) -> tuple[str, ...] | None:
        """The subtree prefixes where ``right`` holds; ``None`` means everywhere."""
        if self.has_whole(right):
            return WHOLE_ORGANIZATION
        if self._blocked(right):
            return ()
        return self.subtree_rights.get(right, ())

    def covers(self, right: str, department: Department | None) -> bool:
        """Holds ``right`` on ``department``'s subtree (``None``: on the organization)."""
        if self.has_whole(right):
            return True
        if department is None or self._blocked(right):
            return False
        return any(department.path.startswith(prefix) for prefix in self.subtree_rights.get(right, ()))

    def covers_member(self, right: str, member_paths: Iterable[str]) -> bool:
        paths = self.paths(right)
        if paths is WHOLE_ORGANIZATION:
            return True
        return any(path.startswith(prefix) for path in member_paths for prefix in paths)

    def can_grant(self, right: str, department: Department | None) -> bool:
        """ORG-9: an administrator grants only what it holds, where it holds it, and only
        if it may manage administrators there."""
        if right == Right.VIEW_CHILDREN and self.is_owner and not self.is_frozen:
            return True  # SEC-3: the owner grants it without holding it (see the module docstring)
        return self.covers(Right.MANAGE_ADMINS, department) and self.covers(right, department)

    @property
    def rights(self) -> frozenset[str]:
        """Every right held somewhere (for menus and buttons, never for row filtering)."""
        subtree = {right for right, paths in self.subtree_rights.items() if paths}
        held = (ALL_RIGHTS - {Right.VIEW_CHILDREN}) if self.is_owner else self.org_rights | subtree
        if self.children_officer:
            held = held | {Right.VIEW_CHILDREN}
        return held - WRITE_RIGHTS if self.is_frozen else held

    # ------------------------------------------------------------------ children (SEC-3)

    @property
    def child_cutoff(self):
        """Roster entries born after this date are children (one constant per request)."""
        return child_cutoff(self.organization.children_jurisdiction, timezone.localdate())

    def _children_filter(self, queryset: QuerySet[Member]) -> QuerySet[Member]:
        """Leave out the children outside the subtrees where ``view_children`` holds: one
        more condition in the same query, never a check per row."""
        paths = self.paths(Right.VIEW_CHILDREN)
        if paths is WHOLE_ORGANIZATION:
            return queryset
        hidden = children_q(self.child_cutoff)
        if paths:
            hidden &= ~Q(pk__in=members_placed_in(paths))
        return queryset.exclude(hidden)

    def _in_scope(self, queryset: QuerySet[Member], right: str) -> QuerySet[Member]:
        """The entries placed where ``right`` holds: one subquery, whatever the page size."""
        self.require(right)
        paths = self.paths(right)
        if paths is WHOLE_ORGANIZATION:
            return queryset
        return queryset.filter(pk__in=members_placed_in(paths))

    # ------------------------------------------------------------------ querysets

    def members(self, right: str = Right.VIEW_ROSTER, *, children: bool = True) -> QuerySet[Member]:
        """Roster entries where ``right`` holds: one subquery, whatever the page size.
        ``children=False`` leaves out every child, whatever ``view_children`` says (SEC-3:
        no bulk access to children's data)."""
        queryset = Member.objects.filter(organization=self.organization)
        queryset = self._children_filter(queryset) if children else queryset.without_children(self.child_cutoff)
        return self._in_scope(queryset, right)

    def children_in_scope(self, right: str = Right.VIEW_ROSTER) -> QuerySet[Member]:
        """SEC-3: the children among the entries where ``right`` holds, whether or not
        the administrator may see them (for counts such as "left out of the export")."""
        return self._in_scope(Member.objects.filter(organization=self.organization).children(self.child_cutoff), right)

    def departments(self, right: str = Right.VIEW_ROSTER) -> QuerySet[Department]:
        self.require(right)
        queryset = Department.objects.filter(organization=self.organization)
        paths = self.paths(right)
        if paths is WHOLE_ORGANIZATION:
            return queryset
        return queryset.filter(path_filter("path", paths))

    def get_member(self, pk: int, right: str = Right.VIEW_ROSTER) -> Member:
        """A roster entry the administrator can see (else 404) and act on with ``right``
        (else 403). A child's entry is out of scope (404) without ``view_children`` on it
        (SEC-3); ``member.is_child`` says whether it is a child."""
        member = (
            Member.objects.filter(organization=self.organization, pk=pk)
            .with_child_flag(self.child_cutoff)
            .prefetch_related("departments")
            .first()
        )
        if member is None:
            raise Http404
        member_paths = [department.path for department in member.departments.all()]
        if not self.has(Right.VIEW_ROSTER) or not self.covers_member(Right.VIEW_ROSTER, member_paths):
            raise Http404
        if member.is_child and not self.covers_member(Right.VIEW_CHILDREN, member_paths):
            raise Http404
        if not self.covers_member(right, member_paths):
            raise PermissionDenied
        return member

    def get_department(self, pk: int, right: str = Right.VIEW_ROSTER) -> Department:
        department = Department.objects.filter(organization=self.organization, pk=pk).first()
        if department is None or not self.covers(Right.VIEW_ROSTER, department):
            raise Http404
        if not self.covers(right, department):
            raise PermissionDenied
        return department


def org_access(user, organization_id: int) -> OrgAccess:
    """The gate. 404 unless ``user`` administers the organization."""
    if not getattr(user, "is_authenticated", False):
        raise Http404
    administrator = (
        Administrator.objects.select_related("organization").filter(user=user, organization_id=organization_id).first()
    )
    if administrator is None:
        raise Http404
    require_second_factor(  # SEC-1: no query, the caller's assurance says it
        user,
        required=administrator.role == AdministratorRole.OWNER or administrator.organization.require_admin_two_factor,
    )
    organization = administrator.organization
    children_officer = organization.children_data_officer_id == administrator.pk
    if administrator.role == AdministratorRole.OWNER:
        return OrgAccess(
            user=user, organization=organization, administrator=administrator, children_officer=children_officer
        )
    whole = OrganizationUserObjectPermission.objects.filter(user=user, content_object_id=organization_id).values_list(
        "permission__codename", Value("")
    )
    subtree = DepartmentUserObjectPermission.objects.filter(
        user=user, content_object__organization_id=organization_id
    ).values_list("permission__codename", "content_object__path")
    org_rights: set[str] = set()
    subtree_paths: dict[str, list[str]] = {}
    for codename, path in whole.union(subtree, all=True):
        if path:
            subtree_paths.setdefault(codename, []).append(path)
        else:
            org_rights.add(codename)
    return OrgAccess(
        user=user,
        organization=organization,
        administrator=administrator,
        org_rights=frozenset(org_rights),
        subtree_rights={right: minimal_paths(paths) for right, paths in subtree_paths.items()},
        children_officer=children_officer,
    )


def administered_organizations(user) -> QuerySet[Organization]:
    """Organizations the user administers, for the "my organizations" page."""
    return Organization.objects.filter(administrators__user=user).order_by("name")
