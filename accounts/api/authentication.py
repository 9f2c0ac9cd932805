"""Authentication and scope for the API (issue 7)."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from accounts.api import tokens
from accounts.api.strict import INT64_MAX
from accounts.models import ApiToken, TokenScope


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
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


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
