"""The organization's activity records and other member data of its first-party
services (ORG-4, SVC-1): attendance, approvals, contact cards, biometric templates, work
logs, schedules, drive files and students' family contacts."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.fields import EncryptedTextField
from dataprotection.personal_data import (
    DELETE_ROW,
    ERASE_FILE,
    REDACT_BLANK,
    REDACT_TEXT,
    SET_NULL,
    PersonalData,
)
from organizations.models.members import Member
from organizations.models.organization import Organization


class PunchKind(models.TextChoices):
    IN = "in", _("Clock in")
    OUT = "out", _("Clock out")


class AttendancePunch(models.Model):
    """An attendance punch with time, location and face-photo reference (ORG-4 activity
    record; a high-volume table)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="punches")
    punched_at = models.DateTimeField(_("time"))
    kind = models.CharField(_("kind"), max_length=3, choices=PunchKind.choices)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    photo_ref = models.CharField(_("face photo reference"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("attendance punch")
        verbose_name_plural = _("attendance punches")
        indexes = [
            models.Index(fields=["organization", "punched_at"], name="punch_org_time"),
            # Key order within an organization: chunked cascades plan and walk by it (ANON-2).
            models.Index(fields=["organization", "id"], name="punch_org_key"),
            models.Index(fields=["member", "punched_at"], name="punch_member_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.punched_at:%Y-%m-%d %H:%M}"

    personal_data = PersonalData(
        subject="member__user",
        note="Kept de-identified: when and how, never where or who (attendance statistics).",
        fields={
            "latitude": SET_NULL,
            "longitude": SET_NULL,
            "address": REDACT_BLANK,
            # The face photo is held by the attendance device's service, not by this
            # portal: the reference is blanked here and the holder gets a deletion notice
            # with the other recipients (SVC-5).
            "photo_ref": REDACT_BLANK,
        },
        non_personal={"id", "organization", "member", "punched_at", "kind"},
    )


class ApprovalKind(models.TextChoices):
    LEAVE = "leave", _("Leave")
    EXPENSE = "expense", _("Expense claim")
    OVERTIME = "overtime", _("Overtime")
    TRAVEL = "travel", _("Business trip")
    PURCHASE = "purchase", _("Purchase")


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class ApprovalRecord(models.Model):
    """An approval submitted by a member (ORG-4 activity record)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    applicant = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="approvals")
    kind = models.CharField(_("kind"), max_length=10, choices=ApprovalKind.choices)
    title = models.CharField(_("title"), max_length=200)
    details = models.TextField(_("details"), blank=True)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2, null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=ApprovalStatus.choices, default="pending")
    submitted_at = models.DateTimeField(_("submitted at"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("approval record")
        verbose_name_plural = _("approval records")
        indexes = [
            models.Index(fields=["organization", "submitted_at"], name="approval_org_time"),
            models.Index(fields=["organization", "id"], name="approval_org_key"),
            models.Index(fields=["applicant", "submitted_at"], name="approval_applicant_time"),
        ]

    def __str__(self) -> str:
        return self.title

    personal_data = PersonalData(
        subject="applicant__user",
        note="Kept de-identified: kind, status and dates for the organization's statistics.",
        fields={"title": REDACT_TEXT, "details": REDACT_BLANK, "amount": SET_NULL},
        non_personal={"id", "organization", "applicant", "kind", "status", "submitted_at", "decided_at"},
    )


class ExternalContactCard(models.Model):
    """An external business contact card kept by a member in the organization (ORG-4)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="contact_cards")
    name = models.CharField(_("name"), max_length=100)
    company = models.CharField(_("company"), max_length=200, blank=True)
    title = models.CharField(_("title"), max_length=100, blank=True)
    phone = EncryptedTextField(_("phone"), purpose="organizations.contact_card.phone", blank=True)
    email = models.EmailField(_("email"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("external contact card")
        verbose_name_plural = _("external contact cards")

    def __str__(self) -> str:
        return self.name

    personal_data = PersonalData(
        subject="owner__user",
        row=DELETE_ROW,
        note="The card is about an external person; it goes with its owner's roster entry.",
        fields={
            "name": REDACT_TEXT,
            "company": REDACT_BLANK,
            "title": REDACT_BLANK,
            "phone": REDACT_BLANK,
            "email": REDACT_BLANK,
        },
        non_personal={"id", "organization", "owner", "created_at"},
    )


class BiometricKind(models.TextChoices):
    FINGERPRINT = "fingerprint", _("Fingerprint")
    FACE = "face", _("Face")


class BiometricTemplate(models.Model):
    """A biometric template enrolled for attendance (ORG-4, EN 1.8: sensitive). The
    template bytes are stored encrypted, base64 inside the ciphertext."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="biometric_templates")
    kind = models.CharField(_("kind"), max_length=12, choices=BiometricKind.choices)
    template = EncryptedTextField(_("template"), purpose="organizations.biometric.template")
    enrolled_at = models.DateTimeField(_("enrolled at"), default=timezone.now)

    class Meta:
        verbose_name = _("biometric template")
        verbose_name_plural = _("biometric templates")

    def __str__(self) -> str:
        return self.get_kind_display()

    personal_data = PersonalData(
        subject="member__user",
        row=DELETE_ROW,
        fields={"template": DELETE_ROW},
        non_personal={"id", "organization", "member", "kind", "enrolled_at"},
    )


class WorkLog(models.Model):
    """A member's work log entry (ORG-4 activity record)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="work_logs")
    day = models.DateField(_("day"))
    content = models.TextField(_("content"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("work log")
        verbose_name_plural = _("work logs")
        indexes = [
            models.Index(fields=["organization", "day"], name="worklog_org_day"),
            models.Index(fields=["organization", "id"], name="worklog_org_key"),
        ]

    def __str__(self) -> str:
        return f"{self.day}"

    personal_data = PersonalData(
        subject="member__user",
        note="Kept de-identified: the day, never the content.",
        fields={"content": REDACT_TEXT},
        non_personal={"id", "organization", "member", "day", "created_at"},
    )


class ScheduleEntry(models.Model):
    """A schedule entry of a member (ORG-4 activity record)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="schedule_entries")
    title = models.CharField(_("title"), max_length=200)
    location = models.CharField(_("location"), max_length=200, blank=True)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))

    class Meta:
        verbose_name = _("schedule entry")
        verbose_name_plural = _("schedule entries")
        indexes = [
            models.Index(fields=["organization", "starts_at"], name="schedule_org_start"),
            models.Index(fields=["organization", "id"], name="schedule_org_key"),
        ]

    def __str__(self) -> str:
        return self.title

    personal_data = PersonalData(
        subject="member__user",
        note="Kept de-identified: the time slot, never the title or place.",
        fields={"title": REDACT_TEXT, "location": REDACT_BLANK},
        non_personal={"id", "organization", "member", "starts_at", "ends_at"},
    )


class DriveFile(models.Model):
    """Metadata of a file a member keeps on the organization drive (ORG-4)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="drive_files")
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100, blank=True)
    size = models.BigIntegerField(_("size"))
    storage_ref = models.CharField(_("storage reference"), max_length=200)
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        verbose_name = _("drive file")
        verbose_name_plural = _("drive files")
        indexes = [models.Index(fields=["organization", "uploaded_at"], name="drive_org_time")]

    def __str__(self) -> str:
        return self.name

    personal_data = PersonalData(
        subject="owner__user",
        row=DELETE_ROW,
        fields={"name": REDACT_TEXT, "storage_ref": ERASE_FILE},
        non_personal={"id", "organization", "owner", "content_type", "size", "uploaded_at"},
    )


class FamilyContact(models.Model):
    """A student's family contact in a school organization (ORG-4)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    student = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="family_contacts")
    name = models.CharField(_("name"), max_length=100)
    relation = models.CharField(_("relation"), max_length=40)
    phone = EncryptedTextField(_("phone"), purpose="organizations.family_contact.phone", blank=True)

    class Meta:
        verbose_name = _("family contact")
        verbose_name_plural = _("family contacts")

    def __str__(self) -> str:
        return self.name

    personal_data = PersonalData(
        subject="student__user",
        row=DELETE_ROW,
        fields={"name": REDACT_TEXT, "relation": REDACT_BLANK, "phone": REDACT_BLANK},
        non_personal={"id", "organization", "student"},
    )
