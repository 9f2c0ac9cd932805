"""Policy documents, versioned per edition and language, and each person's
acknowledgement of a significant change (CON-6, EN VIII)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.personal_data import SET_NULL, PersonalData


class PolicyEdition(models.TextChoices):
    INTERNATIONAL = "international", _("International edition")
    MAINLAND = "mainland", _("Mainland China edition")
    DEDICATED = "dedicated", _("Dedicated edition")


class PolicyPart(models.TextChoices):
    """The policy itself and the regional addenda of the international edition."""

    MAIN = "main", _("Privacy policy")
    EEA = "eea", _("Addendum: European Economic Area")
    JAPAN = "japan", _("Addendum: Japan")
    CALIFORNIA = "california", _("Addendum: California")
    AUSTRALIA = "australia", _("Addendum: Australia")


class SignificantChange(models.TextChoices):
    """EN VIII: the changes that count as significant (the list is "not limited to",
    so staff may also mark a version significant with a summary of their own)."""

    SERVICE_MODEL = "service_model", _("Our service model changes greatly (purposes, types or ways of processing)")
    CONTROLLER = "controller", _("Our control or organization structure changes (e.g. a merger)")
    RECIPIENTS = "recipients", _("The main recipients of sharing, transfer or public disclosure change")
    RIGHTS = "rights", _("Your rights, or how you exercise them, change significantly")
    CONTACT = "contact", _("The department responsible for security, its contact or the complaint channel changes")
    HIGH_RISK = "high_risk", _("A security impact assessment indicates a high risk")


class PolicyVersion(models.Model):
    """One published version of one edition's policy. Its texts (one per language and
    part) never change once published: old versions stay readable at a stable URL."""

    edition = models.CharField(_("edition"), max_length=16, choices=PolicyEdition.choices)
    version = models.CharField(
        _("version"), max_length=20, help_text=_("A short stable label used in URLs, e.g. 2020-05.")
    )
    effective_on = models.DateField(_("effective on"))
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    significant = models.BooleanField(
        _("significant change"),
        default=False,
        help_text=_("Everyone this edition applies to must acknowledge it at their next sign-in."),
    )
    significant_changes = models.JSONField(_("kinds of significant change"), default=list, blank=True)
    summary = models.TextField(_("what changed"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("policy version")
        verbose_name_plural = _("policy versions")
        ordering = ["edition", "-effective_on", "-pk"]
        constraints = [models.UniqueConstraint(fields=["edition", "version"], name="policy_version_unique")]
        indexes = [models.Index(fields=["edition", "published_at"], name="policy_edition_published")]

    def __str__(self) -> str:
        return f"{self.get_edition_display()} {self.version}"

    personal_data = PersonalData(
        non_personal={
            "id",
            "edition",
            "version",
            "effective_on",
            "published_at",
            "significant",
            "significant_changes",
            "summary",
            "created_at",
        }
    )


class PolicyText(models.Model):
    """The text of one part of a policy version in one language."""

    version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="texts")
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    part = models.CharField(_("part"), max_length=12, choices=PolicyPart.choices, default=PolicyPart.MAIN)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))

    class Meta:
        verbose_name = _("policy text")
        verbose_name_plural = _("policy texts")
        ordering = ["version", "language", "part"]
        constraints = [
            models.UniqueConstraint(fields=["version", "language", "part"], name="policy_text_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.language} {self.part}"

    personal_data = PersonalData(non_personal={"id", "version", "language", "part", "title", "body"})


class PolicyAcknowledgement(models.Model):
    """A person's acknowledgement of a significant policy version (CON-6). Kept as
    evidence when the account is deleted, without the person."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="policy_acknowledgements"
    )
    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="acknowledgements")
    language = models.CharField(_("language read"), max_length=10, choices=settings.LANGUAGES)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), default=timezone.now)

    class Meta:
        verbose_name = _("policy acknowledgement")
        verbose_name_plural = _("policy acknowledgements")
        constraints = [
            models.UniqueConstraint(fields=["user", "version"], name="policy_ack_once_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.version} @ {self.acknowledged_at:%Y-%m-%d}"

    personal_data = PersonalData(
        subject="user",
        fields={"user": SET_NULL},
        non_personal={"id", "version", "language", "acknowledged_at"},
    )
