"""Security incidents and the notices sent about them (SEC-4; EN IV(VI), ZH-CN 五).

Operations staff register an incident in the console; the portal computes the
notification deadline (30 natural days from discovery) and flags incidents that near
or pass it. ``organizations.services.incidents.send_incident_notices`` tells every
affected person (the explicit ones and the active members with an account of each
affected organization) through each channel in ``NoticeChannel``; a published
announcement on ``/security-notices/`` covers the case where individual notice is
impractical.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from dataprotection.personal_data import DELETE_ROW, SET_NULL, PersonalData
from organizations.models.organization import Organization

# EN IV(VI), ZH-CN 五: affected people are told within 30 natural days of discovery.
NOTICE_DEADLINE = timedelta(days=30)
# The console flags incidents whose deadline falls within this many days.
DEADLINE_SOON_DAYS = 7
# The beat task logs a critical warning this close to the deadline.
DEADLINE_ALERT_DAYS = 3


class DataCategory(models.TextChoices):
    CONTACT = "contact", _("Contact details (mobile number, email, address)")
    IDENTITY = "identity", _("Identity (name, birthday, photo)")
    ID_NUMBERS = "id_numbers", _("ID document numbers")
    PAYROLL = "payroll", _("Payroll and bank card")
    BIOMETRIC = "biometric", _("Biometric data (face templates)")
    ACTIVITY = "activity", _("Activity records (attendance, approvals, work logs)")
    CREDENTIALS = "credentials", _("Sign-in credentials")
    LOCATION = "location", _("Location")
    FAMILY = "family", _("Family and emergency contacts")
    CHILDREN = "children", _("Children's data")
    OTHER = "other", _("Other")


class IncidentStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("incident", "Open")
    NOTIFYING = "notifying", _("Notifying")
    NOTIFIED = "notified", _("Notified")
    CLOSED = "closed", pgettext_lazy("incident", "Closed")


AWAITING_NOTICE = (IncidentStatus.OPEN, IncidentStatus.NOTIFYING)


class DeadlineState(models.TextChoices):
    MET = "met", _("Notified in time")
    MISSED = "missed", _("Notified late")
    OVERDUE = "overdue", _("Overdue")
    DUE_SOON = "due_soon", _("Due soon")
    ON_TRACK = "on_track", _("On track")


def new_reference() -> str:
    """A short reference people can quote (in the SMS and on the public page)."""
    return f"SI-{timezone.now():%Y%m%d}-{secrets.token_hex(3).upper()}"


class SecurityIncidentQuerySet(models.QuerySet):
    def awaiting_notice(self):
        """Nobody was told yet (SEC-4): the deadline still runs."""
        return self.filter(status__in=AWAITING_NOTICE, notified_at__isnull=True, announced_at__isnull=True)

    def deadline_within(self, days: int, now: datetime | None = None):
        """Awaiting notice, deadline from now to ``days`` ahead (not yet passed)."""
        now = now or timezone.now()
        return self.awaiting_notice().filter(
            discovered_at__gt=now - NOTICE_DEADLINE,
            discovered_at__lte=now - NOTICE_DEADLINE + timedelta(days=days),
        )

    def overdue(self, now: datetime | None = None):
        now = now or timezone.now()
        return self.awaiting_notice().filter(discovered_at__lte=now - NOTICE_DEADLINE)

    def published(self):
        return self.filter(announcement_published=True).exclude(announcement="")


class SecurityIncident(models.Model):
    """SEC-4: one security incident and its handling. The texts are written for the
    affected people and the regulator: they describe the incident, never a person."""

    reference = models.CharField(_("reference"), max_length=24, unique=True, default=new_reference, editable=False)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("what happened"), help_text=_("Written for the affected people; name no one."))
    discovered_at = models.DateTimeField(
        _("discovered at"), help_text=_("The 30-day notification deadline runs from here.")
    )
    occurred_from = models.DateTimeField(_("occurred from"), null=True, blank=True)
    occurred_to = models.DateTimeField(_("occurred until"), null=True, blank=True)
    data_categories = models.JSONField(_("categories of data"), default=list, blank=True)
    organizations = models.ManyToManyField(
        Organization,
        blank=True,
        related_name="security_incidents",
        verbose_name=_("affected organizations"),
        help_text=_("Every active member with a personal account in these organizations is notified."),
    )
    measures = models.TextField(_("measures taken"), blank=True)
    advice = models.TextField(_("advice for people"), blank=True)
    remedies = models.TextField(_("remedies"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=IncidentStatus.choices, default=IncidentStatus.OPEN)
    announcement = models.TextField(
        _("public announcement"),
        blank=True,
        help_text=_("Shown on the public security notices page once published; no personal data."),
    )
    announcement_published = models.BooleanField(_("announcement published"), default=False)
    announced_at = models.DateTimeField(_("announced at"), null=True, blank=True, editable=False)
    notified_at = models.DateTimeField(_("notices sent at"), null=True, blank=True, editable=False)
    regulator_reported_at = models.DateTimeField(_("reported to the regulator at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("registered at"), default=timezone.now, editable=False)

    objects = SecurityIncidentQuerySet.as_manager()

    class Meta:
        verbose_name = _("security incident")
        verbose_name_plural = _("security incidents")
        ordering = ["-discovered_at"]
        permissions = [("send_incident_notices", "Can send the notices of a security incident")]
        indexes = [models.Index(fields=["status", "discovered_at"], name="incident_status_discovered")]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    def clean(self):
        errors = {}
        if self.discovered_at and self.discovered_at > timezone.now():
            errors["discovered_at"] = _("The discovery cannot lie in the future.")
        if self.occurred_from and self.occurred_to and self.occurred_to < self.occurred_from:
            errors["occurred_to"] = _("The end lies before the start.")
        if self.announcement_published and not self.announcement.strip():
            errors["announcement"] = _("Write the announcement before publishing it.")
        unknown = set(self.data_categories or []) - set(DataCategory.values)
        if unknown:
            errors["data_categories"] = _("Unknown categories: %(names)s") % {"names": ", ".join(sorted(unknown))}
        if errors:
            raise ValidationError(errors)

    @property
    def notify_by(self) -> datetime:
        """SEC-4: 30 natural days after discovery."""
        return self.discovered_at + NOTICE_DEADLINE

    @property
    def first_told_at(self) -> datetime | None:
        """When people were first told: individual notices or the public announcement."""
        told = [moment for moment in (self.notified_at, self.announced_at) if moment]
        return min(told) if told else None

    def deadline_state(self, now: datetime | None = None) -> str:
        now = now or timezone.now()
        told = self.first_told_at
        if told is not None:
            return DeadlineState.MET if told <= self.notify_by else DeadlineState.MISSED
        if now > self.notify_by:
            return DeadlineState.OVERDUE
        if self.notify_by - now <= timedelta(days=DEADLINE_SOON_DAYS):
            return DeadlineState.DUE_SOON
        return DeadlineState.ON_TRACK

    def category_labels(self) -> list[str]:
        labels = dict(DataCategory.choices)
        return [str(labels.get(value, value)) for value in self.data_categories or []]

    personal_data = PersonalData(
        subject=None,
        note=(
            "The incident as told to people and the regulator: the texts describe the incident, not a person "
            "(the form says so). Who is affected lives in IncidentAffectedPerson and IncidentNotice."
        ),
        fields={"created_by": SET_NULL},
        non_personal={
            "id",
            "reference",
            "title",
            "description",
            "discovered_at",
            "occurred_from",
            "occurred_to",
            "data_categories",
            "organizations",
            "measures",
            "advice",
            "remedies",
            "status",
            "announcement",
            "announcement_published",
            "announced_at",
            "notified_at",
            "regulator_reported_at",
            "created_at",
        },
    )


class IncidentAffectedPerson(models.Model):
    """A person named as affected, beyond (or instead of) whole organizations."""

    incident = models.ForeignKey(SecurityIncident, on_delete=models.CASCADE, related_name="affected_people")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("person")
    )
    added_at = models.DateTimeField(_("added at"), default=timezone.now)

    class Meta:
        verbose_name = _("affected person")
        verbose_name_plural = _("affected people")
        constraints = [models.UniqueConstraint(fields=["incident", "user"], name="one_affected_row_per_person")]

    def __str__(self) -> str:
        return str(self.user_id)

    personal_data = PersonalData(
        subject="user",
        row=DELETE_ROW,
        fields={"user": DELETE_ROW},
        non_personal={"id", "incident", "added_at"},
    )


class NoticeChannel(models.TextChoices):
    """The channels a notice goes through (SEC-4 names email, letter, phone and push;
    accounts hold a verified mobile number and no email address)."""

    SMS = "sms", _("SMS")
    IN_APP = "in_app", _("In-app notice")


class NoticeStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", pgettext_lazy("notice status", "Sent")
    FAILED = "failed", _("Failed")


class IncidentNoticeQuerySet(models.QuerySet):
    def for_person(self, user):
        return self.filter(user=user, channel=NoticeChannel.IN_APP)


class IncidentNotice(models.Model):
    """One notice to one person through one channel. Unique per (incident, person,
    channel): sending again never tells anyone twice. An SMS notice is ``sent`` once
    the SMS outbox delivered it (``sms_message_id``); an in-app notice when written,
    and ``read_at`` records when the person opened it."""

    incident = models.ForeignKey(SecurityIncident, on_delete=models.CASCADE, related_name="notices")
    # Kept, de-linked, after the person's account is deleted: the regulator report
    # still counts the notice.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=NoticeChannel.choices)
    status = models.CharField(_("status"), max_length=10, choices=NoticeStatus.choices, default=NoticeStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    sms_message_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    objects = IncidentNoticeQuerySet.as_manager()

    class Meta:
        verbose_name = _("incident notice")
        verbose_name_plural = _("incident notices")
        constraints = [
            models.UniqueConstraint(fields=["incident", "user", "channel"], name="one_notice_per_person_and_channel")
        ]
        indexes = [
            models.Index(fields=["user", "channel"], name="incident_notice_person"),
            models.Index(fields=["sms_message_id"], condition=Q(status="pending"), name="incident_notice_sms_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id}/{self.channel}/{self.status}"

    personal_data = PersonalData(
        subject="user",
        note="Anonymized in place on account deletion: the notice stays counted in the regulator report.",
        fields={"user": SET_NULL},
        non_personal={
            "id",
            "incident",
            "channel",
            "status",
            "attempts",
            "sms_message_id",
            "created_at",
            "sent_at",
            "read_at",
        },
    )
