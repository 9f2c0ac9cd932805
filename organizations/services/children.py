"""Children's data (SEC-3): the designated person, guardian consents and the audit of
every access to a child's record.

Callers pass the ``OrgAccess`` from ``organizations.permissions.org_access`` and a
member obtained through it (``access.get_member``, which is already 404 for a child
outside the administrator's ``view_children`` scope); these services re-check the
rights they need, so an API or task calling them cannot skip the gate.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dataprotection.audit import record_event
from organizations.models import (
    Administrator,
    BiometricTemplate,
    FamilyContact,
    GuardianConsent,
    Member,
    Right,
)
from organizations.models.children import CHILD_BASIC_FIELDS
from organizations.permissions import OrgAccess
from organizations.services.roster import EDITABLE_FIELDS

# What the administrator confirms when recording a guardian's consent; stored verbatim.
GUARDIAN_ATTESTATION_TEXT = gettext_lazy(
    "I confirm that this child's parent or other guardian read the organization's privacy terms and agreed "
    "that the organization holds the child's data described there."
)

# The roster fields a withdrawal erases: every field beyond the basic ones.
ERASABLE_FIELDS = tuple(name for name in EDITABLE_FIELDS if name not in CHILD_BASIC_FIELDS)
# Keyed-hash lookup columns that follow an erased field (ORG-10).
_DIGESTS = {"id_number": "id_number_digest"}


def _member_paths(member: Member) -> list[str]:
    return [department.path for department in member.departments.all()]


def _require_child_rights(access: OrgAccess, member: Member, right: str) -> None:
    paths = _member_paths(member)
    if member.organization_id != access.organization.pk or not access.covers_member(Right.VIEW_CHILDREN, paths):
        raise PermissionDenied
    if not access.covers_member(right, paths):
        raise PermissionDenied


def consent_in_force(member: Member) -> GuardianConsent | None:
    return GuardianConsent.objects.filter(member=member, withdrawn_at__isnull=True).first()


@transaction.atomic
def set_children_settings(
    access: OrgAccess, *, officer: Administrator | None, jurisdiction: str, ip: str | None = None
) -> bool:
    """SEC-3: the owner designates the person responsible for children's data (an
    administrator of the organization) and says where the organization's people are
    located (which decides the age limit). Audited as ``children.settings_changed``.
    Returns whether anything changed."""
    access.require_owner()
    organization = access.organization
    if officer is not None and officer.organization_id != organization.pk:
        raise ValidationError(_("Choose an administrator of this organization."), code="not_an_administrator")
    before = {"officer": organization.children_data_officer_id, "jurisdiction": organization.children_jurisdiction}
    after = {"officer": officer.pk if officer else None, "jurisdiction": jurisdiction}
    if before == after:
        return False
    type(organization).objects.filter(pk=organization.pk).update(
        children_data_officer=officer, children_jurisdiction=jurisdiction
    )
    organization.children_data_officer = officer
    organization.children_jurisdiction = jurisdiction
    record_event(
        "children.settings_changed",
        actor=access.user,
        subject=officer.user if officer else None,
        target=organization,
        organization=organization,
        ip=ip,
        changes=[key for key in after if after[key] != before[key]],
        metadata={"before": before, "after": after},
    )
    return True


@transaction.atomic
def record_guardian_consent(
    access: OrgAccess,
    member: Member,
    *,
    guardian_name: str,
    relationship: str,
    contact: str,
    method: str,
    ip: str | None = None,
) -> GuardianConsent:
    """SEC-3: record a guardian's consent for a child's roster entry (``edit_roster``
    and ``view_children`` on it). Refused (``ValidationError``) while the organization
    has no designated children's data officer, or when a consent is already in force.
    The guardian's contact is stored encrypted and never written to the audit trail."""
    _require_child_rights(access, member, Right.EDIT_ROSTER)
    if access.organization.children_data_officer_id is None:
        raise ValidationError(
            _("Designate the person responsible for children's data before recording a guardian's consent."),
            code="children_officer_required",
        )
    Member.objects.select_for_update().filter(pk=member.pk).first()  # one recording at a time per entry
    if GuardianConsent.objects.filter(member=member, withdrawn_at__isnull=True).exists():
        raise ValidationError(_("A guardian's consent is already recorded for this child."), code="already_recorded")
    consent = GuardianConsent.objects.create(
        organization=access.organization,
        member=member,
        guardian_name=guardian_name,
        relationship=relationship,
        contact=contact,
        method=method,
        attestation=str(GUARDIAN_ATTESTATION_TEXT),
        recorded_by=access.user,
    )
    record_event(
        "child.guardian_consent_recorded",
        actor=access.user,
        subject=member.user,
        target=member,
        organization=access.organization,
        ip=ip,
        metadata={"consent": consent.pk, "method": method, "relationship": relationship},
    )
    return consent


@transaction.atomic
def withdraw_guardian_consent(access: OrgAccess, member: Member, ip: str | None = None) -> list[str]:
    """SEC-3: the guardian withdrew their consent. The consent is marked withdrawn and,
    in the same transaction, everything beyond the child's basic fields is erased: the
    roster fields (``ERASABLE_FIELDS``), the family contacts and the biometric
    templates. Returns the names of the erased fields. ``ValidationError`` when no
    consent is in force."""
    _require_child_rights(access, member, Right.EDIT_ROSTER)
    consent = GuardianConsent.objects.select_for_update().filter(member=member, withdrawn_at__isnull=True).first()
    if consent is None:
        raise ValidationError(_("No guardian's consent is in force for this child."), code="no_consent")
    now = timezone.now()
    GuardianConsent.objects.filter(pk=consent.pk).update(withdrawn_at=now, withdrawn_by=access.user)
    erased = erase_child_extended_data(member)
    record_event(
        "child.guardian_consent_withdrawn",
        actor=access.user,
        subject=member.user,
        target=member,
        organization=access.organization,
        ip=ip,
        changes=erased["fields"],
        metadata={"consent": consent.pk, **erased},
    )
    return erased["fields"]


def erase_child_extended_data(member: Member) -> dict:
    """Blank every non-basic roster field of ``member`` and delete its family contacts
    and biometric templates, set-wise (one UPDATE, two DELETEs), in the caller's
    transaction. The values each field is blanked to are its declared anonymized
    values' blank form (``REDACT_BLANK``: ``""``; ``SET_NULL``: ``None``)."""
    current = Member.objects.filter(pk=member.pk).values(*ERASABLE_FIELDS).get()
    held = [name for name, value in current.items() if value not in ("", None)]
    blanks: dict[str, object] = {}
    for name in held:
        field = Member._meta.get_field(name)
        blanks[name] = None if field.null else ""
        if name in _DIGESTS:
            blanks[_DIGESTS[name]] = ""
    if blanks:
        Member.objects.filter(pk=member.pk).update(**blanks)
        for name, value in blanks.items():
            setattr(member, name, value)
    family, _details = FamilyContact.objects.filter(student=member).delete()
    biometrics, _details = BiometricTemplate.objects.filter(member=member).delete()
    return {"fields": sorted(held), "family_contacts": family, "biometric_templates": biometrics}


def record_child_access(access: OrgAccess, member: Member, page: str, ip: str | None = None) -> None:
    """SEC-3: every view of a child's record is audited (``child.viewed``, with the page
    that showed it). Called in the same request as the view, never deferred."""
    record_event(
        "child.viewed",
        actor=access.user,
        subject=member.user,
        target=member,
        organization=access.organization,
        ip=ip,
        metadata={"page": page},
    )
