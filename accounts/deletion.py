"""Account deletion (ACC-5, ANON-3): what stands in its way, and the cascade's part that
belongs to accounts.

The person re-verifies and files the request (``services.request_account_deletion``);
an ``AnonymizationJob`` of kind ``account_deletion`` runs when the cooling-off period
(``ACCOUNT_DELETION_GRACE_DAYS``) ends. Each app plans its own tables: organizations
anonymizes the person's roster entries and activity records and removes their
administrator rows, the audit trail scrubs events about them, and accounts (here) removes
their codes, messages and real-person authentication and, last, the account row itself.
Django's collector then sets every remaining reference to the account to NULL.

Accounts cannot import organizations (docs/architecture.md): organizations registers a
blocker here (an owner must transfer the organization first) from its ``AppConfig``.
"""

from __future__ import annotations

from collections.abc import Callable

from dataprotection.anonymization import StageSpec
from dataprotection.audit import record_event

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
    from accounts.lockout import identifier_digest
    from accounts.models import (
        AccountDeletionRequest,
        ApiToken,
        DeletionStatus,
        IdempotencyRecord,
        IdentityVerification,
        LockoutScope,
        OneTimeCode,
        SignInFailure,
        SignInLockout,
        SMSMessage,
        User,
    )

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
    from accounts.models import AccountDeletionRequest, DeletionStatus

    AccountDeletionRequest.objects.filter(job_id=job.pk).update(status=DeletionStatus.COMPLETED)
    record_event("account.deleted", metadata={"job": job.pk}, actor_kind="system")


def register() -> None:
    from dataprotection.anonymization import register_kind
    from dataprotection.models import JobKind

    register_kind(JobKind.ACCOUNT_DELETION, plan_account_tables, finish_account_deletion)
