"""Account deletion (ACC-5, ANON-3): what stands in its way, and the cascade's part that
belongs to accounts.

The person re-verifies and files the request (``request_account_deletion`` below);
an ``AnonymizationJob`` of kind ``account_deletion`` runs when the cooling-off period
(``ACCOUNT_DELETION_GRACE_DAYS``) ends. Each app plans its own tables: organizations
anonymizes the person's roster entries and activity records and removes their
administrator rows, the audit trail scrubs events about them, and accounts (here) removes
their codes, messages and real-person authentication and, last, the account row itself.
Django's collector then sets every remaining reference to the account to NULL.

Accounts cannot import organizations (docs/architecture.md): organizations registers a
blocker here (an owner must transfer the organization first) from its ``hooks.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import (
    AccountDeletionRequest,
    ApiToken,
    CodePurpose,
    DeletionStatus,
    IdentityVerification,
    LockoutScope,
    OneTimeCode,
    SignInFailure,
    SignInLockout,
    SMSMessage,
    User,
)
from accounts.services.codes import check_code, consume_code
from accounts.services.lockout import identifier_digest
from dataprotection import anonymization
from dataprotection.anonymization import StageSpec
from dataprotection.audit import record_event
from dataprotection.models import AnonymizationJob, IdempotencyRecord, JobKind, JobStatus
from dataprotection.tasks import enqueue_drivers

Blocker = Callable[[object], list[str]]


_blockers: list[Blocker] = []


# The account row goes last, after every table that points at it.
ACCOUNT_PHASE = 9


def register_deletion_blocker(blocker: Blocker) -> None:
    if blocker not in _blockers:
        _blockers.append(blocker)


def deletion_blockers(user) -> list[str]:
    """Why ``user`` cannot delete their account now (empty when they can)."""
    return [reason for blocker in _blockers for reason in blocker(user)]


def plan_account_tables(job) -> list[StageSpec]:
    user = User.objects.filter(pk=job.subject_id).first()
    if user is None:
        return []
    # Planning runs in the transaction that starts the job: from now on it cannot be cancelled.
    AccountDeletionRequest.objects.filter(job_id=job.pk, status=DeletionStatus.RECEIVED).update(
        status=DeletionStatus.PROCESSING
    )
    identifiers = [identifier_digest(user.phone), identifier_digest(f"user:{user.pk}")]
    return [
        StageSpec(OneTimeCode._meta.label, {"user_id": user.pk}, phase=1),
        StageSpec(OneTimeCode._meta.label, {"phone": user.phone}, phase=1),
        StageSpec(SMSMessage._meta.label, {"phone": user.phone}, phase=1),
        StageSpec(IdentityVerification._meta.label, {"user_id": user.pk}, phase=1),
        StageSpec(ApiToken._meta.label, {"user_id": user.pk}, phase=1),
        StageSpec(IdempotencyRecord._meta.label, {"user_id": user.pk}, phase=1),
        StageSpec(SignInFailure._meta.label, {"identifier_digest__in": identifiers}, phase=1),
        StageSpec(SignInLockout._meta.label, {"scope": LockoutScope.ACCOUNT, "key_digest__in": identifiers}, phase=1),
        StageSpec("guardian.UserObjectPermission", {"user_id": user.pk}, phase=1),
        StageSpec("admin.LogEntry", {"user_id": user.pk}, phase=1),
        StageSpec(User._meta.label, {"pk": user.pk}, phase=ACCOUNT_PHASE),
    ]


def finish_account_deletion(job) -> None:
    AccountDeletionRequest.objects.filter(job_id=job.pk).update(status=DeletionStatus.COMPLETED)
    record_event("account.deleted", metadata={"job": job.pk}, actor_kind="system")


def request_account_deletion(user: User, *, code: str, reason: str = "", ip: str | None = None):
    """Record a re-verified request to delete the account (ACC-5) and schedule its
    cascade (ANON-3) after the cooling-off period. Refused while something stands in the
    way (an organization the person owns must be handed over first)."""
    blockers = deletion_blockers(user)
    if blockers:
        raise ValidationError(" ".join(blockers), code="blocked")
    otc = check_code(user.phone, CodePurpose.REVERIFY, code)
    with transaction.atomic():
        consume_code(otc)
        if AccountDeletionRequest.objects.filter(user=user, status__in=["received", "processing"]).exists():
            raise ValidationError(_("Your account deletion request is already being handled."), code="duplicate")
        now = timezone.now()
        grace = timedelta(days=settings.ACCOUNT_DELETION_GRACE_DAYS)
        job = anonymization.create_job(
            JobKind.ACCOUNT_DELETION, subject_id=user.pk, requested_by=user, not_before=now + grace
        )
        deletion = AccountDeletionRequest.objects.create(
            user=user, reason=reason, requested_at=now, verified_at=now, job_id=job.pk
        )
        record_event("account.deletion_requested", actor=user, subject=user, target=deletion, ip=ip)
        if not grace:
            enqueue_drivers(job.pk)
    return deletion


@transaction.atomic
def cancel_account_deletion(user: User, *, ip: str | None = None) -> bool:
    pending = AccountDeletionRequest.objects.filter(user=user, status=DeletionStatus.RECEIVED).first()
    if pending is None:
        return False
    # Compare-and-set on the job: once its cascade has started it cannot be stopped.
    if pending.job_id is not None and not AnonymizationJob.objects.filter(
        pk=pending.job_id, status=JobStatus.SCHEDULED
    ).update(status=JobStatus.CANCELLED, cancelled_at=timezone.now()):
        return False
    if not AccountDeletionRequest.objects.filter(pk=pending.pk, status=DeletionStatus.RECEIVED).update(
        status=DeletionStatus.CANCELLED
    ):
        return False
    record_event("account.deletion_cancelled", actor=user, subject=user, target=pending, ip=ip)
    return True
