"""Writes to an organization's department tree (ORG-3).

Every function takes the grantor's ``OrgAccess`` and re-checks the right it needs
(``edit_roster`` on the department, and on the new parent when moving), so a caller that
forgot the view-level check still cannot write outside the administrator's subtrees.
Each is atomic and records one audit event scoped to the organization.

Paths are materialized (``organizations.models.Department``): a move rewrites the path
prefix and depth of the whole subtree in ONE ``UPDATE`` built from ``Concat``/``Substr``
expressions, which SQLite and PostgreSQL both run as a single statement.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, CharField, F, IntegerField, Max, Value, When
from django.db.models.functions import Concat, Length, Substr
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dataprotection.audit import record_event
from organizations.models import Department, DepartmentUserObjectPermission, MemberDepartment, Right
from organizations.permissions import OrgAccess

PATH_MAX_LENGTH = Department._meta.get_field("path").max_length


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("Enter a name for the department."), code="required")
    return name


def _require_edit(access: OrgAccess, department: Department | None) -> None:
    if not access.covers(Right.EDIT_ROSTER, department):
        raise PermissionDenied


def _check_same_organization(access: OrgAccess, department: Department) -> None:
    if department.organization_id != access.organization.pk:
        raise ValidationError(_("That department belongs to another organization."), code="other_organization")


def subtree_member_count(department: Department) -> int:
    """Roster entries placed in the department or any of its descendants (one query)."""
    return (
        MemberDepartment.objects.filter(
            department__organization_id=department.organization_id, department__path__startswith=department.path
        )
        .values("member_id")
        .distinct()
        .count()
    )


@transaction.atomic
def create_department(access: OrgAccess, *, name: str, parent: Department | None, ip: str | None = None) -> Department:
    """Add a department under ``parent`` (ORG-3). ``parent=None`` creates the top-level
    department of an organization that has none yet (whole-organization edit right)."""
    name = _clean_name(name)
    organization = access.organization
    if parent is None:
        _require_edit(access, None)
        if Department.objects.filter(organization=organization, parent__isnull=True).exists():
            raise ValidationError(_("Choose the parent department."), code="parent_required")
        parent_path, depth = "", 0
    else:
        _check_same_organization(access, parent)
        parent = Department.objects.select_for_update().get(pk=parent.pk)  # the current path, not a stale copy
        _require_edit(access, parent)
        parent_path, depth = parent.path, parent.depth + 1
    if len(parent_path) + Department.SEGMENT > PATH_MAX_LENGTH:
        raise ValidationError(_("The department tree cannot be any deeper here."), code="too_deep")
    department = Department.objects.create(organization=organization, parent=parent, name=name, depth=depth)
    department.path = department.compute_path(parent_path)
    department.save(update_fields=["path"])
    record_event(
        "department.created",
        actor=access.user,
        target=department,
        organization=organization,
        ip=ip,
        changes=["name", "parent"],
        metadata={"name": name, "parent": parent.pk if parent else None},
    )
    return department


@transaction.atomic
def update_department(
    access: OrgAccess, department: Department, *, name: str, parent: Department | None, ip: str | None = None
) -> list[str]:
    """Rename and/or move a department (ORG-3). Moving re-parents the whole subtree:
    one ``UPDATE`` rewrites the path prefix and depth of every descendant. The top-level
    department cannot be moved; nothing moves under itself or its own descendants.
    Returns the names of the changed fields."""
    name = _clean_name(name)
    _check_same_organization(access, department)
    if parent is not None:
        _check_same_organization(access, parent)
    # Lock and re-read both rows: the paths decide everything below.
    locked = Department.objects.select_for_update().in_bulk([department.pk] + ([parent.pk] if parent else []))
    department = locked[department.pk]
    _require_edit(access, department)
    changed = []
    metadata: dict = {}

    moving = (parent.pk if parent else None) != department.parent_id
    if moving:
        if department.parent_id is None:
            raise ValidationError(_("The top-level department cannot be moved."), code="root_move")
        if parent is None:
            raise ValidationError(_("Choose the new parent department."), code="parent_required")
        parent = locked[parent.pk]
        if parent.path.startswith(department.path):
            raise ValidationError(
                _("A department cannot be moved under itself or one of its own sub-departments."), code="cycle"
            )
        _require_edit(access, parent)
        old_prefix = department.path
        new_prefix = department.compute_path(parent.path)
        subtree = Department.objects.subtree(department)
        deepest = subtree.aggregate(longest=Max(Length("path")))["longest"] or len(old_prefix)
        if deepest - len(old_prefix) + len(new_prefix) > PATH_MAX_LENGTH:
            raise ValidationError(_("The department tree cannot be any deeper here."), code="too_deep")
        depth_change = parent.depth + 1 - department.depth
        subtree.update(
            path=Concat(Value(new_prefix), Substr("path", len(old_prefix) + 1), output_field=CharField()),
            depth=F("depth") + depth_change,
            parent=Case(
                When(pk=department.pk, then=Value(parent.pk)), default=F("parent"), output_field=IntegerField()
            ),
        )
        changed.append("parent")
        metadata.update(from_parent=department.parent_id, to_parent=parent.pk)
    if name != department.name:
        Department.objects.filter(pk=department.pk).update(name=name)
        changed.append("name")
    if changed:
        record_event(
            "department.updated",
            actor=access.user,
            target=department,
            organization=access.organization,
            ip=ip,
            changes=changed,
            metadata=metadata,
        )
    return changed


@transaction.atomic
def delete_department(access: OrgAccess, department: Department, *, ip: str | None = None) -> int:
    """Delete a department and its sub-departments (ORG-3), refused while any roster
    entry is still placed in the subtree. Grants on the deleted departments and
    sub-administrator scopes pointing at them go with them (direct FK ``CASCADE``, in this
    transaction; style-anchors (d) 4). Returns the number of departments deleted."""
    _check_same_organization(access, department)
    department = Department.objects.select_for_update().get(pk=department.pk)
    _require_edit(access, department)
    if department.parent_id is None:
        raise ValidationError(_("The top-level department cannot be deleted."), code="root_delete")
    members = subtree_member_count(department)
    if members:
        raise ValidationError(
            ngettext(
                "“%(name)s” cannot be deleted: %(count)d member is still placed in it or its sub-departments. "
                "Move them to another department first.",
                "“%(name)s” cannot be deleted: %(count)d members are still placed in it or its sub-departments. "
                "Move them to another department first.",
                members,
            )
            % {"name": department.name, "count": members},
            code="has_members",
        )
    subtree = Department.objects.subtree(department)
    grants = DepartmentUserObjectPermission.objects.filter(content_object__in=subtree).count()
    _total, per_model = subtree.delete()
    removed = per_model.get(Department._meta.label, 0)
    record_event(
        "department.deleted",
        actor=access.user,
        target=department,
        organization=access.organization,
        ip=ip,
        metadata={"name": department.name, "departments_deleted": removed, "grants_deleted": grants},
    )
    return removed
