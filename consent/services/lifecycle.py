"""What disbanding an organization or deleting an account does to services and
recipients (ORG-11, ACC-5, SVC-3, REQ-8): the consent app's planners for the
anonymization engine, registered by ``consent.hooks``.

Planners run inside the transaction that starts a job (``anonymization.start``): the
grants they close, the tokens they revoke and the notices they queue commit with the
plan or not at all, and a retried start finds nothing left to close. The notices go out
after commit, through the outbox, and are retried until each provider acknowledges."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Q

from consent.models import (
    ChildSharing,
    ConsentRecord,
    Disclosure,
    GrantStatus,
    NoticeReason,
    PersonalAuthorization,
    PolicyAcknowledgement,
    PrivacySettings,
    ProviderToken,
    ServiceKind,
    SharingGrant,
)
from consent.services import notices, sharing
from consent.services.personal_apps import revoke_authorization
from dataprotection.anonymization import StageSpec

# Phases of the account-deletion stages of this app: tokens before the authorizations
# they belong to, both before the account row (accounts.services.deletion.ACCOUNT_PHASE).
TOKEN_PHASE = 1
AUTHORIZATION_PHASE = 2


def plan_disband_sharing(job) -> list[StageSpec]:
    """ORG-11: every open service of the organization is closed (tokens revoked at once,
    a deletion notice to each third party). The tables themselves are in the generic
    disband plan (they are declared), so no stages here."""
    grants = SharingGrant.objects.filter(organization_id=job.organization_id, status=GrantStatus.ACTIVE)
    for grant in grants.select_related("service"):
        sharing.close_grant(grant, reason=NoticeReason.ORGANIZATION_DISBANDED)
    return []


def disband_preview_services(organization) -> dict:
    """The services the owner sees in the disband preview."""
    names = SharingGrant.objects.filter(organization=organization, status=GrantStatus.ACTIVE).values_list(
        "service__name", flat=True
    )
    return {"services": sorted(names)}


def plan_person_sharing(job) -> list[StageSpec]:
    """ACC-5, REQ-8: the person's mini-program authorizations are revoked, every third
    party that received their data (through an organization or their own authorization)
    gets a deletion notice, and the app's tables lose the person: consents and policy
    acknowledgements stay as anonymized evidence, settings and credentials go."""
    user_id = job.subject_id
    notified: set[int] = set()
    active = PersonalAuthorization.objects.filter(user_id=user_id, status=GrantStatus.ACTIVE)
    for authorization in active.select_related("service", "user"):
        revoke_authorization(authorization, reason=NoticeReason.ACCOUNT_DELETED)
        notified.add(authorization.service_id)  # its notice already names the person
    recipients: dict[int, dict[str, set]] = defaultdict(lambda: {"users": set(), "members": set()})
    services = {}
    disclosures = Disclosure.objects.filter(Q(user_id=user_id) | Q(member__user_id=user_id)).select_related("service")
    for disclosure in disclosures.exclude(service__kind=ServiceKind.FIRST_PARTY):
        services[disclosure.service_id] = disclosure.service
        if disclosure.member_id is not None:
            recipients[disclosure.service_id]["members"].add(disclosure.member_id)
        else:
            recipients[disclosure.service_id]["users"].add(user_id)
    for service_id, people in sorted(recipients.items()):
        if service_id in notified and not people["members"]:
            continue
        notices.queue_deletion_notice(
            services[service_id],
            NoticeReason.ACCOUNT_DELETED,
            user_ids=sorted(people["users"]),
            member_ids=sorted(people["members"]),
        )
    label = lambda model: model._meta.label  # noqa: E731
    return [
        StageSpec(label(ConsentRecord), {"user_id": user_id}),
        StageSpec(label(ConsentRecord), {"actor_user_id": user_id}, only=("actor_user",)),
        StageSpec(label(PolicyAcknowledgement), {"user_id": user_id}),
        StageSpec(label(Disclosure), {"user_id": user_id}),
        StageSpec(label(SharingGrant), {"opened_by_id": user_id}, only=("opened_by",)),
        StageSpec(label(SharingGrant), {"closed_by_id": user_id}, only=("closed_by",)),
        StageSpec(label(PrivacySettings), {"user_id": user_id}, phase=TOKEN_PHASE),
        StageSpec(label(ProviderToken), {"authorization__user_id": user_id}, phase=TOKEN_PHASE),
        StageSpec(label(PersonalAuthorization), {"user_id": user_id}, phase=AUTHORIZATION_PHASE),
        # SEC-3: a child's entry shared with a service goes before the guardian consent it
        # extends (organizations deletes those in its phase 1).
        StageSpec(label(ChildSharing), {"guardian_consent__member__user_id": user_id}),
        StageSpec(label(ChildSharing), {"recorded_by_id": user_id}, only=("recorded_by",)),
    ]
