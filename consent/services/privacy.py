"""Writes of a person's privacy settings (CON-3, CON-4): being findable by phone
number and the device permissions client apps may use. Each is atomic and audited.
Consents themselves go through ``consent.services.ledger``."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from consent.models import DevicePermission, PrivacySettings
from consent.services.contact_matching import contact_digest
from dataprotection.audit import record_event


def privacy_settings_of(user: User) -> PrivacySettings:
    """The person's settings, or an unsaved row with every default (nothing allowed)."""
    return PrivacySettings.objects.filter(user=user).first() or PrivacySettings(user=user)


def _locked_settings(user: User) -> PrivacySettings:
    settings_row, _created = PrivacySettings.objects.select_for_update().get_or_create(user=user)
    return settings_row


@transaction.atomic
def set_findable_by_phone(user: User, findable: bool, *, ip: str | None = None) -> PrivacySettings:
    """CON-3, CON-4: turning it on stores the keyed hash of the person's number, which
    contact matching compares with; turning it off erases the hash, so nobody can find
    the person any more."""
    row = _locked_settings(user)
    if row.findable_by_phone == findable and bool(row.discovery_digest) == findable:
        return row
    row.findable_by_phone = findable
    row.discovery_digest = contact_digest(user.phone) if findable else ""
    row.updated_at = timezone.now()
    row.save(update_fields=["findable_by_phone", "discovery_digest", "updated_at"])
    record_event(
        "privacy.findable_by_phone_changed",
        actor=user,
        subject=user,
        target=row,
        ip=ip,
        changes=["findable_by_phone"],
        metadata={"findable_by_phone": findable},
    )
    return row


@transaction.atomic
def set_device_permissions(user: User, permissions: list[str], *, ip: str | None = None) -> PrivacySettings:
    """CON-3: the device permissions client apps may use; anything not listed is off."""
    unknown = sorted(set(permissions) - set(DevicePermission.values))
    if unknown:
        raise ValidationError(
            _("Unknown device permission: %(names)s."), code="unknown_permission", params={"names": ", ".join(unknown)}
        )
    chosen = [value for value in DevicePermission.values if value in set(permissions)]  # catalog order
    row = _locked_settings(user)
    if row.device_permissions == chosen:
        return row
    before = set(row.device_permissions)
    row.device_permissions = chosen
    row.updated_at = timezone.now()
    row.save(update_fields=["device_permissions", "updated_at"])
    record_event(
        "privacy.device_permissions_changed",
        actor=user,
        subject=user,
        target=row,
        ip=ip,
        changes=["device_permissions"],
        metadata={"allowed": sorted(set(chosen) - before), "revoked": sorted(before - set(chosen))},
    )
    return row
