"""The audit trail (SEC-2): append-only events about actions on personal data."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from dataprotection.personal_data import (
    ANONYMIZED,
    SERVICE_LOGS,
    SET_NULL,
    PersonalData,
    legal_hold,
    redact,
)


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):  # append-only: history is never rewritten in place
        raise TypeError("Audit events are append-only")

    def about(self, user) -> AuditEventQuerySet:
        return self.filter(subject_user=user)

    def in_organization(self, organization_id: int) -> AuditEventQuerySet:
        return self.filter(organization_id=organization_id)


class AuditEvent(models.Model):
    """One action by a person, staff member or the system on personal data.

    Rows are append-only (SEC-2): ``save`` refuses to update an existing event and the
    queryset refuses bulk updates. Values are never copied in; ``changes`` holds field
    names, so anonymizing a person does not leave their old values here.
    """

    occurred_at = models.DateTimeField(_("occurred at"), auto_now_add=True, db_index=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_kind = models.CharField(
        _("actor kind"),
        max_length=16,
        choices=[("person", _("person")), ("staff", _("operations staff")), ("system", _("system"))],
        default="person",
    )
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("data subject"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # A plain integer, not a foreign key: the trail must outlive a disbanded organization,
    # and this package depends on no app (docs/architecture.md).
    organization_id = models.BigIntegerField(_("organization"), null=True, blank=True)
    target_type = models.CharField(_("target type"), max_length=64, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    changes = models.JSONField(_("changed fields"), default=list, blank=True)
    metadata = models.JSONField(_("details"), default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["subject_user", "occurred_at"], name="audit_subject_time"),
            models.Index(fields=["organization_id", "occurred_at"], name="audit_org_time"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit events are append-only")

    personal_data = PersonalData(
        subject="subject_user",
        note="The trail is append-only and kept; the people in it are de-linked (SEC-2).",
        fields={
            "actor": SET_NULL,
            "subject_user": SET_NULL,
            "target_id": redact("", note="the id of the subject's own user or roster row links the event to them"),
            "ip_address": legal_hold(SERVICE_LOGS, after=SET_NULL),
            "changes": redact(ANONYMIZED, note="only personal values inside the JSON are replaced (issue 8)"),
            "metadata": redact(ANONYMIZED, note="only personal values inside the JSON are replaced (issue 8)"),
        },
        non_personal={"id", "occurred_at", "action", "actor_kind", "organization_id", "target_type"},
    )
