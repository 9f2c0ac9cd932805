"""Session security (SEC-1, SEC-5): idle expiry and recent-authentication checks.

Idle expiry: ``SessionSecurityMiddleware`` keeps the time of the last request of a
signed-in session in the session itself (``LAST_ACTIVITY_KEY``, epoch seconds) and signs
the person out when more than ``SESSION_IDLE_TIMEOUT_SECONDS`` passed since. It reads
only the session that authentication loads anyway (no query of its own) and rewrites
the timestamp at most once a minute (``ACTIVITY_WRITE_INTERVAL``), so a session is not
saved on every request. Requests authenticated by an ``Authorization`` header (API and
provider tokens) are left alone.

Recent authentication: the time of the last proof of identity (``AUTH_AT_KEY``) is
stored at sign-in (the ``user_logged_in`` receiver below) and by the re-authentication
page (``accounts.views_reauth``). ``require_recent_auth`` sends a person whose proof is
older than ``REAUTH_MAX_AGE_SECONDS`` to that page before a dangerous action; a POST
with a stale proof is redirected too and its view never runs, so nothing is written.
"""

from __future__ import annotations

import time
from functools import wraps
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.contrib.messages import constants as message_levels
from django.contrib.messages.storage import default_storage
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext

LAST_ACTIVITY_KEY = "security_last_activity"  # epoch seconds of the last request, to the minute
AUTH_AT_KEY = "security_authenticated_at"  # epoch seconds of the last proof of identity
ACTIVITY_WRITE_INTERVAL = 60  # seconds: the timestamp is rewritten at most this often


def _now() -> int:
    return int(time.time())


# --------------------------------------------------------------------------- proof of identity


def mark_authenticated(request, *, now: int | None = None) -> None:
    """The person just proved who they are (sign-in, re-authentication, or a second
    factor): dangerous actions are allowed for ``REAUTH_MAX_AGE_SECONDS`` from now."""
    now = _now() if now is None else now
    request.session[AUTH_AT_KEY] = now
    request.session[LAST_ACTIVITY_KEY] = now


def stamp_sign_in(sender, request, user, **kwargs) -> None:
    """``user_logged_in``: the sign-in is the first proof of identity and the first
    activity of the session (stored in the session that ``login()`` saves anyway)."""
    if request is not None and hasattr(request, "session"):
        mark_authenticated(request)


user_logged_in.connect(stamp_sign_in, dispatch_uid="accounts.session_security.stamp_sign_in")


def authenticated_at(request) -> int | None:
    """Epoch seconds of the session's last proof of identity; None (stale) for a session
    without one, e.g. signed in before this release: it proves nothing recent."""
    stamp = request.session.get(AUTH_AT_KEY)
    return int(stamp) if stamp is not None else None


def has_recent_auth(request, *, now: int | None = None) -> bool:
    now = _now() if now is None else now
    proof = authenticated_at(request)
    return proof is not None and now - proof <= settings.REAUTH_MAX_AGE_SECONDS


def local_url(request, url: str) -> str:
    """``url`` when it points to this site (never an open redirect to another), else ""."""
    if not url or not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return ""
    return url


def same_site_path(request, url: str) -> str:
    """``url`` as a local path when it points to this site, else ""."""
    url = local_url(request, url)
    if not url:
        return ""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def url_with_next(view_name: str, next_url: str) -> str:
    """The page ``view_name``, carrying ``?next=next_url`` when there is one."""
    url = reverse(view_name)
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _come_back_to(request) -> str:
    """Where to return after signing in again: this page; for a POST (never replayed,
    and nothing was written) the page its form was on, else this path."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    return same_site_path(request, request.META.get("HTTP_REFERER", "")) or request.path


def reauthentication_url(request) -> str:
    """The re-authentication page, coming back afterwards (``_come_back_to``)."""
    return url_with_next("accounts:reauthenticate", _come_back_to(request))


def require_recent_auth(view):
    """View decorator (SEC-1): a dangerous action needs a proof of identity younger than
    ``REAUTH_MAX_AGE_SECONDS``; otherwise the person re-enters their password first.
    Put it under ``login_required``. Costs no query (session and user are loaded)."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if request.user.is_authenticated and not has_recent_auth(request):
            return HttpResponseRedirect(reauthentication_url(request))
        return view(request, *args, **kwargs)

    guarded.requires_recent_auth = True
    return guarded


# --------------------------------------------------------------------------- idle expiry


def _token_request(request) -> bool:
    # API and provider tokens authenticate each request on their own: no session to expire.
    return bool(request.META.get("HTTP_AUTHORIZATION"))


def _signed_out_response(request, idle_minutes: int):
    """Sign-in page with ``?next=`` and a message. The messages middleware runs after this
    one, so the message is written through the storage directly."""
    response = redirect_to_login(_come_back_to(request), settings.LOGIN_URL)
    storage = default_storage(request)
    storage.add(
        message_levels.INFO,
        ngettext(
            "You were signed out after %(minutes)d minute without activity. Sign in again to continue.",
            "You were signed out after %(minutes)d minutes without activity. Sign in again to continue.",
            idle_minutes,
        )
        % {"minutes": idle_minutes},
    )
    storage.update(response)
    return response


class SessionSecurityMiddleware:
    """Signs out a session idle for more than ``SESSION_IDLE_TIMEOUT_SECONDS`` (SEC-1)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if (
            session is None
            or _token_request(request)
            or settings.SESSION_COOKIE_NAME not in request.COOKIES
            or auth.SESSION_KEY not in session
        ):
            return self.get_response(request)
        now = _now()
        last = session.get(LAST_ACTIVITY_KEY)
        if last is not None and now - int(last) > settings.SESSION_IDLE_TIMEOUT_SECONDS:
            auth.logout(request)  # flushes the session: a new key, nothing of the old one
            return _signed_out_response(request, settings.SESSION_IDLE_TIMEOUT_SECONDS // 60)
        if last is not None and now - int(last) >= ACTIVITY_WRITE_INTERVAL:
            session[LAST_ACTIVITY_KEY] = now
        response = self.get_response(request)
        if last is None and session.modified and auth.SESSION_KEY in session:
            # A session from before the stamp (signed in before this release): stamp it
            # when it is saved anyway, never with a write of its own.
            session.setdefault(LAST_ACTIVITY_KEY, now)
        return response
