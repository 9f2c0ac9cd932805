"""Two-factor authentication (SEC-1): TOTP (RFC 6238) with single-use recovery codes.

This module holds the facts: who needs a second factor, whether a person has an
authenticator, whether a session passed it, and the signed pending state between the
first and the second step of signing in. What a session may reach without it is decided
by the sign-in assurance policy (``accounts.assurance``), for every channel.

Who needs a second factor:
- operations staff, always;
- owners of any organization, and sub-administrators of an organization that requires
  it (``Organization.require_admin_two_factor``);
- anyone who enrolled an authenticator (members may).

Zero queries per request: whether the session passed the second factor lives in the
session itself (``VERIFIED_SESSION_KEY``: the device's persistent id and when). When the
person's factors change, ``User.security_stamp`` is bumped, which is part of the session
hash, so every *other* session ends on its next request without any lookup here.

Accounts cannot import organizations (docs/architecture.md): organizations registers a
requirement provider (``register_requirement_provider``) answering "does this person
administer an organization that needs a second factor?" with one query, used at sign-in
and on the personal security page only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.core import signing

VERIFIED_SESSION_KEY = "two_factor_verified"  # {"user": pk, "device": persistent id, "at": epoch seconds}
PENDING_SESSION_KEY = "two_factor_pending"  # signed: password or SMS code passed, second factor not yet
ENROLL_SECRET_SESSION_KEY = "two_factor_enroll_secret"  # the secret shown while enrolling
NEW_CODES_SESSION_KEY = "two_factor_new_codes"  # recovery codes shown until the person saved them
PENDING_SALT = "accounts.two_factor.pending"
PENDING_MAX_AGE_SECONDS = 5 * 60


# --------------------------------------------------------------------------- requirement

Provider = Callable[[object], bool]
_providers: list[Provider] = []


def register_requirement_provider(provider: Provider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def second_factor_required(user) -> bool:
    """SEC-1: staff always; administrators as the registered providers say (one query)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_staff) or any(provider(user) for provider in _providers)


# --------------------------------------------------------------------------- session state


def is_verified(session, user) -> bool:
    state = session.get(VERIFIED_SESSION_KEY) if session is not None else None
    return bool(state) and getattr(user, "pk", None) is not None and state.get("user") == user.pk


def mark_verified(request, device) -> None:
    """This session passed ``device`` (call after ``login()``, which may flush the session)."""
    request.session[VERIFIED_SESSION_KEY] = {
        "user": device.user_id,
        "device": device.persistent_id,
        "at": int(time.time()),
    }


def clear_verified(request) -> None:
    request.session.pop(VERIFIED_SESSION_KEY, None)


@dataclass(frozen=True)
class PendingSignIn:
    user_id: int
    stamp: int
    next: str
    method: str


def begin_pending_sign_in(request, user, *, next_url: str, method: str) -> None:
    """The first factor passed; the person is not signed in until the second one does."""
    request.session[PENDING_SESSION_KEY] = signing.dumps(
        {"user": user.pk, "stamp": user.security_stamp, "next": next_url, "method": method}, salt=PENDING_SALT
    )


def pending_sign_in(request) -> PendingSignIn | None:
    """The pending sign-in, or None when there is none or it is older than five minutes."""
    value = request.session.get(PENDING_SESSION_KEY)
    if not value:
        return None
    try:
        data = signing.loads(value, salt=PENDING_SALT, max_age=PENDING_MAX_AGE_SECONDS)
    except signing.BadSignature:
        request.session.pop(PENDING_SESSION_KEY, None)
        return None
    return PendingSignIn(user_id=data["user"], stamp=data["stamp"], next=data["next"], method=data["method"])


def end_pending_sign_in(request) -> None:
    request.session.pop(PENDING_SESSION_KEY, None)


def has_confirmed_device(user) -> bool:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()
