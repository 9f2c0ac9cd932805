"""Brute-force protection (SEC-1): failures counted per account and per address.

Interface (implemented by the sign-in security work):

- ``ensure_not_locked(identifier: str, ip: str | None) -> None`` raises ``LockedOut``
  (a ValidationError with a clear message saying until when) when the account or the
  address is locked.
- ``record_failure(identifier: str, ip: str | None, *, kind: str) -> LockedOut | None``
  counts one failure (kind: "password", "sms_code", "totp", "recovery_code"); the call
  that crosses the threshold locks and writes an audit event. It returns the
  ``LockedOut`` error when the account or the address is locked after this failure, so
  the caller can say so at once without checking again.
- ``record_success(identifier: str, ip: str | None) -> None`` clears the account's count.

``identifier`` is the normalized phone number for password and SMS sign-ins, and
``f"user:{user.pk}"`` for second-factor codes.

Every function also takes a keyword-only ``now`` (tests freeze time with it).

How it works: each failure is one INSERT of a ``SignInFailure`` row holding keyed hashes
of the identifier and of the address (never the number). It commits on its own before the
failures in the sliding window (``SIGN_IN_LOCKOUT_WINDOW_SECONDS``) are counted, so of
two concurrent failures the later count sees both: none escapes counting. Failures from
before the end of a previous lock are not counted again. Crossing
``SIGN_IN_LOCKOUT_THRESHOLD`` for the identifier (``SIGN_IN_LOCKOUT_PER_ADDRESS_THRESHOLD``
for the address) creates or renews the one ``SignInLockout`` row of that key; its unique
constraint (or the compare-and-set that renews an ended lock) lets exactly one failure
lock, write the audit event and text the account's owner. The requester sees the same
message whether or not the number has an account; only a real account's owner gets the
SMS. Call these functions outside a transaction, so a failure is counted even when the
caller's work rolls back.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone, translation
from django.utils.translation import ngettext

from accounts.models import LockoutScope, SignInFailure, SignInLockout, User
from accounts.services.sms import queue_sms
from dataprotection.audit import record_event
from dataprotection.crypto import keyed_hash

KINDS = frozenset({"password", "sms_code", "totp", "recovery_code"})


IDENTIFIER_PURPOSE = "accounts.sign_in_lockout.identifier"


ADDRESS_PURPOSE = "accounts.sign_in_lockout.address"


class LockedOut(ValidationError):
    """Too many failures: the account or address is locked for a while."""


def identifier_digest(identifier: str) -> str:
    """The keyed hash stored instead of the identifier (also used by the account-deletion
    cascade to find a person's rows)."""
    return keyed_hash(identifier.strip(), IDENTIFIER_PURPOSE)


def address_digest(ip: str | None) -> str:
    return keyed_hash(ip, ADDRESS_PURPOSE) if ip else ""


def _keys(id_digest: str, ip_digest: str) -> Q:
    keys = Q(scope=LockoutScope.ACCOUNT, key_digest=id_digest)
    if ip_digest:
        keys |= Q(scope=LockoutScope.ADDRESS, key_digest=ip_digest)
    return keys


def _locked_out(lock: SignInLockout, now: datetime) -> LockedOut:
    minutes = max(1, math.ceil((lock.locked_until - now).total_seconds() / 60))
    if lock.scope == LockoutScope.ADDRESS:
        message = ngettext(
            "Too many failed attempts from your network. Sign-in is paused for security; try again in %(minutes)d "
            "minute.",
            "Too many failed attempts from your network. Sign-in is paused for security; try again in %(minutes)d "
            "minutes.",
            minutes,
        )
    else:
        # The same words whether or not the number has an account: nothing is revealed.
        message = ngettext(
            "Too many failed attempts. This account is locked for security; try again in %(minutes)d minute.",
            "Too many failed attempts. This account is locked for security; try again in %(minutes)d minutes.",
            minutes,
        )
    return LockedOut(message % {"minutes": minutes}, code="locked_out")


def ensure_not_locked(identifier: str, ip: str | None, *, now: datetime | None = None) -> None:
    """Raise ``LockedOut`` while the account or the address is locked (one query)."""
    now = now or timezone.now()
    lock = (
        SignInLockout.objects.filter(_keys(identifier_digest(identifier), address_digest(ip)), locked_until__gt=now)
        .order_by("-locked_until")
        .first()
    )
    if lock is not None:
        raise _locked_out(lock, now)


def record_failure(identifier: str, ip: str | None, *, kind: str, now: datetime | None = None) -> LockedOut | None:
    """Count one failure; the failure that crosses a threshold locks (see the module).
    Returns the ``LockedOut`` error when the account or the address is locked after this
    failure (so a caller can say so at once), else None."""
    if kind not in KINDS:
        raise ValueError(f"Unknown failure kind {kind!r}")
    now = now or timezone.now()
    id_digest, ip_digest = identifier_digest(identifier), address_digest(ip)
    with transaction.atomic():
        SignInFailure.objects.create(identifier_digest=id_digest, address_digest=ip_digest, kind=kind, occurred_at=now)

    locks = {lock.scope: lock for lock in SignInLockout.objects.filter(_keys(id_digest, ip_digest))}
    window_start = now - timedelta(seconds=settings.SIGN_IN_LOCKOUT_WINDOW_SECONDS)

    def since(scope: str) -> datetime:
        lock = locks.get(scope)
        # Failures up to the end of the last lock were already punished.
        return max(window_start, lock.locked_until) if lock else window_start

    in_account = Q(identifier_digest=id_digest, occurred_at__gte=since(LockoutScope.ACCOUNT))
    in_address = Q(address_digest=ip_digest, occurred_at__gte=since(LockoutScope.ADDRESS)) if ip_digest else Q(pk=None)
    # No upper bound on the time: a concurrent failure stamped a moment later counts too.
    counts = SignInFailure.objects.filter(in_account | in_address).aggregate(
        account=Count("pk", filter=in_account), address=Count("pk", filter=in_address)
    )
    if counts["account"] >= settings.SIGN_IN_LOCKOUT_THRESHOLD:
        _lock(LockoutScope.ACCOUNT, id_digest, now, identifier=identifier, ip=ip, kind=kind, count=counts["account"])
    if ip_digest and counts["address"] >= settings.SIGN_IN_LOCKOUT_PER_ADDRESS_THRESHOLD:
        _lock(LockoutScope.ADDRESS, ip_digest, now, identifier=identifier, ip=ip, kind=kind, count=counts["address"])
    try:
        ensure_not_locked(identifier, ip, now=now)
    except LockedOut as exc:
        return exc
    return None


def _account_owner(identifier: str) -> User | None:
    if identifier.startswith("user:"):
        pk = identifier.removeprefix("user:")
        return User.objects.filter(pk=int(pk), is_active=True).first() if pk.isdigit() else None
    return User.objects.filter(phone=identifier, is_active=True).first()


@transaction.atomic
def _lock(scope: str, key: str, now: datetime, *, identifier: str, ip: str | None, kind: str, count: int) -> bool:
    """Lock ``key`` unless another failure already did; True when this call locked."""
    until = now + timedelta(seconds=settings.SIGN_IN_LOCKOUT_SECONDS)
    try:
        with transaction.atomic():
            SignInLockout.objects.create(scope=scope, key_digest=key, locked_at=now, locked_until=until)
    except IntegrityError:
        # The key was locked before: renew the lock only if it has ended (compare-and-set).
        if not SignInLockout.objects.filter(scope=scope, key_digest=key, locked_until__lte=now).update(
            locked_at=now, locked_until=until
        ):
            return False
    minutes = math.ceil(settings.SIGN_IN_LOCKOUT_SECONDS / 60)
    metadata = {"scope": scope, "kind": kind, "failures": count, "minutes": minutes}
    if scope == LockoutScope.ADDRESS:
        record_event("sign_in.address_locked", ip=ip, metadata=metadata, actor_kind="system")
        return True
    owner = _account_owner(identifier)
    record_event("account.locked_out", subject=owner, target=owner, ip=ip, metadata=metadata, actor_kind="system")
    if owner is not None:
        with translation.override(owner.preferred_language or settings.LANGUAGE_CODE):
            body = ngettext(
                "[Custodia] After repeated failed sign-in attempts, your account is locked for %(minutes)d minute. "
                "If this was not you, change your password once the lock ends.",
                "[Custodia] After repeated failed sign-in attempts, your account is locked for %(minutes)d minutes. "
                "If this was not you, change your password once the lock ends.",
                minutes,
            ) % {"minutes": minutes}
        queue_sms(owner.phone, body)
    return True


def record_success(identifier: str, ip: str | None, *, now: datetime | None = None) -> None:
    """A proof succeeded: the account's failures (and its ended lock) are cleared. The
    address keeps its count: one good account must not hide guessing at others."""
    now = now or timezone.now()
    id_digest = identifier_digest(identifier)
    # De-linked from the account, not deleted: they still count for the address.
    SignInFailure.objects.filter(identifier_digest=id_digest).update(identifier_digest="")
    SignInLockout.objects.filter(scope=LockoutScope.ACCOUNT, key_digest=id_digest, locked_until__lte=now).delete()
