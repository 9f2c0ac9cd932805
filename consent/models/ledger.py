"""The consent ledger (CON-1, CON-2, CON-5, CON-7): append-only records of what a
person (or a visitor) agreed to or withdrew. The current state is derived from the
ledger, never stored beside it; withdrawal adds a record and rewrites nothing."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from dataprotection.personal_data import ANONYMIZED, SET_NULL, PersonalData, redact


class Purpose(models.TextChoices):
    """Purposes of additional functions (EN I). Basic functions need none of these; a new
    purpose is a new code here, so nobody holds a consent to it until they give one."""

    MARKETING = "marketing", _("Product news and offers")
    OPTIONAL_SHARING = "optional_sharing", _("Sharing with partners beyond what a service needs")
    CONTACT_MATCHING = "contact_matching", _("Contact matching")
    PERSONALIZATION = "personalization", _("Personalized suggestions")
    FACE_RECOGNITION = "face_recognition", _("Face recognition")
    IDENTITY_CHECK = "identity_check", _("Identity checks with your ID number")
    CROSS_BORDER = "cross_border", _("Transfer of my data outside this data region")


@dataclass(frozen=True)
class PurposeInfo:
    description: str | Promise
    sensitive: bool = False  # CON-5: its own explicit consent, never bundled
    opted_out_by_gpc: bool = False  # CON-7: a Global Privacy Control signal withdraws it
    visitor: bool = False  # a visitor without an account can decide it (cookie banner)


PURPOSES: dict[str, PurposeInfo] = {
    Purpose.MARKETING: PurposeInfo(
        _("Messages about new features and offers, and marketing cookies that measure campaigns."),
        opted_out_by_gpc=True,
        visitor=True,
    ),
    Purpose.OPTIONAL_SHARING: PurposeInfo(
        _(
            "Sharing your basic information with partners for their own offers. Services your organization opens "
            "do not depend on it."
        ),
        opted_out_by_gpc=True,
        visitor=True,
    ),
    Purpose.CONTACT_MATCHING: PurposeInfo(
        _(
            "Finding which of your phone contacts use Custodia. Your contacts' numbers are hashed on your device "
            "and never stored."
        ),
    ),
    Purpose.PERSONALIZATION: PurposeInfo(
        _("Suggestions based on how you use Custodia, and preference cookies that remember your choices."),
        visitor=True,
    ),
    Purpose.FACE_RECOGNITION: PurposeInfo(
        _("Comparing your face with a stored template, for example to clock in. Sensitive personal information."),
        sensitive=True,
    ),
    Purpose.IDENTITY_CHECK: PurposeInfo(
        _("Checking your name and ID number with an authoritative source. Sensitive personal information."),
        sensitive=True,
    ),
    # SEC-6 (EN VII): a transfer out of the deployment's region needs its own, separate
    # consent, never bundled with others (the CON-5 form); without it, services hosted
    # in another region receive nothing about the person.
    Purpose.CROSS_BORDER: PurposeInfo(
        _(
            "Letting services hosted outside this portal's data region receive your personal information: apps your "
            "organizations open and mini-programs you authorize, each showing where it is hosted."
        ),
        sensitive=True,
    ),
}


class Decision(models.TextChoices):
    GRANTED = "granted", _("granted")
    WITHDRAWN = "withdrawn", _("withdrawn")


class Channel(models.TextChoices):
    WEB = "web", _("privacy settings page")
    COOKIE_BANNER = "cookie_banner", _("cookie banner")
    GPC = "gpc", _("Global Privacy Control signal")
    API = "api", _("API")
    CLIENT_APP = "client_app", _("client app")
    SIGN_UP = "sign_up", _("sign-up")
    GUARDIAN_FORM = "guardian_form", _("guardian's form")
    AGENT_REQUEST = "agent_request", _("authorized agent's request")


class Actor(models.TextChoices):
    SELF = "self", _("the person")
    GUARDIAN = "guardian", _("a guardian")
    AGENT = "agent", _("an authorized agent")


class ConsentRecordQuerySet(models.QuerySet):
    def of_person(self, user) -> ConsentRecordQuerySet:
        return self.filter(user=user)

    def of_visitor(self, visitor_key: str) -> ConsentRecordQuerySet:
        return self.filter(user=None, visitor_key=visitor_key)

    def latest_per_purpose(self) -> ConsentRecordQuerySet:
        """The last record of each purpose: the current state (one query)."""
        newer = self.model.objects.filter(
            user_id=models.OuterRef("user_id"),
            visitor_key=models.OuterRef("visitor_key"),
            purpose=models.OuterRef("purpose"),
            pk__gt=models.OuterRef("pk"),
        )
        return self.filter(~models.Exists(newer))


class ConsentRecord(models.Model):
    """One decision about one purpose. Rows are only ever inserted (``save`` refuses an
    update); a person's account deletion leaves the record as anonymized evidence."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="consent_records"
    )
    visitor_key = models.CharField(
        _("visitor"), max_length=32, blank=True, help_text=_("A random identifier of a visitor's browser.")
    )
    purpose = models.CharField(_("purpose"), max_length=24, choices=Purpose.choices)
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    policy_version = models.ForeignKey(
        "consent.PolicyVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("policy version"),
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    actor = models.CharField(_("given by"), max_length=10, choices=Actor.choices, default=Actor.SELF)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acting person"),
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    objects = ConsentRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-recorded_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "purpose", "id"], name="consent_user_purpose"),
            models.Index(fields=["visitor_key", "purpose", "id"], name="consent_visitor_purpose"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | ~models.Q(visitor_key=""),
                name="consent_record_has_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()}: {self.get_decision_display()}"

    def save(self, *args, **kwargs):
        # CON-2: the past is never rewritten. The anonymization engine detaches the
        # person with a set-based UPDATE, not through save().
        if not self._state.adding:
            raise ValueError("consent records are append-only")
        super().save(*args, **kwargs)

    personal_data = PersonalData(
        subject="user",
        note="Evidence of consent outlives the account, without the person (ACC-5).",
        fields={
            "user": SET_NULL,
            # A browser identifier. A deleted person's records get the ANONYMIZED marker
            # (never a 32-hex visitor key), so that with ``user`` NULL they still pass the
            # consent_record_has_subject check instead of failing the cascade.
            "visitor_key": redact(ANONYMIZED, note="a browser identifier"),
            "actor_user": SET_NULL,
        },
        non_personal={"id", "purpose", "decision", "policy_version", "channel", "actor", "recorded_at"},
    )
