"""Which profile fields a person may not edit themselves, and why (ACC-6).

In an organization running the dedicated edition, a member's basic information is
provided by the organization and corrected through its administrators (ZH-DED 五(一)2).
Accounts cannot import organizations (docs/architecture.md), so organizations registers
a provider here from its ``AppConfig.ready()``; each provider maps field names to the
reason shown to the person.
"""

from __future__ import annotations

from collections.abc import Callable

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
