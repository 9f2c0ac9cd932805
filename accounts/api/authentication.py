"""Authentication, sign-in assurance and scope for the API.

One DRF pair carries the sign-in assurance policy (SEC-1, ``accounts.assurance``) to
every endpoint: the two authentication classes attach the caller's ``Assurance`` (a
bearer token's from its minting, a session's from the session), and
``AssurancePermission`` asks the policy. Nothing else in the API re-implements it."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from accounts import assurance
from accounts.api import tokens
from accounts.models import ApiToken, TokenScope
from dataprotection.api.strict import INT64_MAX


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer cst_…``. A wrong, expired or revoked token is a 401
    with a clear message, never a silent fall-back to anonymous."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1", "replace")
        if not header:
            return None
        kind, _sep, secret = header.partition(" ")
        if kind != self.keyword:
            return None
        token = tokens.token_for(secret.strip())
        if token is None:
            raise exceptions.AuthenticationFailed(_("The token is unknown, expired or revoked."))
        tokens.touch(token)
        user = token.user
        user.assurance = assurance.token_assurance(token)  # never more than the session that minted it
        return user, token

    def authenticate_header(self, request):
        return self.keyword


class AssuranceRefused(assurance.NamesWhatIsMissing, exceptions.PermissionDenied):
    """403 naming what the caller's sign-in lacks (``missing``: an ``assurance.Missing``)."""

    CODES = {
        assurance.Missing.SECOND_FACTOR: "second_factor_required",
        assurance.Missing.FRESH_PROOF: "fresh_proof_required",
        assurance.Missing.SESSION: "session_required",
    }

    def __init__(self, missing: assurance.Missing, detail: str):
        self.missing = missing
        super().__init__(detail, code=self.CODES[missing])


class SessionExpired(assurance.NamesWhatIsMissing, exceptions.AuthenticationFailed):
    missing = assurance.Missing.SIGN_IN
    default_code = "session_expired"


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser session, exactly as the pages see it: the user comes with the
    assurance ``AssuranceMiddleware`` gave it, and a session that the policy has just
    signed out for being idle is a 401 saying so (not a silent anonymous request)."""

    def authenticate(self, request):
        django_request = request._request
        if getattr(django_request, "session_ended", False) and (
            getattr(django_request, "assurance_area", None) == assurance.Area.API
        ):
            minutes = settings.SESSION_IDLE_TIMEOUT_SECONDS // 60
            raise SessionExpired(
                _("Your session ended after %(minutes)d minutes without activity. Sign in again.")
                % {"minutes": minutes}
            )
        return super().authenticate(request)


def _refusal_message(missing: assurance.Missing, current: assurance.Assurance) -> str:
    token = current.channel == assurance.Channel.TOKEN
    if missing == assurance.Missing.SECOND_FACTOR:
        return str(assurance.second_factor_message(current))
    if missing == assurance.Missing.SESSION:
        return _("Create tokens while signed in, not with another token.")
    if token:
        return _(
            "This token was created without a recent proof of identity, so it cannot do this. "
            "Create a new token (it carries the proof of the session that creates it)."
        )
    return _(
        "This needs a recent proof of identity: confirm your password at %(url)s (your last proof is older "
        "than %(minutes)d minutes), then try again."
    ) % {"url": reverse("accounts:reauthenticate"), "minutes": settings.REAUTH_MAX_AGE_SECONDS // 60}


class AssurancePermission(permissions.BasePermission):
    """SEC-1: the sign-in assurance policy for every endpoint (second factor where
    required, a fresh proof for sensitive actions, tokens minted only by sessions)."""

    def has_permission(self, request, view) -> bool:
        current = getattr(request.user, "assurance", assurance.ANONYMOUS)
        action = assurance.sensitive_action(request._request.resolver_match, request.method)
        missing = assurance.refusal(current, assurance.Area.API, action)
        if missing is not None:
            raise AssuranceRefused(missing, _refusal_message(missing, current))
        return True


class TokenScopePermission(permissions.BasePermission):
    """A read-only token reads; writing needs a write token. Sessions (the browser)
    are not limited here: the permission gate decides for them."""

    # Lazy: a class attribute is read per request, in the caller's language.
    message = gettext_lazy("This token can only read; create a token with the write scope.")

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken) or request.method in permissions.SAFE_METHODS:
            return True
        return token.scope == TokenScope.WRITE


class PathIdsInRange(permissions.BasePermission):
    """An id in the URL beyond the database's 64-bit integers names nothing: 404 before
    any view queries it (``<int:…>`` takes any digits; SQLite raises OverflowError on a
    foreign-key lookup with such a number, which would be a 500)."""

    def has_permission(self, request, view) -> bool:
        for value in (getattr(view, "kwargs", None) or {}).values():
            if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= INT64_MAX:
                raise exceptions.NotFound
        return True


def require_token_organization(request, organization_id: int) -> None:
    """A token restricted to one organization reaches nothing of another one: 404,
    as for anything out of scope (rule 2)."""
    token = request.auth
    if isinstance(token, ApiToken) and token.organization_id is not None and token.organization_id != organization_id:
        raise Http404


def token_is_personal(request) -> bool:
    """Whether a personal endpoint (a person's own consents, requests) may answer: an
    organization's integration token may not act as the person."""
    token = request.auth
    return not (isinstance(token, ApiToken) and token.organization_id is not None)


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema documents the token (drf-spectacular finds subclasses)."""

    target_class = "accounts.api.authentication.ApiTokenAuthentication"
    name = "personalAccessToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal access token (cst_…) created on the profile page or at /api/v1/tokens/.",
        }


class AssuredSessionScheme(SessionScheme):
    """The session cookie in the OpenAPI schema, as for DRF's own session class."""

    target_class = "accounts.api.authentication.SessionAuthentication"
