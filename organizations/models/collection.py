"""Which optional roster fields an organization collects, and why (ORG-5)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from dataprotection.personal_data import (
    PersonalData,
)
from organizations.models.organization import Organization


class CollectionSetting(models.Model):
    """ORG-5: whether an organization collects one roster field, and why. A field that
    is off cannot be filled, imported or exported (see ``organizations.services.collection``)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="collection_settings")
    field = models.CharField(_("field"), max_length=40)
    enabled = models.BooleanField(_("collected"), default=False)
    purpose = models.CharField(_("purpose"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("collection setting")
        verbose_name_plural = _("collection settings")
        constraints = [models.UniqueConstraint(fields=["organization", "field"], name="one_setting_per_field")]

    def __str__(self) -> str:
        return f"{self.field}: {'on' if self.enabled else 'off'}"

    personal_data = PersonalData(
        subject=None,
        non_personal={"id", "organization", "field", "enabled", "purpose", "updated_at"},
    )
