"""A person's own mini-program authorizations and the apps that hold their data
(SVC-4, SVC-5).

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
    DeletionNotice,
    Disclosure,
    GrantStatus,
    NoticeReason,
    PersonalAuthorization,
    Service,
    ServiceKind,
)
from consent.services import notices, tokens
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


def authorize_mini_program(user, service: Service, *, ip: str | None = None) -> PersonalAuthorization:
    """SVC-4: the person authorizes a listed mini-program for themselves."""
    if service.kind != ServiceKind.MINI_PROGRAM or not service.listed:
        raise ValidationError(_("Only listed mini-programs can be authorized here."), code="not_mini_program")
    with transaction.atomic():
        if (
            PersonalAuthorization.objects.select_for_update()
            .filter(user=user, service=service, status=GrantStatus.ACTIVE)
            .exists()
        ):
            raise ValidationError(_("You have already authorized %(app)s.") % {"app": service.name}, code="active")
        authorization = PersonalAuthorization.objects.create(user=user, service=service)
        record_event(
            "mini_program.authorized",
            actor=user,
            subject=user,
            target=authorization,
            ip=ip,
            metadata={"service": service.code, "scopes": ["basic"]},
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
