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
from django.db.models import F
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dataprotection.audit import record_event
from dataprotection.masking import mask_bank_card, mask_id_number, mask_middle, mask_phone
from organizations.models import (
    AttestationKind,
    BiometricKind,
    BiometricTemplate,
    GuardianConsent,
    Member,
    Organization,
    Right,
    UploadAttestation,
)
from organizations.models.children import AGE_FIELD, CHILD_BASIC_FIELDS, is_child
from organizations.permissions import OrgAccess
from organizations.services import collection
from organizations.services.lookups import id_number_digest, mobile_digest

# The roster entry's lifecycle, not data about the person: always editable.
LIFECYCLE_FIELDS = ("status",)
# SEC-3: the birthday is always collected (a child must be recognized before anything
# more is held about them) and counts as a basic field.
AGE_FIELDS = (AGE_FIELD,)
# Every ORG-4 field an administrator with ``edit_roster`` may correct, when collected (ORG-5).
EDITABLE_FIELDS = (
    *collection.ALWAYS_COLLECTED,
    *AGE_FIELDS,
    *(f.name for f in collection.CATALOG),
    *LIFECYCLE_FIELDS,
)


# ORG-7: the audit events of the services that change entries, placements or departments
# with queryset writes (no model signal): each one moves the roster's generation on.
ROSTER_CHANGES = frozenset(
    {
        "roster.imported",
        "roster.upserted",
        "roster.members_moved",
        "roster.members_removed",
        "department.created",
        "department.updated",
        "department.deleted",
        "invitation.accepted",
    }
)


def renew_roster_totals(organization_ids) -> None:
    """ORG-7: the roster of these organizations (ids, or a subquery of them) changed:
    their cached totals (``organizations.selectors.roster_total``) are counted again at
    the next view. One UPDATE, in the transaction of the change; no audit event of its
    own (the change it follows has one)."""
    Organization.objects.filter(pk__in=organization_ids).update(roster_generation=F("roster_generation") + 1)


def mask_address(value: str) -> str:
    """浙江省杭州市西湖区文三路 90 号 -> 浙江省杭州市**************: the beginning (province and
    city) is kept, the street and number never shown."""
    return mask_middle(value, 6, 0)


def mask_reference(value: str) -> str:
    return mask_middle(value, 0, 4)


# ORG-10 fields that also need ``view_sensitive`` on the member, with their maskers: every
# sensitive field of the catalog, and the mobile number.
SENSITIVE_FIELDS = {
    "mobile": mask_phone,
    "id_number": mask_id_number,
    "bank_card": mask_bank_card,
    "home_address": mask_address,
    "emergency_contact_phone": mask_phone,
    "student_photo_ref": mask_reference,
}
REVEALABLE_FIELDS = frozenset(SENSITIVE_FIELDS)
assert REVEALABLE_FIELDS == collection.SENSITIVE_FIELDS, "every sensitive catalog field needs a masker"

# ORG-6: what the administrator confirms before filling more than the basic fields of a
# member who has not accepted an invitation; stored verbatim in the attestation record.
ATTESTATION_TEXT = gettext_lazy("I confirm this member gave explicit consent for the organization to hold this data.")


def mask_value(field: str, value: Any) -> str:
    return SENSITIVE_FIELDS[field](value or "")


def group_of(field: str) -> str:
    """The ORG-4 group of a field (``basic``: the name and the entry's status)."""
    if field in collection.BY_NAME:
        return collection.BY_NAME[field].group
    return "contact" if field == "mobile" else "basic"


def label(field: str) -> str:
    return str(capfirst(Member._meta.get_field(field).verbose_name))


def _member_paths(member: Member) -> list[str]:
    return [department.path for department in member.departments.all()]


def _require_on_member(access: OrgAccess, right: str, member: Member) -> None:
    if member.organization_id != access.organization.pk or not access.covers_member(right, _member_paths(member)):
        raise PermissionDenied


def _audit_value(field: str, value: Any) -> Any:
    """The value as the audit trail may hold it: sensitive ones masked, dates as text."""
    if field in SENSITIVE_FIELDS:
        return mask_value(field, value)
    if isinstance(value, date):
        return value.isoformat()
    return value


@transaction.atomic
def update_member(
    access: OrgAccess,
    member: Member,
    changes: dict[str, Any],
    ip: str | None = None,
    *,
    attested: bool = False,
    attestation_text: str = "",
) -> list[str]:
    """ORG-7: correct or supplement a roster entry; returns the names of changed fields.

    ``changes`` maps field names to cleaned values (mobile in E.164, ID number
    normalized). Only fields whose value differs are written; the keyed-hash lookup
    columns follow the mobile and ID number (ORG-10). One ``member.updated`` event lists
    the changed fields with before/after values, sensitive ones masked, never in clear.

    Nothing is written, and ``ValidationError`` is raised, for a field the organization
    does not collect (code ``not_collected``, ORG-5), for a change beyond the basic
    fields of a member who has not consented when the administrator did not attest the
    member's explicit consent (code ``consent_required``, ORG-6), and for a duplicate
    employee number. With ``attested`` such a change records an ``UploadAttestation``
    (manual entry, one row) in the same transaction. ``PermissionDenied`` without
    ``edit_roster`` -- or, for sensitive fields, without ``view_sensitive`` -- on the
    member.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    _require_on_member(access, Right.EDIT_ROSTER, member)
    if set(changes) & set(SENSITIVE_FIELDS):
        _require_on_member(access, Right.VIEW_SENSITIVE, member)
    collected = collection.collected_fields(access.organization)
    not_collected = sorted(set(changes) - collected - set(LIFECYCLE_FIELDS) - set(AGE_FIELDS))
    if not_collected:
        raise ValidationError(
            _("The organization does not collect %(fields)s; turn it on in the data collection settings first."),
            code="not_collected",
            params={"fields": ", ".join(f"“{label(field)}”" for field in not_collected)},
        )

    current = Member.objects.select_for_update().get(pk=member.pk, organization=access.organization)
    changed = [field for field, value in changes.items() if getattr(current, field) != value]
    if not changed:
        return []
    needs_consent = not collection.has_consented(current)
    basic = collection.fillable_fields(collected, current, attested=False) | set(LIFECYCLE_FIELDS) | set(AGE_FIELDS)
    extended = sorted(set(changed) - basic)
    child = _check_child(access, current, changes, changed)
    if extended and not attested:
        raise ValidationError(
            _(
                "%(name)s has not joined and accepted the organization's terms yet: confirm that they gave explicit "
                "consent before you fill in %(fields)s."
            ),
            code="consent_required",
            params={"name": current.name, "fields": ", ".join(f"“{label(field)}”" for field in extended)},
        )
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
    metadata: dict[str, Any] = {
        "before": before,
        "after": {field: _audit_value(field, changes[field]) for field in changed},
    }
    if child:
        metadata["child"] = True
    data_fields = sorted(set(changed) - set(LIFECYCLE_FIELDS))
    if attested and needs_consent and data_fields:
        attestation = UploadAttestation.objects.create(
            organization=access.organization,
            attested_by=access.user,
            kind=AttestationKind.MANUAL,
            text=attestation_text or str(ATTESTATION_TEXT),
            fields=data_fields,
            rows=1,
        )
        metadata["attestation"] = attestation.pk
    record_event(
        "member.updated",
        actor=access.user,
        subject=member.user,
        target=member,
        organization=access.organization,
        ip=ip,
        changes=changed,
        metadata=metadata,
    )
    return sorted(changed)


def _check_child(access: OrgAccess, current: Member, changes: dict[str, Any], changed: list[str]) -> bool:
    """SEC-3: whether the entry is a child's (by the new birthday when it changes), and,
    for a child, ``ValidationError`` for any change beyond the basic fields while the
    organization has no designated children's data officer (code
    ``children_officer_required``) or no guardian's consent is in force (code
    ``guardian_consent_required``)."""
    birthday = changes.get(AGE_FIELD, current.birthday)
    if birthday is None and current.user_id is not None:
        birthday = current.user.birthday
    if not is_child(birthday, access.organization.children_jurisdiction, timezone.localdate()):
        return False
    extended = sorted(set(changed) - CHILD_BASIC_FIELDS)
    if not extended:
        return True
    fields = ", ".join(f"“{label(field)}”" for field in extended)
    if access.organization.children_data_officer_id is None:
        raise ValidationError(
            _(
                "%(name)s is a child: the organization needs a designated person responsible for children's data "
                "before it can hold %(fields)s."
            ),
            code="children_officer_required",
            params={"name": current.name, "fields": fields},
        )
    if not GuardianConsent.objects.filter(member=current, withdrawn_at__isnull=True).exists():
        raise ValidationError(
            _("%(name)s is a child: record a guardian's consent before you fill in %(fields)s."),
            code="guardian_consent_required",
            params={"name": current.name, "fields": fields},
        )
    return True


@transaction.atomic
def reveal_member_field(access: OrgAccess, member: Member, field: str, ip: str | None = None) -> str:
    """ORG-10: show one sensitive value in clear to an administrator holding
    ``view_sensitive`` on the member; every reveal is audited (the field name only,
    never the value)."""
    if field not in REVEALABLE_FIELDS:
        raise ValueError(f"not a sensitive field: {field!r}")
    if field not in collection.collected_fields(access.organization):
        raise ValueError(f"not collected: {field!r}")
    _require_on_member(access, Right.VIEW_SENSITIVE, member)
    record_event(
        "member.revealed",
        actor=access.user,
        subject=member.user,
        target=member,
        organization=access.organization,
        ip=ip,
        metadata={"field": field, "child": True} if getattr(member, "is_child", False) else {"field": field},
    )
    return getattr(member, field) or ""


@transaction.atomic
def erase_face_templates_of_person(user, *, ip: str | None = None) -> int:
    """CON-5: the person withdrew their consent to face recognition, so the face
    templates enrolled for them in any organization are deleted (fingerprints are not
    face recognition and stay). One audit event per organization concerned."""
    templates = BiometricTemplate.objects.filter(member__user=user, kind=BiometricKind.FACE)
    per_organization: dict[int, int] = {}
    for organization_id in templates.values_list("organization_id", flat=True):
        per_organization[organization_id] = per_organization.get(organization_id, 0) + 1
    deleted, _details = templates.delete()
    for organization_id, count in sorted(per_organization.items()):
        record_event(
            "member.face_templates_erased",
            actor=user,
            subject=user,
            organization=organization_id,
            ip=ip,
            metadata={"templates": count, "reason": "face recognition consent withdrawn"},
        )
    return deleted
