"""One-time SMS codes (ACC-1): issuing, checking and using them.

Checking a code is the one deliberate exception to "one transaction per service": a
wrong guess is recorded in its own short transaction, so that a failed sign-up rolling
back cannot also roll back the attempt counter that limits guessing."""

from __future__ import annotations

import math
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import CodePurpose, OneTimeCode, User
from accounts.services import lockout
from accounts.services.sms import queue_sms
from dataprotection.crypto import keyed_hash


class CodeRejected(ValidationError):
    """A one-time code was wrong, expired, used, superseded or exhausted."""


class RateLimited(ValidationError):
    """Too many codes were requested for a number or from an address."""


def _code_digest(phone: str, purpose: str, code: str) -> str:
    return keyed_hash(f"{phone}:{purpose}:{code}", "accounts.one_time_code")


def _check_rate_limits(phone: str, purpose: str, ip: str | None, now) -> None:
    latest = OneTimeCode.objects.for_number(phone, purpose).order_by("-created_at").first()
    if latest is not None:
        wait = (latest.created_at + settings.SMS_CODE_RESEND_INTERVAL - now).total_seconds()
        if wait > 0:
            seconds = math.ceil(wait)
            raise RateLimited(
                ngettext(
                    "A code was just sent. Wait %(seconds)d second before asking for another.",
                    "A code was just sent. Wait %(seconds)d seconds before asking for another.",
                    seconds,
                )
                % {"seconds": seconds},
                code="resend_too_soon",
            )
    hour_ago = now - timezone.timedelta(hours=1)
    if OneTimeCode.objects.filter(phone=phone).sent_since(hour_ago).count() >= settings.SMS_CODES_PER_NUMBER_PER_HOUR:
        raise RateLimited(
            _("Too many codes were sent to this number in the last hour. Try again later."), code="number_rate"
        )
    if ip and OneTimeCode.objects.filter(requested_from=ip).sent_since(hour_ago).count() >= (
        settings.SMS_CODES_PER_IP_PER_HOUR
    ):
        raise RateLimited(
            _("Too many codes were requested from your network in the last hour. Try again later."), code="ip_rate"
        )


@transaction.atomic
def send_code(phone: str, purpose: str, *, ip: str | None = None, user: User | None = None) -> OneTimeCode:
    """Issue a fresh code for ``phone`` and queue the SMS that carries it (ACC-1)."""
    now = timezone.now()
    if purpose in (CodePurpose.SIGN_IN, CodePurpose.PASSWORD_RESET):
        lockout.ensure_not_locked(phone, ip)  # SEC-1: no codes for a locked account
    _check_rate_limits(phone, purpose, ip, now)
    code = f"{secrets.randbelow(1_000_000):06d}"
    otc = OneTimeCode.objects.create(
        phone=phone,
        purpose=purpose,
        code_hash=_code_digest(phone, purpose, code),
        created_at=now,
        expires_at=now + settings.SMS_CODE_TTL,
        requested_from=ip,
        user=user,
    )
    minutes = int(settings.SMS_CODE_TTL.total_seconds() // 60)
    body = _("[Custodia] Your %(purpose)s code is %(code)s. It expires in %(minutes)d minutes. Never share it.") % {
        "purpose": CodePurpose(purpose).label,
        "code": code,
        "minutes": minutes,
    }
    queue_sms(phone, body)
    return otc


def check_code(
    phone: str, purpose: str, code: str, *, count_toward_lockout: bool = False, ip: str | None = None
) -> OneTimeCode:
    """Return the usable code that ``code`` matches, or raise ``CodeRejected`` with a
    message that says exactly what is wrong. Wrong guesses are counted at once: against
    the code, and with ``count_toward_lockout`` also as sign-in failures of the number
    (SEC-1, ``accounts.services.lockout``); the guess that locks raises ``LockedOut`` instead."""
    now = timezone.now()
    code = (code or "").strip()
    recent = list(OneTimeCode.objects.for_number(phone, purpose).order_by("-created_at")[:10])
    if not recent:
        raise CodeRejected(_("No code was sent to this number. Ask for a code first."), code="no_code")
    latest = recent[0]
    digest = _code_digest(phone, purpose, code)
    max_attempts = settings.SMS_CODE_MAX_ATTEMPTS
    if latest.code_hash == digest:
        if latest.used_at is not None:
            raise CodeRejected(_("This code has already been used. Ask for a new code."), code="used")
        if latest.expires_at <= now:
            raise CodeRejected(_("This code has expired. Ask for a new code."), code="expired")
        if latest.failed_attempts >= max_attempts:
            raise CodeRejected(_("Too many wrong codes were entered. Ask for a new code."), code="exhausted")
        return latest
    for older in recent[1:]:
        if older.code_hash == digest:
            if older.used_at is not None:
                raise CodeRejected(_("This code has already been used. Ask for a new code."), code="used")
            raise CodeRejected(
                _("This code was replaced by a newer one. Enter the latest code you received."), code="superseded"
            )
    if latest.used_at is not None or latest.expires_at <= now:
        _count_wrong_guess(phone, ip, count_toward_lockout)
        raise CodeRejected(_("The code is wrong, and the last one sent has expired. Ask for a new code."), code="wrong")
    # durable: the guess must commit on its own. Nested in a caller's transaction it could
    # be rolled back with it, silently lifting the guess limit; refuse that loudly instead.
    with transaction.atomic(durable=True):
        OneTimeCode.objects.filter(pk=latest.pk).update(failed_attempts=F("failed_attempts") + 1)
    _count_wrong_guess(phone, ip, count_toward_lockout)
    remaining = max_attempts - latest.failed_attempts - 1
    if remaining <= 0:
        raise CodeRejected(_("Too many wrong codes were entered. Ask for a new code."), code="exhausted")
    raise CodeRejected(
        ngettext(
            "The code is wrong. %(n)d attempt left.",
            "The code is wrong. %(n)d attempts left.",
            remaining,
        )
        % {"n": remaining},
        code="wrong",
    )


def _count_wrong_guess(phone: str, ip: str | None, count_toward_lockout: bool) -> None:
    """SEC-1: a wrong sign-in or reset code is a failed proof of the number: it counts
    toward the lockout beside the per-code attempt cap (which a fresh code resets)."""
    if count_toward_lockout:
        locked = lockout.record_failure(phone, ip, kind="sms_code")
        if locked is not None:
            raise locked


def consume_code(otc: OneTimeCode) -> None:
    # Compare-and-set: of two concurrent submissions of one code, exactly one wins.
    if not OneTimeCode.objects.filter(pk=otc.pk, used_at__isnull=True).update(used_at=timezone.now()):
        raise CodeRejected(_("This code has already been used. Ask for a new code."), code="used")
