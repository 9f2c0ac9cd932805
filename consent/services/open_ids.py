"""The identifiers a provider sees (SVC-2 "user ID"): a keyed pseudonym per service,
so two providers cannot join their data on a common ID and a provider never learns
our internal keys. Deletion notices name people and organizations by these IDs."""

from __future__ import annotations

from dataprotection.crypto import keyed_hash


def user_open_id(service_code: str, user_id: int) -> str:
    return keyed_hash(f"{service_code}:user:{user_id}", "consent.open_id")[:32]


def member_open_id(service_code: str, member_id: int) -> str:
    """Roster entries without an account still need a stable ID at the provider."""
    return keyed_hash(f"{service_code}:member:{member_id}", "consent.open_id")[:32]


def organization_open_id(service_code: str, organization_id: int) -> str:
    return keyed_hash(f"{service_code}:organization:{organization_id}", "consent.open_id")[:32]
