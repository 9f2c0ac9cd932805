"""Real-person (identity) verification (ACC-3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.fields import EncryptedTextField
from dataprotection.personal_data import DELETE_ROW, REDACT_BLANK, PersonalData


class VerificationStatus(models.TextChoices):
    SUBMITTED = "submitted", _("submitted")
    VERIFIED = "verified", _("verified")
    REJECTED = "rejected", _("rejected")


class IdentityVerification(models.Model):
    """Optional real-person authentication (ACC-3). The legal name and ID number are
    sensitive: encrypted at rest, with a keyed hash of the ID number so that one identity
    cannot be claimed by two accounts without the number ever being stored in clear."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identity_verification"
    )
    legal_name = EncryptedTextField(_("legal name"), purpose="accounts.identity.legal_name")
    id_number = EncryptedTextField(_("ID card number"), purpose="accounts.identity.id_number")
    id_number_digest = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=VerificationStatus.choices, default=VerificationStatus.SUBMITTED
    )
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)

    class Meta:
        verbose_name = _("real-person authentication")
        verbose_name_plural = _("real-person authentications")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_status_display()})"

    personal_data = PersonalData(
        subject="user",
        row=DELETE_ROW,
        fields={
            "user": DELETE_ROW,
            "legal_name": REDACT_BLANK,
            "id_number": REDACT_BLANK,
            "id_number_digest": DELETE_ROW,
        },
        non_personal={"id", "status", "submitted_at"},
    )
