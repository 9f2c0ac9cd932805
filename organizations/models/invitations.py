"""Invitations to join an organization (ORG-8)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.personal_data import (
    DELETE_ROW,
    REDACT_BLANK,
    SET_NULL,
    PersonalData,
)
from organizations.models.members import Member
from organizations.models.organization import Organization


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    REVOKED = "revoked", _("Revoked")


class Invitation(models.Model):
    """ORG-8: an invitation for a roster entry's person to join with their verified
    number. It shows the purpose, scope and use of the data the organization collects;
    the acceptance (with the exact text shown) is the member's consent record (ORG-6)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="invitations")
    token_digest = models.CharField(max_length=64, unique=True)
    message = models.TextField(_("invitation message"), blank=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    status = models.CharField(
        _("status"), max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    responded_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shown_terms = models.JSONField(_("terms shown"), default=dict, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=models.Q(status="pending"), name="one_pending_invitation_per_member"
            )
        ]

    def __str__(self) -> str:
        return f"{self.member} ({self.get_status_display()})"

    personal_data = PersonalData(
        subject="member__user",
        row=DELETE_ROW,
        fields={"message": REDACT_BLANK, "invited_by": SET_NULL, "accepted_by": SET_NULL},
        non_personal={
            "id",
            "organization",
            "member",
            "token_digest",
            "created_at",
            "expires_at",
            "status",
            "responded_at",
            "shown_terms",
        },
    )
