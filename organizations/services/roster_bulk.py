"""Bulk actions on a selection of roster entries (ORG-7, ORG-9, SEC-3): move them to a
department, remove them from the roster, export them.

Each action is all or nothing. The selection is resolved through the permission gate
(``OrgAccess.members``) in one query: when any selected entry is not one the
administrator may act on -- outside its scope, in another organization, a child it may
not see, or simply unknown -- the whole action is refused with ``BulkActionRefused`` and
nothing is written (the error does not say which ids failed, so an id outside the scope
is indistinguishable from one that does not exist). Rights missing altogether, or an
organization frozen for a disband (ORG-11: ``edit_roster`` holds nowhere then), raise
``PermissionDenied`` from the gate.

Writes run in one transaction with ONE audit event per action carrying the count and
the ids (``roster.members_moved``, ``roster.members_removed``,
``roster.selection_exported``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dataprotection.audit import record_event
from organizations.models import Department, Member, MemberDepartment, MemberStatus, Right
from organizations.permissions import OrgAccess
from organizations.services.collection import collected_fields
from organizations.services.roster_export import export_columns, roster_csv
from organizations.services.roster_import.columns import DEPARTMENT

# One form posts at most one roster page of ids; a larger selection is not a click.
MAX_SELECTION = 500


class BulkActionRefused(ValidationError):
    """The whole action was refused; nothing was written."""


def _ids(member_ids: Iterable[int]) -> list[int]:
    ids = sorted({int(pk) for pk in member_ids})
    if not ids:
        raise BulkActionRefused(_("Select at least one member."), code="empty")
    if len(ids) > MAX_SELECTION:
        raise BulkActionRefused(
            _("Select at most %(limit)s members at a time.") % {"limit": MAX_SELECTION}, code="too_many"
        )
    return ids


def resolve_selection(access: OrgAccess, member_ids: Iterable[int], right: str, *, children: bool = True) -> list[int]:
    """The selected ids, once every one is an entry on which ``right`` holds (one query);
    otherwise ``BulkActionRefused``. ``children=False`` refuses any child's entry, even
    one the administrator may see (SEC-3: no bulk export of children's data)."""
    ids = _ids(member_ids)
    found = set(access.members(right).filter(pk__in=ids).values_list("pk", flat=True))
    missing = len(ids) - len(found)
    if missing:
        raise BulkActionRefused(
            ngettext(
                "%(count)s of the selected members is outside your rights for this action; nothing was changed.",
                "%(count)s of the selected members are outside your rights for this action; nothing was changed.",
                missing,
            )
            % {"count": missing},
            code="out_of_scope",
        )
    if not children:
        children_selected = access.children_in_scope(right).filter(pk__in=ids).count()
        if children_selected:
            raise BulkActionRefused(
                ngettext(
                    "%(count)s of the selected members is a child: children's records are never exported in bulk. "
                    "Deselect it and export again.",
                    "%(count)s of the selected members are children: children's records are never exported in "
                    "bulk. Deselect them and export again.",
                    children_selected,
                )
                % {"count": children_selected},
                code="children",
            )
    return ids


@transaction.atomic
def move_members(access: OrgAccess, member_ids: Iterable[int], department: Department, ip: str | None = None) -> int:
    """Make ``department`` the primary department of every selected entry (their other
    placements stay). Needs ``edit_roster`` on each entry and on the target department.
    Returns how many entries changed department."""
    access.require(Right.EDIT_ROSTER)
    if department.organization_id != access.organization.pk or not access.covers(Right.EDIT_ROSTER, department):
        raise BulkActionRefused(
            _("You cannot move members into %(department)s.") % {"department": department.name},
            code="department_out_of_scope",
        )
    ids = resolve_selection(access, member_ids, Right.EDIT_ROSTER)
    already = set(
        MemberDepartment.objects.filter(member_id__in=ids, department=department, is_primary=True).values_list(
            "member_id", flat=True
        )
    )
    moving = [pk for pk in ids if pk not in already]
    if moving:
        MemberDepartment.objects.filter(member_id__in=moving, is_primary=True).delete()
        # A secondary placement in the target becomes the primary one (one row per pair).
        promoted = set(
            MemberDepartment.objects.filter(member_id__in=moving, department=department).values_list(
                "member_id", flat=True
            )
        )
        MemberDepartment.objects.filter(member_id__in=promoted, department=department).update(is_primary=True)
        MemberDepartment.objects.bulk_create(
            [
                MemberDepartment(member_id=pk, department=department, is_primary=True)
                for pk in moving
                if pk not in promoted
            ]
        )
    record_event(
        "roster.members_moved",
        actor=access.user,
        target=department,
        organization=access.organization,
        ip=ip,
        metadata={"count": len(ids), "moved": len(moving), "member_ids": ids, "department": department.pk},
    )
    return len(moving)


@transaction.atomic
def remove_members(access: OrgAccess, member_ids: Iterable[int], ip: str | None = None) -> int:
    """Take the selected entries off the current roster: their status becomes "left".
    Their records stay under the organization's retention settings (ANON-5), and the
    people keep their rights over what is held (a deletion request erases it). Needs
    ``edit_roster`` on each entry. Returns how many entries changed status."""
    access.require(Right.EDIT_ROSTER)
    ids = resolve_selection(access, member_ids, Right.EDIT_ROSTER)
    removed = list(
        Member.objects.select_for_update()
        .filter(organization=access.organization, pk__in=ids)
        .exclude(status=MemberStatus.LEFT)
        .values_list("pk", flat=True)
    )
    if removed:
        Member.objects.filter(pk__in=removed).update(status=MemberStatus.LEFT)
    record_event(
        "roster.members_removed",
        actor=access.user,
        organization=access.organization,
        ip=ip,
        changes=["status"],
        metadata={"count": len(ids), "removed": len(removed), "member_ids": ids},
    )
    return len(removed)


def export_selected(access: OrgAccess, member_ids: Iterable[int], ip: str | None = None) -> tuple[int, Iterator[str]]:
    """The selected entries as CSV text chunks, like the whole-roster export (collected
    fields only, sensitive values in clear only with ``view_sensitive`` on the whole
    organization). A selection holding a child's entry is refused (SEC-3). Audited
    before the first byte."""
    access.require(Right.VIEW_ROSTER)
    ids = resolve_selection(access, member_ids, Right.VIEW_ROSTER, children=False)
    columns = export_columns(collected_fields(access.organization))
    clear = access.has_whole(Right.VIEW_SENSITIVE)
    record_event(
        "roster.selection_exported",
        actor=access.user,
        organization=access.organization,
        ip=ip,
        changes=[name for name in columns if name != DEPARTMENT],
        metadata={"count": len(ids), "member_ids": ids, "fields": columns, "sensitive_in_clear": clear},
    )
    members = access.members(Right.VIEW_ROSTER, children=False).filter(pk__in=ids)
    return len(ids), roster_csv(access, members, columns, clear=clear)
