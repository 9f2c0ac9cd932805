"""Appointing, editing and removing sub-administrators (ORG-9).

The rule of ORG-9, "no admin can grant a right it does not hold", is enforced here, in
the same transaction as the writes: every (right, scope) pair that an action adds or
removes must pass ``OrgAccess.can_grant(right, department_or_None)`` -- the grantor holds
``manage_admins`` and that right on the department's subtree (or on the whole
organization). One refused pair refuses the whole action and nothing is written.

Which administrators a grantor sees (decision, ORG-9): the owner and anyone holding
``manage_admins`` on the whole organization see every administrator. A grantor holding
``manage_admins`` on department subtrees only sees the sub-administrators with at least
one scope department inside those subtrees; administrators scoped entirely elsewhere,
whole-organization sub-administrators and the owner are out of scope for them (404).

The owner's row is never edited or removed here (ownership moves by transfer, ORG-12),
and a sub-administrator cannot edit or remove their own row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from dataprotection.audit import record_event
from organizations.models import (
    Administrator,
    AdministratorRole,
    Department,
    DepartmentUserObjectPermission,
    OrganizationUserObjectPermission,
    Right,
)
from organizations.permissions import OrgAccess, path_filter
from organizations.services.grants import grant_rights, revoke_all_rights

Scope = Department | None  # None: the whole organization
Pair = tuple[str, int | None]  # (right, department id or None)


# --------------------------------------------------------------------------- reads


def visible_administrators(access: OrgAccess) -> QuerySet[Administrator]:
    """The administrators ``access`` may manage (403 without ``manage_admins``
    anywhere); see the module docstring for the scope rule. One subquery, no per-row
    checks."""
    access.require(Right.MANAGE_ADMINS)
    queryset = Administrator.objects.filter(organization=access.organization)
    paths = access.paths(Right.MANAGE_ADMINS)
    if paths is None:
        return queryset
    in_scope = Administrator.scope.through.objects.filter(path_filter("department__path", paths)).values(
        "administrator_id"
    )
    return queryset.filter(role=AdministratorRole.SUB_ADMIN, pk__in=in_scope)


def get_administrator(access: OrgAccess, pk: int) -> Administrator:
    """An administrator in the grantor's scope, else 404."""
    administrator = visible_administrators(access).select_related("user").filter(pk=pk).first()
    if administrator is None:
        raise Http404
    return administrator


def require_editable(access: OrgAccess, administrator: Administrator) -> None:
    """403 for the owner's row (transfer ownership instead) and for one's own row."""
    if administrator.role == AdministratorRole.OWNER:
        raise PermissionDenied
    if administrator.user_id == access.user.pk:
        raise PermissionDenied


@dataclass(frozen=True)
class Grants:
    """The grants one administrator holds in the organization."""

    pairs: frozenset[Pair]
    departments: dict[int, Department]

    @property
    def rights(self) -> set[str]:
        return {right for right, _scope in self.pairs}

    @property
    def whole_organization(self) -> bool:
        return any(scope is None for _right, scope in self.pairs)


def administrator_grants(administrator: Administrator) -> Grants:
    """Every grant of ``administrator`` in its organization (two queries)."""
    whole = OrganizationUserObjectPermission.objects.filter(
        user_id=administrator.user_id, content_object_id=administrator.organization_id
    ).values_list("permission__codename", flat=True)
    subtree = DepartmentUserObjectPermission.objects.filter(
        user_id=administrator.user_id, content_object__organization_id=administrator.organization_id
    ).select_related("permission", "content_object")
    pairs: set[Pair] = {(codename, None) for codename in whole}
    departments: dict[int, Department] = {}
    for grant in subtree:
        pairs.add((grant.permission.codename, grant.content_object_id))
        departments[grant.content_object_id] = grant.content_object
    return Grants(frozenset(pairs), departments)


# --------------------------------------------------------------------------- checks


def scope_label(scope: Scope) -> str:
    if scope is None:
        return _("the whole organization")
    return _("“%(department)s”") % {"department": scope.name}


def _clean_rights(rights: Iterable[str]) -> list[str]:
    rights = sorted(set(rights))
    unknown = set(rights) - set(Right.values)
    if unknown:
        raise ValidationError(_("Unknown right: %(rights)s.") % {"rights": ", ".join(sorted(unknown))}, code="unknown")
    if not rights:
        raise ValidationError(_("Choose at least one right."), code="no_rights")
    return rights


def _fresh_departments(access: OrgAccess, departments: Iterable[Department]) -> list[Department]:
    """Re-read the chosen departments in this transaction (their current paths decide)."""
    wanted = {department.pk for department in departments}
    found = list(Department.objects.filter(organization=access.organization, pk__in=wanted).order_by("path"))
    if len(found) != len(wanted):
        raise ValidationError(_("A chosen department does not exist in this organization."), code="department")
    return found


def _check_pairs(access: OrgAccess, pairs: Iterable[tuple[str, Scope]], *, removing: bool = False) -> None:
    """ORG-9: refuse the first pair the grantor could not grant, naming right and scope."""
    for right, scope in sorted(pairs, key=lambda pair: (pair[0], pair[1].path if pair[1] else "")):
        if not access.can_grant(right, scope):
            message = (
                _(
                    "You cannot remove “%(right)s” on %(scope)s: you may only remove rights that you hold "
                    "there yourself, where you may manage administrators."
                )
                if removing
                else _(
                    "You cannot grant “%(right)s” on %(scope)s: you may only grant rights that you hold "
                    "there yourself, where you may manage administrators."
                )
            )
            raise ValidationError(
                message % {"right": Right(right).label, "scope": scope_label(scope)}, code="cannot_grant"
            )


def _scope_metadata(departments: list[Department]) -> dict:
    return {"whole_organization": not departments, "scope": [department.pk for department in departments]}


def _grant(user, rights: list[str], access: OrgAccess, departments: list[Department]) -> None:
    for scope in departments or [access.organization]:
        grant_rights(user, rights, scope)


# --------------------------------------------------------------------------- writes


@transaction.atomic
def appoint_administrator(
    access: OrgAccess, user, rights: Iterable[str], departments: Iterable[Department], ip: str | None = None
) -> Administrator:
    """Appoint ``user`` (a personal account) as a sub-administrator holding ``rights`` on
    the whole organization (no departments) or on each of ``departments`` (ORG-9)."""
    access.require(Right.MANAGE_ADMINS)
    rights = _clean_rights(rights)
    departments = _fresh_departments(access, departments)
    _check_pairs(access, [(right, scope) for right in rights for scope in departments or [None]])
    existing = Administrator.objects.filter(organization=access.organization, user=user).first()
    if existing is not None:
        if existing.role == AdministratorRole.OWNER:
            raise ValidationError(_("This person owns the organization and already holds every right."), code="owner")
        raise ValidationError(
            _("This person is already an administrator of the organization; edit their rights instead."),
            code="already_admin",
        )
    try:
        with transaction.atomic():
            administrator = Administrator.objects.create(
                organization=access.organization, user=user, role=AdministratorRole.SUB_ADMIN, appointed_by=access.user
            )
    except IntegrityError:  # appointed concurrently by someone else
        raise ValidationError(
            _("This person is already an administrator of the organization; edit their rights instead."),
            code="already_admin",
        ) from None
    administrator.scope.set(departments)
    _grant(user, rights, access, departments)
    record_event(
        "administrator.appointed",
        actor=access.user,
        subject=user,
        target=administrator,
        organization=access.organization,
        ip=ip,
        metadata={"rights": rights, **_scope_metadata(departments)},
    )
    return administrator


@transaction.atomic
def update_administrator_rights(
    access: OrgAccess,
    administrator: Administrator,
    rights: Iterable[str],
    departments: Iterable[Department],
    ip: str | None = None,
) -> bool:
    """Replace a sub-administrator's rights and scope (ORG-9). Every grant added or
    removed must be one the grantor could grant; grants left as they are need not be.
    Returns whether anything changed."""
    access.require(Right.MANAGE_ADMINS)
    administrator = (
        Administrator.objects.select_for_update()
        .select_related("user")
        .get(pk=administrator.pk, organization=access.organization)
    )
    require_editable(access, administrator)
    rights = _clean_rights(rights)
    departments = _fresh_departments(access, departments)
    current = administrator_grants(administrator)
    wanted = {(right, department.pk): department for right in rights for department in departments}
    if not departments:
        wanted = {(right, None): None for right in rights}
    added = set(wanted) - current.pairs
    removed = current.pairs - set(wanted)
    _check_pairs(access, [(right, wanted[(right, scope)]) for right, scope in added])
    _check_pairs(
        access,
        [(right, current.departments[scope] if scope else None) for right, scope in removed],
        removing=True,
    )
    scope_changed = set(administrator.scope.values_list("pk", flat=True)) != {d.pk for d in departments}
    if not added and not removed and not scope_changed:
        return False
    administrator.scope.set(departments)
    revoke_all_rights(administrator.user, access.organization)
    _grant(administrator.user, rights, access, departments)
    record_event(
        "administrator.rights_changed",
        actor=access.user,
        subject=administrator.user,
        target=administrator,
        organization=access.organization,
        ip=ip,
        metadata={
            "rights": rights,
            **_scope_metadata(departments),
            "added": sorted([right, scope] for right, scope in added),
            "removed": sorted([right, scope] for right, scope in removed),
        },
    )
    return True


@transaction.atomic
def remove_administrator(access: OrgAccess, administrator: Administrator, ip: str | None = None) -> int:
    """Remove a sub-administrator (ORG-9): the Administrator row, its scope and every
    grant the person holds in this organization go in one transaction; their grants in
    other organizations stay. Returns the number of grants revoked."""
    access.require(Right.MANAGE_ADMINS)
    administrator = (
        Administrator.objects.select_for_update()
        .select_related("user")
        .get(pk=administrator.pk, organization=access.organization)
    )
    require_editable(access, administrator)
    current = administrator_grants(administrator)
    _check_pairs(
        access,
        [(right, current.departments[scope] if scope else None) for right, scope in current.pairs],
        removing=True,
    )
    revoked = revoke_all_rights(administrator.user, access.organization)
    target_pk = administrator.pk
    administrator.delete()
    administrator.pk = target_pk  # for the audit event's target id
    record_event(
        "administrator.removed",
        actor=access.user,
        subject=administrator.user,
        target=administrator,
        organization=access.organization,
        ip=ip,
        metadata={"rights": sorted(current.rights), "grants_revoked": revoked},
    )
    return revoked
