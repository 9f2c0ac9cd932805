"""A person's privacy settings (CON-3, CON-4)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from dataprotection.personal_data import DELETE_ROW, PersonalData


class DevicePermission(models.TextChoices):
    """Device permissions client apps may use, each only while the person allows it."""

    LOCATION = "location", pgettext_lazy("device permission", "Location")
    CAMERA = "camera", _("Camera")
    PHOTOS = "photos", _("Photos")
    MICROPHONE = "microphone", _("Microphone")
    CONTACTS = "contacts", _("Contacts")
    CALENDAR = "calendar", _("Calendar")
    PHONE_STATE = "phone_state", _("Phone state")


class PrivacySettings(models.Model):
    """Settings that are not consents to a purpose but choices about how the person is
    found and what client apps may use. Absent row: every default (nothing allowed)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="privacy_settings")
    findable_by_phone = models.BooleanField(_("others can find me by my phone number"), default=False)
    discovery_digest = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text=_("Keyed hash of the phone number; set only while the person can be found by it (CON-4)."),
    )
    device_permissions = models.JSONField(_("device permissions"), default=list, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("privacy settings")
        verbose_name_plural = _("privacy settings")

    def __str__(self) -> str:
        return str(self.user)

    personal_data = PersonalData(
        subject="user",
        row=DELETE_ROW,
        fields={"user": DELETE_ROW, "discovery_digest": DELETE_ROW},
        non_personal={"id", "findable_by_phone", "device_permissions", "updated_at"},
    )
