"""A person's request to delete their account (ACC-5)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.personal_data import REDACT_BLANK, SET_NULL, PersonalData


class DeletionStatus(models.TextChoices):
    RECEIVED = "received", _("received")
    PROCESSING = "processing", _("processing")
    COMPLETED = "completed", _("completed")
    CANCELLED = "cancelled", _("cancelled")


class AccountDeletionRequest(models.Model):
    """A person's verified request to delete their account (ACC-5, EN V(IV)).

    It is recorded after the person re-verifies with a fresh SMS code; the cascade that
    deletes or anonymizes their data picks it up (ANON-3)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="deletion_requests"
    )
    status = models.CharField(
        _("status"), max_length=12, choices=DeletionStatus.choices, default=DeletionStatus.RECEIVED
    )
    reason = models.TextField(_("reason"), blank=True)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    verified_at = models.DateTimeField(_("identity verified at"))
    # The cascade that carries the request out (dataprotection.AnonymizationJob).
    job_id = models.BigIntegerField(_("anonymization job"), null=True, blank=True)

    class Meta:
        verbose_name = _("account deletion request")
        verbose_name_plural = _("account deletion requests")
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status__in=["received", "processing"]),
                name="one_open_deletion_request_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user or '-'} {self.get_status_display()}"

    personal_data = PersonalData(
        subject="user",
        note="Kept, de-linked, as the record that the request was honoured (ACC-5).",
        fields={"user": SET_NULL, "reason": REDACT_BLANK},
        non_personal={"id", "status", "requested_at", "verified_at", "job_id"},
    )
