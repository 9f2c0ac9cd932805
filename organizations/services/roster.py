"""Roster writes (ORG-7, ORG-10): correcting a member's data and revealing a sensitive
value. Both are audited in the organization's trail (SEC-2).

Callers pass the ``OrgAccess`` from ``organizations.permissions.org_access`` and a member
obtained through it (``access.get_member``); these services re-check the rights they need
on that member, so an API or task calling them cannot skip the gate.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from dataprotection.audit import record_event
from dataprotection.masking import mask_bank_card, mask_id_number, mask_phone
from organizations.lookups import id_number_digest, mobile_digest
from organizations.models import Member, Right
from organizations.permissions import OrgAccess

# ORG-4 fields an administrator with ``edit_roster`` may correct.
BASIC_FIELDS = (
    "name",
    "employee_number",
    "position",
    "grade",
    "labor_contract_status",
    "office_email",
    "office_phone",
    "hired_on",
    "status",
)
# ORG-10 fields that also need ``view_sensitive`` on the member, with their maskers.
SENSITIVE_FIELDS = {"mobile": mask_phone, "id_number": mask_id_number, "bank_card": mask_bank_card}
REVEALABLE_FIELDS = frozenset(SENSITIVE_FIELDS)


def _member_paths(member: Member) -> list[str]:
    return [department.path for department in member.departments.all()]


def _require_on_member(access: OrgAccess, right: str, member: Member) -> None:
    if member.organization_id != access.organization.pk or not access.covers_member(right, _member_paths(member)):
        raise PermissionDenied


def _audit_value(field: str, value: Any) -> Any:
    """The value as the audit trail may hold it: sensitive ones masked, dates as text."""
    if field in SENSITIVE_FIELDS:
        return SENSITIVE_FIELDS[field](value or "")
    if isinstance(value, date):
        return value.isoformat()
    return value


@transaction.atomic
def update_member(access: OrgAccess, member: Member, changes: dict[str, Any], ip: str | None = None) -> list[str]:
    """ORG-7: correct or supplement a roster entry; returns the names of changed fields.

    ``changes`` maps field names to cleaned values (mobile in E.164, ID number
    normalized). Only fields whose value differs are written; the keyed-hash lookup
    columns follow the mobile and ID number (ORG-10). One ``member.updated`` event lists
    the changed fields with before/after values, sensitive ones masked, never in clear.
    Raises ``ValidationError`` (nothing written) for a duplicate employee number and
    ``PermissionDenied`` without ``edit_roster`` -- or, for sensitive fields, without
    ``view_sensitive`` -- on the member.
    """
    unknown = set(changes) - set(BASIC_FIELDS) - set(SENSITIVE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    _require_on_member(access, Right.EDIT_ROSTER, member)
    if set(changes) & set(SENSITIVE_FIELDS):
        _require_on_member(access, Right.VIEW_SENSITIVE, member)

    current = Member.objects.select_for_update().get(pk=member.pk, organization=access.organization)
    changed = [field for field, value in changes.items() if getattr(current, field) != value]
    if not changed:
        return []
    employee_number = changes.get("employee_number")
    if "employee_number" in changed and employee_number:
        taken = (
            Member.objects.filter(organization=access.organization, employee_number=employee_number)
            .exclude(pk=member.pk)
            .exists()
        )
        if taken:
            raise ValidationError(
                _("Another member of this organization already has employee number %(number)s."),
                code="duplicate_employee_number",
                params={"number": employee_number},
            )

    before = {field: _audit_value(field, getattr(current, field)) for field in changed}
    update_fields = list(changed)
    for field in changed:
        setattr(member, field, changes[field])
    if "mobile" in changed:
        member.mobile_digest = mobile_digest(member.mobile)
        update_fields.append("mobile_digest")
    if "id_number" in changed:
        member.id_number_digest = id_number_digest(member.id_number)
        update_fields.append("id_number_digest")
    member.save(update_fields=update_fields)
    record_event(
        "member.updated",
        actor=access.user,
        subject=member.user,
        target=member,
        organization=access.organization,
        ip=ip,
        changes=changed,
        metadata={"before": before, "after": {field: _audit_value(field, changes[field]) for field in changed}},
    )
    return sorted(changed)


@transaction.atomic
def reveal_member_field(access: OrgAccess, member: Member, field: str, ip: str | None = None) -> str:
    """ORG-10: show one sensitive value in clear to an administrator holding
    ``view_sensitive`` on the member; every reveal is audited (the field name only,
    never the value)."""
    if field not in REVEALABLE_FIELDS:
        raise ValueError(f"not a sensitive field: {field!r}")
    _require_on_member(access, Right.VIEW_SENSITIVE, member)
    record_event(
        "member.revealed",
        actor=access.user,
        subject=member.user,
        target=member,
        organization=access.organization,
        ip=ip,
        metadata={"field": field},
    )
    return getattr(member, field) or ""
