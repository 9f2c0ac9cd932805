"""Two-factor authentication (SEC-1): TOTP (RFC 6238) with single-use recovery codes.

This module holds the facts and the writes. The facts: who needs a second factor, whether a person has an
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
requirement provider from its ``hooks.py`` (``register_requirement_provider``) answering "does this person
administer an organization that needs a second factor?" with one query, used at sign-in
and on the personal security page only.

The writes: enable (TOTP plus recovery codes), replace the authenticator, regenerate
recovery codes, disable, and checking a code. Every change of a person's factors is
atomic, audited, and bumps ``User.security_stamp`` so that every other session of the
person ends (the caller keeps its own session with ``update_session_auth_hash``). Wrong
codes for an existing factor are counted by ``accounts.services.lockout`` per account
(``user:<pk>``) and per address.
"""

from __future__ import annotations

import time
from base64 import b32encode
from binascii import unhexlify
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from accounts.models import User
from accounts.services import lockout
from dataprotection.audit import record_event

VERIFIED_SESSION_KEY = "two_factor_verified"  # {"user": pk, "device": persistent id, "at": epoch seconds}


PENDING_SESSION_KEY = "two_factor_pending"  # signed: password or SMS code passed, second factor not yet


ENROLL_SECRET_SESSION_KEY = "two_factor_enroll_secret"  # the secret shown while enrolling


NEW_CODES_SESSION_KEY = "two_factor_new_codes"  # recovery codes shown until the person saved them


PENDING_SALT = "accounts.two_factor.pending"  # a signing salt: unchanged when the module moved


PENDING_MAX_AGE_SECONDS = 5 * 60


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
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


AUTHENTICATOR_NAME = "Authenticator app"


RECOVERY_NAME = "Recovery codes"


TOTP_DIGITS = 6


@dataclass(frozen=True)
class Status:
    """What the personal security page shows."""

    enabled: bool
    recovery_codes_left: int
    required: bool


def two_factor_status(user) -> Status:
    enabled = has_confirmed_device(user)
    left = StaticToken.objects.filter(device__user_id=user.pk, device__confirmed=True).count() if enabled else 0
    return Status(enabled=enabled, recovery_codes_left=left, required=second_factor_required(user))


def new_secret() -> str:
    """A fresh 160-bit TOTP key (hex, django-otp's storage format)."""
    return random_hex(20)


def group_secret(secret_hex: str) -> str:
    """The key in base32, in groups of four, for typing it into an app by hand."""
    encoded = b32encode(unhexlify(secret_hex)).decode()
    return " ".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def provisioning_device(user, secret_hex: str) -> TOTPDevice:
    """An unsaved device with ``secret_hex``, for its ``config_url`` (the QR code)."""
    return TOTPDevice(user=user, key=secret_hex, name=AUTHENTICATOR_NAME, confirmed=False)


def normalize_code(code: str) -> str:
    return "".join((code or "").split()).replace("-", "").lower()


def format_recovery_code(token: str) -> str:
    return f"{token[:4]}-{token[4:]}" if len(token) == 8 else token


def _is_totp(code: str) -> bool:
    return len(code) == TOTP_DIGITS and code.isdigit()


def _bump_security_stamp(user) -> None:
    """SEC-1: every other session of the person ends (the stamp is in the session hash)."""
    User.objects.filter(pk=user.pk).update(security_stamp=F("security_stamp") + 1)
    user.refresh_from_db(fields=["security_stamp"])


def _new_recovery_codes(user) -> list[str]:
    """Replace the person's recovery codes (single-use static tokens) with fresh ones."""
    StaticDevice.objects.filter(user_id=user.pk).delete()
    device = StaticDevice.objects.create(user_id=user.pk, name=RECOVERY_NAME, confirmed=True)
    tokens: set[str] = set()
    while len(tokens) < settings.TWO_FACTOR_RECOVERY_CODES:
        tokens.add(StaticToken.random_token())
    StaticToken.objects.bulk_create(StaticToken(device=device, token=token) for token in sorted(tokens))
    return [format_recovery_code(token) for token in sorted(tokens)]


def _wrong_code() -> ValidationError:
    return ValidationError(
        _("The code is wrong. Enter the current code of your app, or a recovery code."), code="wrong"
    )


def verify_second_factor(user, code: str, *, ip: str | None = None):
    """SEC-1: check a TOTP code (six digits) or a recovery code of ``user``. Returns the
    device that accepted it; a recovery code is used up. Raises ``lockout.LockedOut``
    when locked, ``ValidationError`` (code ``wrong`` or ``throttled``) otherwise."""
    identifier = f"user:{user.pk}"
    lockout.ensure_not_locked(identifier, ip)
    code = normalize_code(code)
    kind = "totp" if _is_totp(code) else "recovery_code"
    model = TOTPDevice if kind == "totp" else StaticDevice
    accepted = None
    with transaction.atomic():
        # The row lock serializes two submissions of one code: a TOTP code is accepted
        # once (``last_t``), a recovery code is deleted by the first.
        device = model.objects.select_for_update().filter(user_id=user.pk, confirmed=True).first()
        if device is not None:
            allowed, _info = device.verify_is_allowed()
            if not allowed:
                raise ValidationError(
                    _("Too many wrong codes in a row. Wait a few seconds, then try again."), code="throttled"
                )
            if code and device.verify_token(code):
                accepted = device
                record_event(
                    "two_factor.recovery_code_used" if kind == "recovery_code" else "two_factor.verified",
                    actor=user,
                    subject=user,
                    target=user,
                    ip=ip,
                    metadata={"factor": kind},
                )
    if accepted is None:
        # Counted after the transaction: a failure must stay counted.
        locked = lockout.record_failure(identifier, ip, kind=kind)
        raise locked if locked is not None else _wrong_code()  # the failure that locks says so at once
    return accepted


def _check_new_code(secret_hex: str, code: str) -> TOTP | None:
    code = normalize_code(code)
    if not _is_totp(code):
        return None
    totp = TOTP(unhexlify(secret_hex), step=30, t0=0, digits=TOTP_DIGITS, drift=0)
    totp.time = time.time()
    return totp if totp.verify(int(code), tolerance=1) else None


def enable_two_factor(
    user, *, secret: str, code: str, current_code: str = "", ip: str | None = None
) -> tuple[TOTPDevice, list[str]]:
    """SEC-1: confirm the authenticator set up with ``secret`` by one of its codes; the
    device counts only from here on. Returns the device and the new recovery codes (shown
    once). Replacing an existing authenticator needs a current code of the old factors."""
    replacing = has_confirmed_device(user)
    if replacing:
        if not normalize_code(current_code):
            raise ValidationError(
                {"current_code": _("Enter a current code of your old app, or a recovery code.")}, code="required"
            )
        try:
            verify_second_factor(user, current_code, ip=ip)
        except ValidationError as exc:
            raise ValidationError({"current_code": exc.messages}, code="wrong") from None
    totp = _check_new_code(secret, code)
    if totp is None:
        raise ValidationError(
            {"code": _("The code does not match. Check the time on your phone and enter the newest code.")},
            code="wrong",
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user_id=user.pk).delete()
        # The confirming code cannot be used again (last_t).
        device = TOTPDevice.objects.create(
            user_id=user.pk, name=AUTHENTICATOR_NAME, key=secret, confirmed=True, last_t=totp.t()
        )
        codes = _new_recovery_codes(user)
        _bump_security_stamp(user)
        record_event(
            "two_factor.replaced" if replacing else "two_factor.enabled", actor=user, subject=user, target=user, ip=ip
        )
    return device, codes


def regenerate_recovery_codes(user, *, code: str, ip: str | None = None) -> list[str]:
    """SEC-1: new recovery codes after a current code; the old ones stop working."""
    if not has_confirmed_device(user):
        raise ValidationError(_("Two-factor authentication is not on."), code="not_enabled")
    verify_second_factor(user, code, ip=ip)
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        _bump_security_stamp(user)
        record_event("two_factor.recovery_codes_regenerated", actor=user, subject=user, target=user, ip=ip)
    return codes


def disable_two_factor(user, *, code: str, ip: str | None = None) -> None:
    """SEC-1: members (and administrators whose organizations do not require it) turn
    the second factor off after a current code."""
    if second_factor_required(user):
        raise ValidationError(
            _("Your role requires two-factor authentication: it cannot be turned off."), code="required"
        )
    if not has_confirmed_device(user):
        raise ValidationError(_("Two-factor authentication is not on."), code="not_enabled")
    verify_second_factor(user, code, ip=ip)
    with transaction.atomic():
        TOTPDevice.objects.filter(user_id=user.pk).delete()
        StaticDevice.objects.filter(user_id=user.pk).delete()
        _bump_security_stamp(user)
        record_event("two_factor.disabled", actor=user, subject=user, target=user, ip=ip)
