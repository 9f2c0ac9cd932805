"""Children's entries and third-party services (SEC-3, SVC-3): never in a member list;
one at a time only to a service the child's guardian agreed to."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from consent.models.sharing import Service
from dataprotection.personal_data import DELETE_ROW, SET_NULL, PersonalData


class ChildSharing(models.Model):
    """A child's guardian agreed that ``service`` may receive the child's roster entry,
    one entry at a time (``/provider/v1/members/<member_id>``), never in a list. It
    counts only while the guardian's consent it extends is in force (withdrawing that
    consent ends it); recorded by an administrator holding ``manage_services`` and
    ``view_children`` on the child."""

    guardian_consent = models.ForeignKey("organizations.GuardianConsent", on_delete=models.CASCADE, related_name="+")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("child's entry shared with a service")
        verbose_name_plural = _("children's entries shared with services")
        constraints = [
            models.UniqueConstraint(fields=["guardian_consent", "service"], name="one_child_sharing_per_service")
        ]

    def __str__(self) -> str:
        return f"{self.guardian_consent_id} → {self.service_id}"

    personal_data = PersonalData(
        subject="guardian_consent__member__user",
        row=DELETE_ROW,
        fields={"recorded_by": SET_NULL},
        non_personal={"id", "guardian_consent", "service", "recorded_at"},
    )
