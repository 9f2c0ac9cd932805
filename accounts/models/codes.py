"""One-time SMS codes and the SMS outbox (ACC-1)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.fields import EncryptedTextField
from dataprotection.masking import mask_phone
from dataprotection.models import LiveJob
from dataprotection.personal_data import DELETE_ROW, REDACT_BLANK, PersonalData, redact


class CodePurpose(models.TextChoices):
    REGISTER = "register", _("registration")
    SIGN_IN = "sign_in", _("sign-in")
    PASSWORD_RESET = "password_reset", _("password reset")
    REVERIFY = "reverify", _("identity re-verification")


class OneTimeCodeQuerySet(models.QuerySet):
    def for_number(self, phone: str, purpose: str) -> OneTimeCodeQuerySet:
        return self.filter(phone=phone, purpose=purpose)

    def sent_since(self, since) -> OneTimeCodeQuerySet:
        return self.filter(created_at__gte=since)


class OneTimeCode(models.Model):
    """An SMS one-time code (ACC-1). Only a keyed hash of the code is stored; a code is
    good for ``SMS_CODE_TTL``, for one use, and for a limited number of wrong guesses."""

    phone = models.CharField(_("mobile number"), max_length=16)
    purpose = models.CharField(_("purpose"), max_length=20, choices=CodePurpose.choices)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(_("failed attempts"), default=0)
    requested_from = models.GenericIPAddressField(_("requested from"), null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    objects = OneTimeCodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        indexes = [
            models.Index(fields=["phone", "purpose", "created_at"], name="otc_phone_purpose_time"),
            models.Index(fields=["requested_from", "created_at"], name="otc_ip_time"),
            models.Index(fields=["created_at"], name="otc_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {mask_phone(self.phone)}"

    personal_data = PersonalData(
        subject="user",
        row=DELETE_ROW,
        fields={"phone": DELETE_ROW, "code_hash": DELETE_ROW, "requested_from": DELETE_ROW, "user": DELETE_ROW},
        non_personal={"id", "purpose", "created_at", "expires_at", "used_at", "failed_attempts"},
    )


class SMSStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")


class SMSMessage(LiveJob):
    """The SMS outbox. A message is written in the same transaction as the code it
    carries and delivered by a Celery task after commit; the body stays encrypted until
    delivery and is erased once sent, so codes never rest in plaintext. Liveness
    (``LiveJob``): a delivery is claimed in ``worker`` and beaten while the gateway
    call runs; ``next_attempt_at`` is when a failed delivery is due again."""

    phone = models.CharField(_("mobile number"), max_length=16)
    body = EncryptedTextField(_("body"), purpose="accounts.sms.body", blank=True)
    status = models.CharField(_("status"), max_length=10, choices=SMSStatus.choices, default=SMSStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("SMS message")
        verbose_name_plural = _("SMS messages")
        indexes = [models.Index(fields=["status", "created_at"], name="sms_status_created")]

    def __str__(self) -> str:
        return f"{mask_phone(self.phone)} ({self.get_status_display()})"

    personal_data = PersonalData(
        subject=None,
        row=DELETE_ROW,
        fields={
            "phone": DELETE_ROW,
            "body": REDACT_BLANK,
            "last_error": redact("", note="gateway errors can echo the number"),
        },
        non_personal={"id", "status", "attempts", "next_attempt_at", "created_at", "sent_at", *LiveJob.LIVENESS_FIELDS},
    )
