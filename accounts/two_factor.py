"""Two-factor authentication (SEC-1): TOTP (RFC 6238) with single-use recovery codes.

Who needs a second factor:
- operations staff, for the console (``/ops/``): this middleware redirects them;
- owners of any organization, and sub-administrators of an organization that requires
  it (``Organization.require_admin_two_factor``): the organization permission gate raises
  ``TwoFactorRequired``, which this middleware turns into a redirect (the REST API
  answers 403 with the exception's message);
- members may turn it on for themselves.

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
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.functional import SimpleLazyObject, empty
from django.utils.translation import gettext_lazy as _

from accounts.session_security import url_with_next

VERIFIED_SESSION_KEY = "two_factor_verified"  # {"user": pk, "device": persistent id, "at": epoch seconds}
PENDING_SESSION_KEY = "two_factor_pending"  # signed: password or SMS code passed, second factor not yet
ENROLL_SECRET_SESSION_KEY = "two_factor_enroll_secret"  # the secret shown while enrolling
NEW_CODES_SESSION_KEY = "two_factor_new_codes"  # recovery codes shown until the person saved them
PENDING_SALT = "accounts.two_factor.pending"
PENDING_MAX_AGE_SECONDS = 5 * 60


class TwoFactorRequired(PermissionDenied):
    """The page needs a verified second factor and this session has none (SEC-1).

    A ``PermissionDenied``: the REST API's error handler answers 403 with this message;
    HTML pages are redirected to enrollment or verification by the middleware."""

    def __init__(self, message=None):
        super().__init__(
            message
            or _(
                "Two-factor authentication is required for this. Verify your second factor in the browser first "
                "(or use an API token)."
            )
        )


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


def require_verified(user, *, required: bool) -> None:
    """Raise ``TwoFactorRequired`` when ``required`` and ``user`` came through this
    middleware without a verified second factor. Users loaded elsewhere (API tokens,
    Celery tasks, services acting for another person) carry no ``is_verified`` and are
    not affected: tokens are created from a verified session."""
    if not required:
        return
    is_verified = getattr(user, "is_verified", None)
    if callable(is_verified) and not is_verified():
        raise TwoFactorRequired


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
    _annotate(request, request.user)


def clear_verified(request) -> None:
    request.session.pop(VERIFIED_SESSION_KEY, None)
    _annotate(request, request.user)


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


# --------------------------------------------------------------------------- middleware


def _annotate(request, user):
    """django-otp's interface on the user: ``is_verified()`` from the session, no query."""
    session = getattr(request, "session", None)
    user.is_verified = lambda: is_verified(session, user)
    return user


def _resolve(user):
    """The object behind the lazy ``request.user`` of the middlewares before this one."""
    if isinstance(user, SimpleLazyObject):
        if user._wrapped is empty:
            user._setup()
        return user._wrapped
    return user


def redirect_to_second_factor(request, *, has_device: bool) -> HttpResponseRedirect:
    # Only a page that was read is returned to afterwards: a POST is never replayed.
    come_back_to = request.get_full_path() if request.method in ("GET", "HEAD") else ""
    return HttpResponseRedirect(
        url_with_next("accounts:two_factor_verify" if has_device else "accounts:two_factor_enroll", come_back_to)
    )


def has_confirmed_device(user) -> bool:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


class TwoFactorEnforcementMiddleware:
    """Gives ``request.user`` an ``is_verified()`` read from the session, sends unverified
    staff from the console to their second factor, and turns ``TwoFactorRequired`` into a
    redirect. It adds no query: the user is loaded lazily exactly as before."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._console: tuple[str, tuple[str, ...]] | None = None

    def _console_paths(self) -> tuple[str, tuple[str, ...]]:
        if self._console is None:
            self._console = (reverse("admin:index"), (reverse("admin:login"), reverse("admin:logout")))
        return self._console

    def __call__(self, request):
        if hasattr(request, "user"):
            original = request.user
            request.user = SimpleLazyObject(lambda: _annotate(request, _resolve(original)))
            console, exempt = self._console_paths()
            path = request.path_info
            if path.startswith(console) and not path.startswith(exempt):
                user = request.user
                if user.is_authenticated and user.is_staff and not user.is_verified():
                    return redirect_to_second_factor(request, has_device=has_confirmed_device(user))
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, TwoFactorRequired):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return redirect_to_second_factor(request, has_device=has_confirmed_device(user))
