"""Children's entries and third-party services (SEC-3, SVC-3).

A child's roster entry is never part of a member list a provider fetches: the list
leaves every child out and says how many (``children_withheld``). A provider reads a
child's entry one at a time, and only where the child's guardian agreed to that service
(``ChildSharing``, extending a guardian consent in force). An administrator holding
``manage_services`` and ``view_children`` on the child records that agreement."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _

from consent.models import ChildSharing, GrantStatus, Service, SharingGrant
from consent.services.open_ids import member_open_id
from consent.services.sharing import PROVIDER_KINDS, current_members, organization_cutoff
from dataprotection.audit import record_event
from organizations.models import GuardianConsent, Member, Right
from organizations.models.children import children_q
from organizations.permissions import OrgAccess


def _sharing_in_force(service: Service) -> QuerySet[ChildSharing]:
    return ChildSharing.objects.filter(service=service, guardian_consent__withdrawn_at__isnull=True)


def shared_child(grant: SharingGrant, open_id: str) -> Member | None:
    """The child whose entry ``grant``'s service may read under ``open_id`` (the
    provider's pseudonymous member ID), or None. Only children whose guardian consent in
    force covers the service are candidates (few), so the open IDs are compared one by
    one without touching the rest of the roster."""
    organization = grant.organization
    candidates = (
        _sharing_in_force(grant.service)
        .filter(guardian_consent__organization=organization, guardian_consent__member__organization=organization)
        .values_list("guardian_consent__member_id", flat=True)
    )
    for member_id in candidates:
        if hmac.compare_digest(member_open_id(grant.service.code, member_id), open_id):
            # Still on the roster and still a child (else it is in the list like anyone).
            cutoff = organization_cutoff(organization)
            return current_members(organization).filter(children_q(cutoff), pk=member_id).first()
    return None


@dataclass(frozen=True)
class ChildRow:
    member: Member
    consent: GuardianConsent
    shared: bool


def children_for_sharing(access: OrgAccess, service: Service) -> list[ChildRow]:
    """SEC-3: the children the administrator may see whose guardian consent is in force,
    and whether each one's guardian agreed to ``service`` (two queries)."""
    access.require(Right.MANAGE_SERVICES)
    consents = (
        GuardianConsent.objects.filter(
            organization=access.organization,
            withdrawn_at__isnull=True,
            member__in=access.members(Right.VIEW_ROSTER).filter(children_q(access.child_cutoff)),
        )
        .select_related("member")
        .annotate(shared=Exists(ChildSharing.objects.filter(guardian_consent=OuterRef("pk"), service=service)))
        .order_by("member__name", "pk")
    )
    return [ChildRow(consent.member, consent, consent.shared) for consent in consents]


def _require_sharable(access: OrgAccess, service: Service, member: Member) -> GuardianConsent:
    access.require(Right.MANAGE_SERVICES)
    if not member.is_child:
        raise ValidationError(_("This entry is not a child's: it is shared like any other."), code="not_a_child")
    if service.kind not in PROVIDER_KINDS:
        raise ValidationError(_("Only a third-party app receives entries one at a time."), code="not_a_provider")
    if not SharingGrant.objects.filter(
        organization=access.organization, service=service, status=GrantStatus.ACTIVE
    ).exists():
        raise ValidationError(_("Open the service first."), code="not_open")
    consent = GuardianConsent.objects.filter(member=member, withdrawn_at__isnull=True).first()
    if consent is None:
        raise ValidationError(
            _("There is no guardian consent in force for this child: record it on the child's page first."),
            code="no_guardian_consent",
        )
    return consent


@transaction.atomic
def set_child_sharing(
    access: OrgAccess, service: Service, member: Member, *, shared: bool, ip: str | None = None
) -> bool:
    """SEC-3: record (or withdraw) that the child's guardian agreed that ``service`` may
    read the child's entry one at a time. ``member`` comes from
    ``access.get_member(pk, Right.VIEW_CHILDREN)``. Audited; returns whether anything
    changed."""
    if not access.covers_member(Right.VIEW_CHILDREN, [department.path for department in member.departments.all()]):
        raise PermissionDenied
    consent = _require_sharable(access, service, member)
    if shared:
        _sharing, changed = ChildSharing.objects.get_or_create(
            guardian_consent=consent, service=service, defaults={"recorded_by": access.user}
        )
    else:
        changed = bool(ChildSharing.objects.filter(guardian_consent=consent, service=service).delete()[0])
    if changed:
        record_event(
            "child.sharing_allowed" if shared else "child.sharing_withdrawn",
            actor=access.user,
            subject=member.user,
            target=member,
            organization=access.organization,
            ip=ip,
            metadata={"service": service.code},
        )
    return changed
