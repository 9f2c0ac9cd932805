"""Roster imports and the consent attestations of uploads (ORG-6, ORG-7)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.models import LiveJob
from dataprotection.personal_data import (
    ERASE_FILE,
    REDACT_BLANK,
    REDACT_TEXT,
    SET_NULL,
    PersonalData,
    redact,
)
from organizations.models.organization import Organization


class AttestationKind(models.TextChoices):
    IMPORT = "import", _("Roster import")
    MANUAL = "manual", _("Manual entry")
    API = "api", _("Integration upload")


class UploadAttestation(models.Model):
    """ORG-6 (EN I(II)4): before an administrator uploads roster data, the organization
    attests that the members' explicit consent was obtained. One row per upload."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="attestations")
    attested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(_("kind"), max_length=8, choices=AttestationKind.choices)
    text = models.TextField(_("attestation text"))
    fields = models.JSONField(_("fields uploaded"), default=list)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    attested_at = models.DateTimeField(_("attested at"), default=timezone.now)

    class Meta:
        verbose_name = _("upload attestation")
        verbose_name_plural = _("upload attestations")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.attested_at:%Y-%m-%d}"

    personal_data = PersonalData(
        subject=None,
        note="The organization's attestation (ORG-6): its wording and field list, not roster values.",
        fields={"attested_by": SET_NULL},
        non_personal={"id", "organization", "kind", "text", "fields", "rows", "attested_at"},
    )


class ImportStatus(models.TextChoices):
    VALIDATING = "validating", _("Checking rows")
    VALIDATED = "validated", _("Checked, waiting for your decision")
    IMPORTING = "importing", _("Importing")
    COMPLETED = "completed", _("Imported")
    FAILED = "failed", _("Failed")
    DISCARDED = "discarded", _("Discarded")


class ImportMode(models.TextChoices):
    ALL_ROWS = "all", _("All rows (only when every row is valid)")
    VALID_ONLY = "valid_only", _("Only the valid rows")


class RosterImport(LiveJob):
    """A roster file import (ORG-7): a job row the page polls. The file is validated in
    full first; nothing is written to the roster until the administrator chooses to
    import, and then either every row or, explicitly, only the valid ones. The uploaded
    file and the error report are stored encrypted in private storage.

    Liveness (``LiveJob``): the check, the merge and the write are claimed in ``worker``
    and beaten while they run; the parts of a large file's check all beat the row.
    ``language``: the uploader's language when they last acted, in which a worker taken
    up by the recovery sweep writes the job's messages."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="imports")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    file_name = models.CharField(_("file name"), max_length=255)
    file_format = models.CharField(_("format"), max_length=4, choices=[("csv", "CSV"), ("xlsx", "XLSX")])
    file_ref = models.CharField(max_length=200, blank=True)
    report_ref = models.CharField(max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.VALIDATING)
    mode = models.CharField(_("mode"), max_length=10, choices=ImportMode.choices, blank=True)
    attestation = models.ForeignKey(UploadAttestation, null=True, blank=True, on_delete=models.PROTECT)
    attempts = models.PositiveSmallIntegerField(default=0)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    valid_rows = models.PositiveIntegerField(_("valid rows"), default=0)
    error_rows = models.PositiveIntegerField(_("rows with errors"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    imported_rows = models.PositiveIntegerField(_("rows imported"), default=0)
    error_preview = models.JSONField(_("first errors"), default=list, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    validated_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A large CSV file is checked in parts by tasks running at the same time: how many
    # parts, how many are done, and ``parts``: the header cells, each part's rows (text
    # offsets and first row number), its attempts and the stored name of its result
    # (a transient file, deleted when the check ends). Empty once the check is over.
    parts_total = models.PositiveSmallIntegerField(default=0)
    parts_done = models.PositiveSmallIntegerField(default=0)
    parts = models.JSONField(default=dict, blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)

    class Meta:
        verbose_name = _("roster import")
        verbose_name_plural = _("roster imports")
        ordering = ["-created_at"]
        indexes = [
            # The recovery sweep's query: the few imports at work, by heartbeat.
            models.Index(
                fields=["heartbeat_at"],
                condition=models.Q(status__in=["validating", "importing"]),
                name="import_at_work",
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    personal_data = PersonalData(
        subject=None,
        note="The uploaded file and the error report hold roster values of many people.",
        fields={
            "uploaded_by": SET_NULL,
            "file_name": REDACT_TEXT,
            "file_ref": ERASE_FILE,
            "report_ref": ERASE_FILE,
            "error_preview": redact([], note="errors echo row values"),
            "last_error": REDACT_BLANK,
        },
        non_personal={
            "id",
            "organization",
            "file_format",
            "status",
            "mode",
            "attestation",
            "attempts",
            "total_rows",
            "valid_rows",
            "error_rows",
            "processed_rows",
            "imported_rows",
            "created_at",
            "validated_at",
            "finished_at",
            "parts_total",
            "parts_done",
            "parts",  # column names, offsets, counts, claim tokens and random file names
            "language",
            *LiveJob.LIVENESS_FIELDS,
        },
    )
