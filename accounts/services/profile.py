"""The person's profile (ACC-2, ACC-6): corrections, the remembered language, and which
fields the person may not edit themselves.

Which profile fields a person may not edit themselves, and why (ACC-6).

In an organization running the dedicated edition, a member's basic information is
provided by the organization and corrected through its administrators (ZH-DED 五(一)2).
Accounts cannot import organizations (docs/architecture.md), so organizations registers
a provider here from its ``hooks.py``; each provider maps field names to the
reason shown to the person.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from dataprotection.audit import record_event

PROFILE_FIELDS = ("name", "nickname", "avatar", "gender", "birthday", "work_region", "company_email")


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


Provider = Callable[[object], dict[str, str]]


_providers: list[Provider] = []


def register_locked_fields_provider(provider: Provider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def locked_profile_fields(user) -> dict[str, str]:
    locked: dict[str, str] = {}
    for provider in _providers:
        for field, reason in provider(user).items():
            locked.setdefault(field, reason)
    return locked
