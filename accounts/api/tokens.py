"""Personal access tokens: creation, revocation and lookup. The secret is
``cst_`` + 40 random URL-safe characters, shown once; only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.assurance import Assurance
from accounts.models import ApiToken, TokenScope
from dataprotection.audit import record_event

TOKEN_PREFIX = "cst_"

# Whether a person administers an organization: ``check(user, organization_id) -> bool``.
# accounts cannot import organizations (docs/architecture.md), so organizations
# registers it in its AppConfig.ready; without it no token can be restricted.
_organization_checks: list[Callable[[object, int], bool]] = []


def register_organization_check(check: Callable[[object, int], bool]) -> None:
    if check not in _organization_checks:
        _organization_checks.append(check)


def administers(user, organization_id: int) -> bool:
    return bool(_organization_checks) and all(check(user, organization_id) for check in _organization_checks)


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def create_api_token(
    user,
    *,
    minted_by: Assurance,
    name: str,
    scope: str = TokenScope.READ,
    days: int | None = None,
    organization_id: int | None = None,
    ip: str | None = None,
) -> tuple[str, ApiToken]:
    """A new token for ``user``; returns the secret (shown once) and the row.

    SEC-1: ``minted_by`` is the assurance of the request that asks for it: only a session
    that passed the second factor where required and holds a fresh proof mints a token,
    and the token carries that assurance, so its reach never exceeds that session's."""
    if not minted_by.may_mint_tokens:
        raise PermissionDenied(
            _("Create tokens while signed in, with your second factor verified and a recent proof of identity.")
        )
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the token a name that says what uses it.")})
    if scope not in TokenScope.values:
        raise ValidationError({"scope": _("The scope is either read or write.")})
    days = settings.API_TOKEN_DEFAULT_DAYS if days is None else days
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ValidationError(
            {"days": _("A token lasts from 1 to %(max)d days.") % {"max": settings.API_TOKEN_MAX_DAYS}}
        )
    if organization_id is not None and not administers(user, organization_id):
        raise ValidationError(
            {"organization_id": _("You can only restrict a token to an organization you administer.")}
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(30)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=secret[:12],
        digest=digest_of(secret),
        scope=scope,
        organization_id=organization_id,
        expires_at=timezone.now() + timedelta(days=days),
        minted_with_second_factor=minted_by.second_factor,
        minted_with_fresh_proof=True,
    )
    record_event(
        "api_token.created",
        actor=user,
        subject=user,
        target=token,
        organization=organization_id,
        ip=ip,
        metadata={"scope": scope, "days": days, "second_factor": minted_by.second_factor},
    )
    return secret, token


@transaction.atomic
def revoke_api_token(token: ApiToken, *, actor, ip: str | None = None) -> bool:
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if revoked:
        record_event("api_token.revoked", actor=actor, subject=token.user, target=token, ip=ip)
    return bool(revoked)


def token_for(secret: str) -> ApiToken | None:
    """The usable token with this secret (one query), else ``None``."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = ApiToken.objects.select_related("user").filter(digest=digest_of(secret)).first()
    if token is None or not token.is_usable or not token.user.is_active:
        return None
    return token


def touch(token: ApiToken) -> None:
    """Record use at most once a minute: a busy integration must not write per call."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
