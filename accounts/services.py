"""All writes about personal accounts (ACC-1 to ACC-5).

Each service is atomic, writes an audit event, and hands side effects (SMS delivery) to
``on_commit``. Checking a one-time code is the one deliberate exception: a wrong guess
is recorded in its own short transaction, so that a failed sign-up rolling back cannot
also roll back the attempt counter that limits guessing.
"""

from __future__ import annotations

import math
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts import lockout, signals
from accounts.deletion import deletion_blockers
from accounts.models import (
    AccountDeletionRequest,
    CodePurpose,
    DeletionStatus,
    IdentityVerification,
    OneTimeCode,
    SMSMessage,
    SMSStatus,
    User,
)
from accounts.profile_policy import locked_profile_fields
from accounts.tasks import deliver_sms
from dataprotection.audit import record_event
from dataprotection.crypto import keyed_hash
from dataprotection.identifiers import normalize_id_number

PROFILE_FIELDS = ("name", "nickname", "avatar", "gender", "birthday", "work_region", "company_email")


class CodeRejected(ValidationError):
    """A one-time code was wrong, expired, used, superseded or exhausted."""


class RateLimited(ValidationError):
    """Too many codes were requested for a number or from an address."""


def _code_digest(phone: str, purpose: str, code: str) -> str:
    return keyed_hash(f"{phone}:{purpose}:{code}", "accounts.one_time_code")


# --------------------------------------------------------------------------- codes


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
    (SEC-1, ``accounts.lockout``); the guess that locks raises ``LockedOut`` instead."""
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


# --------------------------------------------------------------------------- accounts


def register_user(
    *, phone: str, code: str, password: str, name: str = "", ip: str | None = None, language: str = ""
) -> User:
    """Create an account for a number proven by a code (ACC-1). No code, no account."""
    otc = check_code(phone, CodePurpose.REGISTER, code)
    try:
        with transaction.atomic():
            consume_code(otc)
            user = User.objects.create_user(phone=phone, password=password, name=name, preferred_language=language)
            record_event("account.registered", actor=user, subject=user, target=user, ip=ip)
    except IntegrityError:
        raise ValidationError(_("This number already has an account. Sign in instead."), code="exists") from None
    return user


def sign_in_with_code(*, phone: str, code: str, ip: str | None = None) -> User:
    """ACC-4 sign-in with an SMS code. SEC-1: refused with ``LockedOut`` while the number
    or the address is locked; wrong codes count toward the lockout (the view clears the
    count with ``lockout.record_success`` once the whole sign-in succeeded)."""
    lockout.ensure_not_locked(phone, ip)
    user = User.objects.filter(phone=phone, is_active=True).first()
    otc = check_code(phone, CodePurpose.SIGN_IN, code, count_toward_lockout=True, ip=ip)
    if user is None:
        raise CodeRejected(_("No active account uses this number. Register first."), code="no_account")
    with transaction.atomic():
        consume_code(otc)
        record_event("account.signed_in", actor=user, subject=user, target=user, ip=ip, metadata={"method": "sms"})
    # The failures are cleared when the sign-in completes (after a second factor, if any).
    return user


def reset_password(*, phone: str, code: str, new_password: str, ip: str | None = None) -> User:
    """ACC-4 password reset by SMS code, with the same lockout as signing in (SEC-1): a
    locked account cannot be taken over through the reset page either."""
    lockout.ensure_not_locked(phone, ip)
    otc = check_code(phone, CodePurpose.PASSWORD_RESET, code, count_toward_lockout=True, ip=ip)
    user = User.objects.filter(phone=phone, is_active=True).first()
    if user is None:
        raise CodeRejected(_("No active account uses this number."), code="no_account")
    with transaction.atomic():
        consume_code(otc)
        user.set_password(new_password)
        user.save(update_fields=["password"])
        record_event("account.password_reset", actor=user, subject=user, target=user, ip=ip)
    lockout.record_success(phone, ip)
    return user


def reauthenticate(user: User, password: str, *, ip: str | None = None) -> None:
    """SEC-1: the signed-in person proves again who they are before a dangerous action.
    A wrong password counts toward the lockout like a failed sign-in; a locked account
    cannot re-authenticate until the lock ends. The caller records the fresh proof in
    the session (``accounts.session_security.mark_authenticated``)."""
    lockout.ensure_not_locked(user.phone, ip)
    if not user.check_password(password):
        locked = lockout.record_failure(user.phone, ip, kind="password")
        if locked is not None:
            raise locked
        raise ValidationError(_("The password is wrong."), code="wrong_password")
    with transaction.atomic():
        lockout.record_success(user.phone, ip)
        record_event("account.reauthenticated", actor=user, subject=user, target=user, ip=ip)


@transaction.atomic
def update_profile(user: User, changes: dict, *, actor: User | None = None, ip: str | None = None) -> list[str]:
    """Correct or supplement profile fields (ACC-2). Returns the names of changed fields;
    the audit event lists names only, never the old or new values."""
    unknown = set(changes) - set(PROFILE_FIELDS) - {"preferred_language"}
    if unknown:
        raise ValueError(f"Not profile fields: {sorted(unknown)}")
    if actor is None or actor == user:
        locked = set(changes) & set(locked_profile_fields(user))
        if locked and any(getattr(user, field) != changes[field] for field in locked):
            raise ValidationError(
                _("Your organization provides these fields; ask its administrators to correct them: %(fields)s")
                % {"fields": ", ".join(sorted(locked))},
                code="locked",
            )
    changed = [field for field, value in changes.items() if getattr(user, field) != value]
    old_avatar = user.avatar.name if "avatar" in changed else None
    for field in changed:
        setattr(user, field, changes[field])
    if changed:
        user.save(update_fields=changed)
        record_event("profile.updated", actor=actor or user, subject=user, target=user, ip=ip, changes=changed)
        if old_avatar:
            storage = User._meta.get_field("avatar").storage
            transaction.on_commit(lambda: storage.delete(old_avatar))
    return changed


def remember_language(user: User, language: str, *, ip: str | None = None) -> bool:
    """The person switched the interface language while signed in: it becomes their
    preferred language, in which the portal writes to them from now on (SMS, answers
    written on the workers). Returns whether it changed; an unknown code is ignored."""
    if language not in dict(settings.LANGUAGES) or user.preferred_language == language:
        return False
    return bool(update_profile(user, {"preferred_language": language}, ip=ip))


@transaction.atomic
def submit_identity_verification(
    user: User, *, legal_name: str, id_number: str, explicit_consent: bool, ip: str | None = None
):
    """Record optional real-person authentication data, encrypted (ACC-3), only with the
    person's own explicit consent to this sensitive processing (CON-5), which the
    consent ledger records through ``sensitive_processing_consented``."""
    if not explicit_consent:
        raise ValidationError(
            _("Checking your identity needs your explicit consent to processing your ID number."),
            code="consent_required",
        )
    id_number = normalize_id_number(id_number)
    digest = keyed_hash(id_number, "accounts.identity.id_number")
    if IdentityVerification.objects.filter(id_number_digest=digest).exclude(user=user).exists():
        raise ValidationError(_("This ID number is already verified on another account."), code="taken")
    verification, _created = IdentityVerification.objects.update_or_create(
        user=user,
        defaults={
            "legal_name": legal_name.strip(),
            "id_number": id_number,
            "id_number_digest": digest,
            "status": "submitted",
            "submitted_at": timezone.now(),
        },
    )
    record_event(
        "identity.submitted", actor=user, subject=user, target=verification, ip=ip, changes=["legal_name", "id_number"]
    )
    signals.sensitive_processing_consented.send(User, user=user, purpose=signals.IDENTITY_CHECK, ip=ip)
    return verification


@transaction.atomic
def remove_identity_verification(user: User, *, ip: str | None = None) -> None:
    deleted, _details = IdentityVerification.objects.filter(user=user).delete()
    if deleted:
        record_event("identity.removed", actor=user, subject=user, target=user, ip=ip)
        signals.sensitive_processing_stopped.send(User, user=user, purpose=signals.IDENTITY_CHECK, ip=ip)


def request_account_deletion(user: User, *, code: str, reason: str = "", ip: str | None = None):
    """Record a re-verified request to delete the account (ACC-5) and schedule its
    cascade (ANON-3) after the cooling-off period. Refused while something stands in the
    way (an organization the person owns must be handed over first)."""
    from dataprotection import anonymization
    from dataprotection.models import JobKind

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
            from dataprotection.tasks import enqueue_drivers

            enqueue_drivers(job.pk)
    return deletion


@transaction.atomic
def cancel_account_deletion(user: User, *, ip: str | None = None) -> bool:
    from dataprotection.models import AnonymizationJob, JobStatus

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


# --------------------------------------------------------------------------- SMS outbox


def queue_sms(phone: str, body: str) -> SMSMessage:
    """Write one SMS to the outbox (body encrypted at rest) and hand its delivery to
    Celery once the surrounding transaction commits, so that a rolled-back write never
    sends a message. The single way any app sends an SMS."""
    message = SMSMessage.objects.create(phone=phone, body=body)
    deliver_sms.delay_on_commit(message.pk)
    return message


def claim_sms(message_id: int, token: str | None = None) -> SMSMessage | None:
    """Claim a pending message for delivery (compare-and-set, under the claim
    ``token``), or take over one whose previous worker stopped beating mid-send (its
    heartbeat is stale: ``dataprotection.liveness``). Returns ``None`` when there is
    nothing to do."""
    from dataprotection import liveness

    now = timezone.now()
    claimable = SMSMessage.objects.filter(
        Q(status=SMSStatus.PENDING) | Q(status=SMSStatus.SENDING) & liveness.no_live_worker(now),
        pk=message_id,
        attempts__lt=settings.SMS_DELIVERY_MAX_ATTEMPTS,
    )
    token = token or liveness.worker_token()
    if not claimable.update(status=SMSStatus.SENDING, worker=token, heartbeat_at=now, attempts=F("attempts") + 1):
        return None
    return SMSMessage.objects.get(pk=message_id)


def held_sms(message: SMSMessage):
    """The message while this delivery's claim holds."""
    return SMSMessage.objects.filter(pk=message.pk, status=SMSStatus.SENDING, worker=message.worker)


def give_back_sms(message_id: int, token: str) -> None:
    """After a database outage before the gateway was called: back to pending with
    the attempt (the outage was nobody's failure)."""
    SMSMessage.objects.filter(pk=message_id, status=SMSStatus.SENDING, worker=token).update(
        status=SMSStatus.PENDING, worker="", attempts=F("attempts") - 1
    )


def mark_sms_sent(message: SMSMessage) -> None:
    # The body is erased once delivered: the code must not outlive its purpose.
    held_sms(message).update(status=SMSStatus.SENT, sent_at=timezone.now(), body="", last_error="", worker="")


def mark_sms_failed(message: SMSMessage, error: str, *, final: bool, retry_in: float = 0) -> None:
    held_sms(message).update(
        status=SMSStatus.FAILED if final else SMSStatus.PENDING,
        last_error=error[:300],
        body="" if final else F("body"),
        worker="",
        next_attempt_at=None if final else timezone.now() + timezone.timedelta(seconds=retry_in),
    )


def sms_needing_a_worker(now=None):
    """Messages to deliver that no live worker holds (the recovery sweep's query):
    pending ones whose next attempt is due, a moment after their last sign of life (a
    fresh message's own task is on its way), and ``sending`` ones whose worker stopped
    beating."""
    from dataprotection import liveness

    now = now or timezone.now()
    return SMSMessage.objects.filter(
        Q(status=SMSStatus.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        | Q(status=SMSStatus.SENDING),
        attempts__lt=settings.SMS_DELIVERY_MAX_ATTEMPTS,
    ).filter(liveness.no_live_worker(now))


def resend_sms(message: SMSMessage) -> None:
    """The recovery sweep sends a message without a live deliverer."""
    deliver_sms.delay(message.pk)


def purge_spent_codes() -> tuple[int, int]:
    """Delete one-time codes and delivered messages that no longer serve any purpose:
    codes after a day (rate limits look back one hour), messages after delivery; and
    sign-in failures and ended lockouts after a day (SEC-1)."""
    now = timezone.now()
    codes, _details = OneTimeCode.objects.filter(created_at__lt=now - timezone.timedelta(days=1)).delete()
    messages, _details = SMSMessage.objects.filter(
        status__in=[SMSStatus.SENT, SMSStatus.FAILED], created_at__lt=now - timezone.timedelta(days=1)
    ).delete()
    lockout.purge_stale(now=now)  # SEC-1: sign-in failures and ended locks, after a day
    return codes, messages
