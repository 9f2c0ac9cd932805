"""Brute-force protection (SEC-1): failures counted per account and per address.

Interface (implemented by the sign-in security work):

- ``ensure_not_locked(identifier: str, ip: str | None) -> None`` raises ``LockedOut``
  (a ValidationError with a clear message saying until when) when the account or the
  address is locked.
- ``record_failure(identifier: str, ip: str | None, *, kind: str) -> None`` counts one
  failure (kind: "password", "sms_code", "totp", "recovery_code"); the call that crosses the
  threshold locks and writes an audit event.
- ``record_success(identifier: str, ip: str | None) -> None`` clears the account's count.

``identifier`` is the normalized phone number for password and SMS sign-ins, and
``f"user:{user.pk}"`` for second-factor codes.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


class LockedOut(ValidationError):
    """Too many failures: the account or address is locked for a while."""


def ensure_not_locked(identifier: str, ip: str | None) -> None:
    return None


def record_failure(identifier: str, ip: str | None, *, kind: str) -> None:
    return None


def record_success(identifier: str, ip: str | None) -> None:
    return None
