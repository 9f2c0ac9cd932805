"""Access tokens for providers (SVC-3): one per grant or personal authorization, only
the SHA-256 digest stored, revoked at once when the grant closes.

A token is a bearer credential of 256 random bits, so an unkeyed SHA-256 digest is
enough to make a leaked table useless (unlike phone numbers, it cannot be guessed)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from consent.models.sharing import GrantStatus, ProviderToken
from dataprotection.audit import record_event

TOKEN_PREFIX = "cst_"
# Longer input is no token of ours: refuse it before hashing anything.
MAX_TOKEN_LENGTH = 200


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _one_of(grant, authorization) -> None:
    if (grant is None) == (authorization is None):
        raise ValueError("Pass exactly one of grant or authorization.")


@transaction.atomic
def issue_token(*, grant=None, authorization=None) -> tuple[str, ProviderToken]:
    """SVC-3: a new token for an open grant or a personal authorization. The raw value
    is returned once and never stored."""
    _one_of(grant, authorization)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    token = ProviderToken.objects.create(
        digest=token_digest(raw),
        prefix=raw[: ProviderToken._meta.get_field("prefix").max_length],
        grant=grant,
        authorization=authorization,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.PROVIDER_TOKEN_LIFETIME_SECONDS),
    )
    owner = grant if grant is not None else authorization
    record_event(
        "service.token_issued",
        target=token,
        organization=grant.organization_id if grant is not None else None,
        metadata={"service": owner.service_id, "expires_at": token.expires_at.isoformat()},
    )
    return raw, token


def revoke_tokens(*, grant=None, authorization=None) -> int:
    """SVC-3: every live token of the grant or authorization stops working at once (one
    UPDATE). Called inside the transaction that closes the grant."""
    _one_of(grant, authorization)
    tokens = ProviderToken.objects.filter(revoked_at__isnull=True)
    tokens = tokens.filter(grant=grant) if grant is not None else tokens.filter(authorization=authorization)
    return tokens.update(revoked_at=timezone.now())


def authenticate_token(raw: str) -> ProviderToken | None:
    """The live token behind ``raw``: not expired, not revoked, and its grant or
    authorization still active (one query, with the service and organization or person
    the API needs). ``None`` otherwise."""
    if not isinstance(raw, str) or not raw.startswith(TOKEN_PREFIX) or len(raw) > MAX_TOKEN_LENGTH:
        return None
    token = (
        ProviderToken.objects.select_related(
            "grant__service", "grant__organization", "authorization__service", "authorization__user"
        )
        .filter(digest=token_digest(raw), revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if token is None:
        return None
    owner = token.grant if token.grant_id is not None else token.authorization
    if owner is None or owner.status != GrantStatus.ACTIVE:
        return None
    return token


def touch_token(token: ProviderToken) -> None:
    """Remember when a provider last used the token (shown in the console)."""
    now = timezone.now()
    ProviderToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
