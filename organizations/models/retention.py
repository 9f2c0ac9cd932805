"""How long activity records are kept and the shutdown of a first-party service
(ANON-5, ANON-6)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.personal_data import SET_NULL, PersonalData
from organizations.models.organization import Organization


class RecordKind(models.TextChoices):
    """The organization's activity records, one per first-party service (SVC-1)."""

    ATTENDANCE = "attendance", _("Attendance punches")
    APPROVALS = "approvals", _("Approval records")
    WORK_LOGS = "work_logs", _("Work logs")
    SCHEDULE = "schedule", _("Schedule entries")
    DRIVE = "drive", _("Drive files")


# Each kind: the table and the field its age is counted from.
RECORD_TABLES = {
    RecordKind.ATTENDANCE: ("organizations.AttendancePunch", "punched_at"),
    RecordKind.APPROVALS: ("organizations.ApprovalRecord", "submitted_at"),
    RecordKind.WORK_LOGS: ("organizations.WorkLog", "day"),
    RecordKind.SCHEDULE: ("organizations.ScheduleEntry", "ends_at"),
    RecordKind.DRIVE: ("organizations.DriveFile", "uploaded_at"),
}


class RetentionSetting(models.Model):
    """ANON-5: how long an organization keeps one kind of activity record. Older records
    are anonymized (or deleted, as their declaration says) by the daily retention sweep.
    No row: kept as long as the organization exists."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="retention_settings")
    kind = models.CharField(_("records"), max_length=12, choices=RecordKind.choices)
    months = models.PositiveSmallIntegerField(_("kept for (months)"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("retention setting")
        verbose_name_plural = _("retention settings")
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind"], name="one_retention_setting_per_kind"),
            models.CheckConstraint(condition=models.Q(months__gte=1), name="retention_at_least_one_month"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.months}"

    personal_data = PersonalData(
        subject=None,
        fields={"updated_by": SET_NULL},
        non_personal={"id", "organization", "kind", "months", "updated_at"},
    )


class ShutdownStatus(models.TextChoices):
    ANNOUNCED = "announced", _("Announced")
    CANCELLED = "cancelled", _("Cancelled")
    RUNNING = "running", _("Erasing data")
    DONE = "done", _("Data erased")


class ServiceShutdown(models.Model):
    """ANON-6 (EN I end): a first-party service stops. It is announced to everyone at
    least ``SERVICE_SHUTDOWN_NOTICE_DAYS`` ahead; when it takes effect, the retention
    sweep anonymizes or deletes that service's records in every organization."""

    kind = models.CharField(_("service"), max_length=12, choices=RecordKind.choices)
    announcement = models.TextField(_("announcement"))
    announced_at = models.DateTimeField(_("announced at"), default=timezone.now)
    effective_at = models.DateTimeField(_("takes effect at"))
    status = models.CharField(
        _("status"), max_length=10, choices=ShutdownStatus.choices, default=ShutdownStatus.ANNOUNCED
    )
    announced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job_id = models.BigIntegerField(_("anonymization job"), null=True, blank=True)

    class Meta:
        verbose_name = _("service shutdown")
        verbose_name_plural = _("service shutdowns")
        ordering = ["effective_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=models.Q(status__in=["announced", "running"]),
                name="one_open_shutdown_per_service",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display()})"

    personal_data = PersonalData(
        subject=None,
        fields={"announced_by": SET_NULL},
        non_personal={"id", "kind", "announcement", "announced_at", "effective_at", "status", "job_id"},
    )
