"""Proving who a person is (ACC-1, ACC-4, SEC-1): registering with a code, signing in
with a code, resetting the password, re-authenticating before a dangerous action."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import CodePurpose, User
from accounts.services import lockout
from accounts.services.codes import CodeRejected, check_code, consume_code
from dataprotection.audit import record_event


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
    the session (``accounts.assurance.mark_authenticated``)."""
    lockout.ensure_not_locked(user.phone, ip)
    if not user.check_password(password):
        locked = lockout.record_failure(user.phone, ip, kind="password")
        if locked is not None:
            raise locked
        raise ValidationError(_("The password is wrong."), code="wrong_password")
    with transaction.atomic():
        lockout.record_success(user.phone, ip)
        record_event("account.reauthenticated", actor=user, subject=user, target=user, ip=ip)
