"""Spent sign-in material is deleted after a day (hourly, ``accounts.tasks.purge_spent_codes``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import OneTimeCode, SignInFailure, SignInLockout, SMSMessage, SMSStatus


def purge_spent_codes() -> tuple[int, int]:
    """Delete one-time codes and delivered messages that no longer serve any purpose:
    codes after a day (rate limits look back one hour), messages after delivery; and
    sign-in failures and ended lockouts after a day (SEC-1)."""
    now = timezone.now()
    codes, _details = OneTimeCode.objects.filter(created_at__lt=now - timezone.timedelta(days=1)).delete()
    messages, _details = SMSMessage.objects.filter(
        status__in=[SMSStatus.SENT, SMSStatus.FAILED], created_at__lt=now - timezone.timedelta(days=1)
    ).delete()
    purge_stale(now=now)  # SEC-1: sign-in failures and ended locks, after a day
    return codes, messages


# Rows are kept a day: long enough for any window and lock, short as personal data.
RETENTION = timedelta(days=1)


def purge_stale(*, now: datetime | None = None) -> int:
    """Delete failures and ended locks older than a day (hourly, from
    ``purge_spent_codes``). Returns the number of rows deleted."""
    now = now or timezone.now()
    keep = max(RETENTION, timedelta(seconds=settings.SIGN_IN_LOCKOUT_WINDOW_SECONDS))
    failures, _details = SignInFailure.objects.filter(occurred_at__lt=now - keep).delete()
    locks, _details = SignInLockout.objects.filter(locked_until__lt=now - RETENTION).delete()
    return failures + locks
