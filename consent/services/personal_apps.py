"""A person's own mini-program authorizations and the apps that hold their data
(SVC-4, SVC-5), and the cross-border consent a mini-program hosted in another region
needs (SEC-6).

A mini-program receives basic information only (user ID, avatar, nickname), never more,
whatever it declares; revoking stops it at once (its tokens are revoked in the same
transaction) and sends it a deletion notice through the outbox."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.models import (
    Channel,
    Decision,
    DeletionNotice,
    Disclosure,
    GrantStatus,
    NoticeReason,
    PersonalAuthorization,
    Purpose,
    Service,
    ServiceKind,
)
from consent.services import ledger, notices, tokens
from consent.services.sharing import cross_border_params, transfer_facts
from dataprotection.audit import record_event


def available_mini_programs() -> QuerySet[Service]:
    return Service.objects.filter(kind=ServiceKind.MINI_PROGRAM, listed=True).order_by("name")


def authorizations_of(user) -> QuerySet[PersonalAuthorization]:
    return PersonalAuthorization.objects.filter(user=user).select_related("service").order_by("status", "-granted_at")


def recipients_of(user) -> QuerySet[Disclosure]:
    """Every app that received the person's data, through an organization's roster entry
    linked to them or through their own authorization, newest first (one query)."""
    return (
        Disclosure.objects.filter(Q(user=user) | Q(member__user=user))
        .select_related("service", "organization")
        .order_by("-last_disclosed_at", "-pk")
    )


def cross_border_refusal(service: Service) -> ValidationError:
    return ValidationError(
        _(
            "%(app)s is hosted in %(place)s, outside the %(region)s region where your data is kept. It can receive "
            "your data only with your explicit consent to that transfer: tick the cross-border box to authorize it."
        ),
        code="cross_border_consent_required",
        params=cross_border_params(service),
    )


def authorize_mini_program(
    user, service: Service, *, cross_border_consent: bool = False, ip: str | None = None
) -> PersonalAuthorization:
    """SVC-4: the person authorizes a listed mini-program for themselves.

    SEC-6: a mini-program hosted outside the deployment's data region needs the
    person's explicit cross-border consent, given on this authorization (it names the
    app and where it is hosted): it is recorded in the consent ledger
    (``Purpose.CROSS_BORDER``) and audited with the app. Without it the authorization
    is refused with a clear message, and the refusal is audited."""
    if service.kind != ServiceKind.MINI_PROGRAM or not service.listed:
        raise ValidationError(_("Only listed mini-programs can be authorized here."), code="not_mini_program")
    abroad = service.hosted_outside_region
    if abroad and not cross_border_consent:
        # Its own transaction: the refusal stays on record, nothing else is written.
        with transaction.atomic():
            record_event(
                "cross_border.refused",
                actor=user,
                subject=user,
                target=service,
                ip=ip,
                metadata=transfer_facts(service),
            )
        raise cross_border_refusal(service)
    with transaction.atomic():
        if (
            PersonalAuthorization.objects.select_for_update()
            .filter(user=user, service=service, status=GrantStatus.ACTIVE)
            .exists()
        ):
            raise ValidationError(_("You have already authorized %(app)s.") % {"app": service.name}, code="active")
        authorization = PersonalAuthorization.objects.create(user=user, service=service)
        if abroad:
            ledger.record_consent(
                user=user,
                purpose=Purpose.CROSS_BORDER,
                decision=Decision.GRANTED,
                channel=Channel.WEB,
                policy_version=ledger.CURRENT,
                ip=ip,
            )
            record_event(
                "cross_border.consented",
                actor=user,
                subject=user,
                target=authorization,
                ip=ip,
                metadata=transfer_facts(service),
            )
        record_event(
            "mini_program.authorized",
            actor=user,
            subject=user,
            target=authorization,
            ip=ip,
            metadata={
                "service": service.code,
                "scopes": ["basic"],
                **({"hosting_region": service.hosting_region} if abroad else {}),
            },
        )
    return authorization


def revoke_authorization(
    authorization: PersonalAuthorization, *, reason: str = NoticeReason.AUTHORIZATION_REVOKED, actor=None, ip=None
) -> DeletionNotice | None:
    """Stop the app at once and tell it to delete what it received. Gate-free: callers
    check that ``authorization`` is the actor's own (or run the account deletion)."""
    with transaction.atomic():
        now = timezone.now()
        revoked = PersonalAuthorization.objects.filter(pk=authorization.pk, status=GrantStatus.ACTIVE).update(
            status=GrantStatus.REVOKED, revoked_at=now
        )
        if not revoked:
            return None  # revoked already (a double click, or a concurrent deletion)
        authorization.status, authorization.revoked_at = GrantStatus.REVOKED, now
        tokens.revoke_tokens(authorization=authorization)
        notice = notices.queue_deletion_notice(authorization.service, reason, user_ids=[authorization.user_id])
        record_event(
            "mini_program.revoked",
            actor=actor,
            subject=authorization.user,
            target=authorization,
            ip=ip,
            metadata={"service": authorization.service.code, "reason": reason},
        )
    return notice
