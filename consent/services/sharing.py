"""The service catalog (SVC-1) and an organization's decisions to open or close a
service (SVC-2, SVC-3).

Opening a service records the administrator's confirmation of exactly what is shared:
the basic information (user ID, avatar, nickname) and the scopes the service declared
at the revision the administrator saw. A form confirmed against an older catalog entry
is refused and nothing is written. When the service later declares more scopes, the
grant keeps sending only what was confirmed until an administrator confirms again.

Closing a grant stops the sharing at once (its tokens are revoked in the same
transaction) and queues a deletion notice to the provider (``consent.services.notices``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import DataRegion
from consent.models.ledger import Decision, Purpose
from consent.models.sharing import (
    DataScope,
    DeletionNotice,
    GrantStatus,
    NoticeReason,
    Service,
    ServiceKind,
    SharingGrant,
)
from consent.services.ledger import latest_decision
from consent.services.notices import notice_problem, queue_deletion_notice, resend_waiting_notices
from consent.services.tokens import revoke_tokens
from dataprotection.audit import record_event
from organizations.models import Member, MemberStatus, Organization, Right
from organizations.models.children import child_cutoff, children_q
from organizations.permissions import OrgAccess

# Kinds an organization opens for itself; mini-programs are authorized by each person
# (SVC-4), and another organization's self-built app is none of its business.
ORGANIZATION_KINDS = (ServiceKind.FIRST_PARTY, ServiceKind.THIRD_PARTY, ServiceKind.SELF_BUILT)
PROVIDER_KINDS = frozenset({ServiceKind.THIRD_PARTY, ServiceKind.MINI_PROGRAM})


# --------------------------------------------------------------------------- reads


def scope_labels(scopes) -> list[str]:
    labels = dict(DataScope.choices)
    return [str(labels.get(scope, scope)) for scope in scopes]


def added_scopes(grant: SharingGrant) -> list[str]:
    """Scopes the service declared after the grant was confirmed (SVC-2)."""
    confirmed = set(grant.scopes)
    return [scope for scope in grant.service.data_scopes if scope not in confirmed]


def needs_reconfirmation(grant: SharingGrant) -> bool:
    return grant.status == GrantStatus.ACTIVE and grant.service.scopes_revision > grant.scopes_revision


def effective_scopes(grant: SharingGrant) -> list[str]:
    """What the provider receives beyond the basic information: the scopes the
    administrator confirmed that the service still declares (SVC-2)."""
    declared = set(grant.service.data_scopes)
    return [scope for scope in grant.scopes if scope in declared]


def catalog_for(organization: Organization) -> QuerySet[Service]:
    """The catalog an organization sees (SVC-1): listed first-party and third-party
    services, its own self-built apps, and any service it still has open even if no
    longer listed (so it can always be closed). One query."""
    open_here = SharingGrant.objects.filter(organization=organization, status=GrantStatus.ACTIVE).values("service_id")
    listed = Q(listed=True) & (
        Q(kind__in=[ServiceKind.FIRST_PARTY, ServiceKind.THIRD_PARTY])
        | Q(kind=ServiceKind.SELF_BUILT, organization=organization)
    )
    return Service.objects.filter(listed | Q(pk__in=open_here)).order_by("kind", "name")


def visible_to(service: Service, organization: Organization) -> bool:
    if service.kind == ServiceKind.SELF_BUILT:
        return service.organization_id == organization.pk
    return service.kind in ORGANIZATION_KINDS


@dataclass
class ServiceState:
    service: Service
    grant: SharingGrant | None  # the open grant, else the latest closed one

    @property
    def is_open(self) -> bool:
        return self.grant is not None and self.grant.status == GrantStatus.ACTIVE

    @property
    def asks_for_more(self) -> list[str]:
        return scope_labels(added_scopes(self.grant)) if self.is_open and needs_reconfirmation(self.grant) else []


def service_states(organization: Organization) -> list[ServiceState]:
    """Each catalog entry with its state for the organization: two queries, whatever
    the number of services or of past grants."""
    services = list(catalog_for(organization))
    latest: dict[int, SharingGrant] = {}
    grants = (
        SharingGrant.objects.filter(organization=organization, service__in=[service.pk for service in services])
        .select_related("opened_by", "closed_by")
        .order_by("-opened_at", "-pk")
    )
    by_pk = {service.pk: service for service in services}
    for grant in grants:
        grant.service = by_pk[grant.service_id]
        current = latest.get(grant.service_id)
        if current is None or (grant.status == GrantStatus.ACTIVE and current.status != GrantStatus.ACTIVE):
            latest[grant.service_id] = grant
    return [ServiceState(service, latest.get(service.pk)) for service in services]


def active_grant(organization: Organization, service: Service) -> SharingGrant | None:
    grant = (
        SharingGrant.objects.filter(organization=organization, service=service, status=GrantStatus.ACTIVE)
        .select_related("opened_by")
        .first()
    )
    if grant is not None:
        grant.service = service
    return grant


# SEC-6: on a roster from ``_with_cross_border``, the members whose person consents now
# to the cross-border transfer (an entry without an account cannot consent).
_CONSENTS_ABROAD = Q(cross_border=Decision.GRANTED)


def current_members(organization: Organization) -> QuerySet[Member]:
    """The organization's roster without the people who left it."""
    return Member.objects.filter(organization=organization).exclude(status=MemberStatus.LEFT)


def organization_cutoff(organization: Organization):
    """SEC-3: entries born after this date are the organization's children today."""
    return child_cutoff(organization.children_jurisdiction, timezone.localdate())


def provider_roster(organization: Organization) -> QuerySet[Member]:
    """What a provider's member list may contain: the current members, never a child
    (SEC-3: a child's entry is read one at a time, where the guardian agreed)."""
    return current_members(organization).exclude(children_q(organization_cutoff(organization)))


def children_withheld(organization: Organization) -> int:
    """SEC-3: how many current members are children, left out of every provider list."""
    return current_members(organization).filter(children_q(organization_cutoff(organization))).count()


def _with_cross_border(members: QuerySet[Member]) -> QuerySet[Member]:
    # One subquery per row, in the same query, however many members there are.
    return members.alias(cross_border=latest_decision(Purpose.CROSS_BORDER, "user_id"))


def members_consenting_abroad(organization: Organization) -> QuerySet[Member]:
    """SEC-6: the members of the provider roster a service hosted outside the data
    region may receive: those whose person consents to the transfer now."""
    return _with_cross_border(provider_roster(organization)).filter(_CONSENTS_ABROAD)


def cross_border_counts(organization: Organization) -> dict[str, int]:
    """SEC-6: how many of the provider roster's members a service hosted outside the
    data region may receive (their person consents to the transfer now) out of all of
    them. One query."""
    return _with_cross_border(provider_roster(organization)).aggregate(
        total=Count("pk"), consenting=Count("pk", filter=_CONSENTS_ABROAD)
    )


def data_region_label():
    """SEC-6: the name of this deployment's data region, as the pages and messages show it."""
    return DataRegion(settings.DATA_REGION).label


def cross_border_params(service: Service) -> dict:
    """SEC-6: what a cross-border message names: the app, where it is hosted, and the
    data region the person's data is kept in."""
    return {"app": service.name, "place": service.get_hosting_region_display(), "region": data_region_label()}


def transfer_facts(service: Service) -> dict:
    """SEC-6: what the audit events of a cross-border transfer record about it."""
    return {"service": service.code, "hosting_region": service.hosting_region, "data_region": settings.DATA_REGION}


def organization_notices(organization: Organization, service: Service | None = None, limit: int = 50):
    """The organization's deletion notices, newest first, each with ``problem``: why it
    has not gone through yet, in the reader's language (who must act, never the raw
    reason the worker recorded)."""
    notices = DeletionNotice.objects.filter(organization=organization).select_related("service")
    if service is not None:
        notices = notices.filter(service=service)
    rows = list(notices.order_by("-created_at", "-pk")[:limit])
    for notice in rows:
        notice.problem = notice_problem(notice)
    return rows


# --------------------------------------------------------------------------- organization decisions


def _require(access: OrgAccess) -> None:
    """Services are organization-wide: the right must hold on the whole organization
    (and a frozen organization holds no write right at all)."""
    if not access.has_whole(Right.MANAGE_SERVICES):
        raise PermissionDenied


def _check_confirmed(service: Service, scopes, scopes_revision) -> list[str]:
    """The scopes and revision the administrator confirmed must be the catalog's
    current ones; otherwise the page was stale and nothing is written."""
    try:
        revision = int(scopes_revision)
    except (TypeError, ValueError):
        revision = None
    confirmed = sorted({str(scope) for scope in scopes})
    if revision != service.scopes_revision or confirmed != sorted(set(service.data_scopes)):
        raise ValidationError(
            _(
                "The data this service asks for changed since the page was shown. "
                "Review what will be shared and confirm again."
            ),
            code="stale",
        )
    return list(service.data_scopes)


def _locked_service(service: Service) -> Service:
    """The catalog row, locked so that staff cannot change its scopes between the
    check and the grant."""
    return Service.objects.select_for_update().get(pk=service.pk)


def open_service(
    access: OrgAccess, service: Service, *, scopes, scopes_revision, ip: str | None = None
) -> SharingGrant:
    """SVC-2, SVC-3: open ``service`` for the organization, recording who confirmed
    which scopes at which revision."""
    _require(access)
    organization = access.organization
    try:
        with transaction.atomic():
            current = _locked_service(service)
            if not visible_to(current, organization) or not (current.listed or active_grant(organization, current)):
                raise ValidationError(_("This service is not available to the organization."), code="unavailable")
            confirmed = _check_confirmed(current, scopes, scopes_revision)
            if active_grant(organization, current) is not None:
                raise ValidationError(_("This service is already open."), code="already_open")
            now = timezone.now()
            grant = SharingGrant.objects.create(
                organization=organization,
                service=current,
                status=GrantStatus.ACTIVE,
                scopes=confirmed,
                scopes_revision=current.scopes_revision,
                opened_by=access.user,
                opened_at=now,
                confirmed_at=now,
            )
            record_event(
                "service.opened",
                actor=access.user,
                target=grant,
                organization=organization,
                ip=ip,
                metadata={
                    "service": current.code,
                    "scopes": confirmed,
                    "scopes_revision": current.scopes_revision,
                    # SEC-6: opened knowing that members' data leaves the region only with
                    # each member's consent.
                    **({"hosting_region": current.hosting_region} if current.hosted_outside_region else {}),
                },
            )
    except IntegrityError:  # opened concurrently: the partial unique constraint decides
        raise ValidationError(_("This service is already open."), code="already_open") from None
    return grant


def _own_active_grant(access: OrgAccess, grant: SharingGrant) -> None:
    if grant.organization_id != access.organization.pk:
        raise PermissionDenied
    if grant.status != GrantStatus.ACTIVE:
        raise ValidationError(_("This service is already closed."), code="closed")


@transaction.atomic
def reconfirm_service(access: OrgAccess, grant: SharingGrant, *, scopes, scopes_revision, ip: str | None = None):
    """SVC-2: the administrator confirms the scopes the service asks for now; until
    then the provider receives only the scopes of the earlier confirmation."""
    _require(access)
    grant = SharingGrant.objects.select_for_update().get(pk=grant.pk)
    _own_active_grant(access, grant)
    service = _locked_service(grant.service)
    confirmed = _check_confirmed(service, scopes, scopes_revision)
    before = list(grant.scopes)
    grant.service = service
    grant.scopes = confirmed
    grant.scopes_revision = service.scopes_revision
    grant.confirmed_at = timezone.now()
    grant.save(update_fields=["scopes", "scopes_revision", "confirmed_at"])
    record_event(
        "service.scopes_confirmed",
        actor=access.user,
        target=grant,
        organization=access.organization,
        ip=ip,
        changes=["scopes"],
        metadata={
            "service": service.code,
            "before": before,
            "after": confirmed,
            "scopes_revision": service.scopes_revision,
        },
    )
    return grant


def close_service(access: OrgAccess, grant: SharingGrant, *, ip: str | None = None) -> DeletionNotice | None:
    """SVC-3: close the service for the organization (tokens revoked, deletion notice
    queued)."""
    _require(access)
    with transaction.atomic():
        locked = SharingGrant.objects.select_for_update().select_related("service").get(pk=grant.pk)
        _own_active_grant(access, locked)
        return _close(locked, reason=NoticeReason.SERVICE_CLOSED, actor=access.user, ip=ip)


def close_grant(grant: SharingGrant, *, reason: str, actor=None) -> DeletionNotice | None:
    """SVC-3, ORG-11: close a grant without the permission gate (the disband cascade
    and the service above). Tokens are revoked at once and one deletion notice asks the
    provider to delete everything it received through the organization. Closing a
    closed grant does nothing."""
    return _close(grant, reason=reason, actor=actor, ip=None)


@transaction.atomic
def _close(grant: SharingGrant, *, reason: str, actor, ip: str | None) -> DeletionNotice | None:
    now = timezone.now()
    closed = SharingGrant.objects.filter(pk=grant.pk, status=GrantStatus.ACTIVE).update(
        status=GrantStatus.REVOKED,
        closed_at=now,
        closed_by=actor if getattr(actor, "is_authenticated", False) else None,
        close_reason=str(reason),
    )
    if not closed:
        return None
    grant.refresh_from_db()
    revoked = revoke_tokens(grant=grant)
    service = grant.service
    notice = queue_deletion_notice(service, reason, organization_id=grant.organization_id, everything=True)
    record_event(
        "service.closed",
        actor=actor,
        target=grant,
        organization=grant.organization_id,
        ip=ip,
        metadata={
            "service": service.code,
            "reason": str(reason),
            "tokens_revoked": revoked,
            "deletion_notice": str(notice.uuid) if notice else None,
        },
    )
    return notice


# --------------------------------------------------------------------------- the catalog (operations)


def check_catalog_entry(service: Service) -> None:
    """SVC-1: a provider's app names its provider, privacy policy and deletion
    endpoint, and an endpoint comes with its signing secret; a self-built app names its
    organization; scopes are known ones."""
    errors: dict[str, list] = {}
    unknown = [scope for scope in service.data_scopes or () if scope not in DataScope.values]
    if not isinstance(service.data_scopes, list) or unknown:
        errors["data_scopes"] = [_("Unknown data scope: %(scopes)s.") % {"scopes": ", ".join(map(str, unknown))}]
    if service.kind in PROVIDER_KINDS:
        for name, message in (
            ("provider_name", _("A third-party app or mini-program needs its provider.")),
            ("privacy_policy_url", _("A third-party app or mini-program needs the provider's privacy policy.")),
            ("notice_url", _("A third-party app or mini-program needs an endpoint for deletion notices.")),
        ):
            if not getattr(service, name):
                errors[name] = [message]
    if service.notice_url and not service.notice_secret:
        # A notice the provider cannot verify is never acknowledged: it would wait
        # forever on something only operations can fix.
        errors["notice_secret"] = [
            _("A deletion notice endpoint needs a signing secret: the provider verifies every notice with it.")
        ]
    if service.kind == ServiceKind.SELF_BUILT and service.organization_id is None:
        errors["organization"] = [_("A self-built app belongs to the organization that built it.")]
    if service.kind != ServiceKind.SELF_BUILT and service.organization_id is not None:
        errors["organization"] = [_("Only a self-built app belongs to an organization.")]
    if errors:
        raise ValidationError(errors)


def client_secret_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def save_catalog_service(
    staff,
    service: Service,
    *,
    rotate_client_secret: bool = False,
    notice_secret: str = "",
    ip: str | None = None,
) -> str | None:
    """SVC-1: operations staff add or change a catalog entry. Adding scopes raises
    ``scopes_revision`` (every organization that opened the service is asked to confirm
    again); a new client secret is returned once, only its digest is kept; a new
    notice secret is stored encrypted. Deletion notices that were waiting for the
    endpoint or its secret are sent again at once. Returns the new client secret, if
    any."""
    if not getattr(staff, "is_staff", False):
        raise PermissionDenied
    order = {scope: index for index, scope in enumerate(DataScope.values)}
    service.data_scopes = sorted(
        {str(scope) for scope in service.data_scopes or ()}, key=lambda s: order.get(s, len(order))
    )
    if notice_secret:
        service.notice_secret = notice_secret
    check_catalog_entry(service)
    creating = service.pk is None
    added: list[str] = []
    changed: list[str] = []
    if not creating:
        before = Service.objects.select_for_update().get(pk=service.pk)
        added = sorted(set(service.data_scopes) - set(before.data_scopes))
        service.scopes_revision = before.scopes_revision + 1 if added else before.scopes_revision
        changed = [
            field.name
            for field in Service._meta.concrete_fields
            if field.name not in {"id", "notice_secret", "client_secret_digest"}
            and getattr(before, field.attname) != getattr(service, field.attname)
        ]
    raw_secret = None
    if rotate_client_secret:
        raw_secret = "css_" + secrets.token_urlsafe(32)
        service.client_secret_digest = client_secret_digest(raw_secret)
        changed.append("client_secret")
    if notice_secret:
        changed.append("notice_secret")
    service.save()
    retried = []
    if not creating and {"notice_secret", "notice_url"} & set(changed):
        retried = resend_waiting_notices(service)
    record_event(
        "service.catalog_added" if creating else "service.catalog_changed",
        actor=staff,
        target=service,
        ip=ip,
        changes=changed,
        metadata={
            "code": service.code,
            "added_scopes": added,
            "scopes_revision": service.scopes_revision,
            **({"notices_resent": retried} if retried else {}),
        },
    )
    return raw_secret
