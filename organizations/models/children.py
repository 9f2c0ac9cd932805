"""Children (SEC-3): who is a child, and the guardian consents recorded for them.

The age rules are pure functions without database access, kept next to the models
because the roster's querysets mark children with them.

The source policies define a child as a minor under 14 (EN 1.9, ZH-DED 一.11, ZH-CN 一.7)
and, for individuals located in Australia, under 15 (EN, Addendum for Australia, 3).

Jurisdiction: a roster entry is judged by the organization that holds it. The owner
records on the children's data page whether the organization's people are located in
Australia (``Organization.children_jurisdiction``); everything else (mainland China, the
dedicated edition, the rest of the international edition) uses 14. The organization is
chosen, not the person's policy edition, because the roster belongs to the organization
(EN I(II)4), a child on a school roster often has no account at all, and the threshold
must be one constant per roster so that "is a child" stays a single indexed comparison
(``birthday > cutoff``) over the whole roster, never a decision per row in Python.

Age: a person is N years old from the Nth anniversary of their birthday; someone born on
29 February reaches it on 1 March in a common year (they are not yet N on 28 February).
"""

from __future__ import annotations

import calendar
from datetime import date

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.fields import EncryptedTextField
from dataprotection.personal_data import DELETE_ROW, REDACT_BLANK, REDACT_TEXT, SET_NULL, PersonalData

DEFAULT = "default"
AUSTRALIA = "australia"

# Under this age a person is a child, by jurisdiction.
AGE_THRESHOLDS = {DEFAULT: 14, AUSTRALIA: 15}

# The roster field the age comes from, and the fields that may be held about a child
# without a guardian's consent: what is needed to know the person is on the roster at
# all (the basic fields of ``organizations.services.collection``), their age and the entry's
# lifecycle status.
AGE_FIELD = "birthday"
CHILD_BASIC_FIELDS = frozenset({"name", "mobile", "employee_number", "position", AGE_FIELD, "status"})


def age_threshold(jurisdiction: str | None) -> int:
    return AGE_THRESHOLDS.get(jurisdiction or DEFAULT, AGE_THRESHOLDS[DEFAULT])


def age_on(birthday: date, today: date) -> int:
    """Completed years on ``today``."""
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


def is_child(birthday: date | None, jurisdiction: str | None, today: date) -> bool:
    """SEC-3: under 14 (under 15 in Australia) on ``today``. Unknown birthday: not
    known to be a child."""
    if birthday is None:
        return False
    return age_on(birthday, today) < age_threshold(jurisdiction)


def child_cutoff(jurisdiction: str | None, today: date) -> date:
    """The latest birthday of someone who is no longer a child on ``today``: a person
    is a child exactly when ``birthday > child_cutoff(...)`` (the set-wise form of
    ``is_child``). On 29 February the cutoff year may be a common year: 28 February."""
    year = today.year - age_threshold(jurisdiction)
    day = min(today.day, calendar.monthrange(year, today.month)[1])
    return date(year, today.month, day)


def children_q(cutoff: date, prefix: str = "") -> Q:
    """Roster entries that are children: the entry's own birthday, or, when the
    organization has none, the birthday on the person's account (ACC-2)."""
    return Q(**{f"{prefix}birthday__gt": cutoff}) | Q(
        **{f"{prefix}birthday__isnull": True, f"{prefix}user__birthday__gt": cutoff}
    )


def children_anywhere_q(today: date, prefix: str = "") -> Q:
    """Roster entries that are children in whichever organization holds them (each
    organization's own threshold), for views across organizations: the console."""
    field = f"{prefix}organization__children_jurisdiction"
    return (Q(**{field: AUSTRALIA}) & children_q(child_cutoff(AUSTRALIA, today), prefix)) | (
        ~Q(**{field: AUSTRALIA}) & children_q(child_cutoff(DEFAULT, today), prefix)
    )


class GuardianMethod(models.TextChoices):
    WRITTEN = "written", _("Signed form")
    IN_PERSON = "in_person", _("In person")
    ELECTRONIC = "electronic", _("Electronic signature or message")
    PHONE = "phone", _("Phone call")


class GuardianConsent(models.Model):
    """SEC-3 (EN VI, ZH-DED 六, ZH-CN 五): a child's parent or other guardian agreed that the
    organization holds the child's data beyond the basic fields. Recorded by an
    administrator with the attestation they confirmed; withdrawal (``withdrawn_at``)
    erases that data again (``organizations.services.children``). At most one consent
    in force per roster entry."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey("organizations.Member", on_delete=models.CASCADE, related_name="guardian_consents")
    guardian_name = models.CharField(_("guardian's name"), max_length=100)
    relationship = models.CharField(_("relationship to the child"), max_length=40)
    contact = EncryptedTextField(_("guardian's phone or email"), purpose="organizations.guardian_consent.contact")
    method = models.CharField(_("how consent was given"), max_length=12, choices=GuardianMethod.choices)
    attestation = models.TextField(_("attestation"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("guardian consent")
        verbose_name_plural = _("guardian consents")
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=models.Q(withdrawn_at__isnull=True), name="one_guardian_consent_in_force"
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.get_method_display()} ({self.recorded_at:%Y-%m-%d})"

    personal_data = PersonalData(
        subject="member__user",
        row=DELETE_ROW,
        fields={
            "guardian_name": REDACT_TEXT,
            "relationship": REDACT_BLANK,
            "contact": REDACT_BLANK,
            "recorded_by": SET_NULL,
            "withdrawn_by": SET_NULL,
        },
        non_personal={"id", "organization", "member", "method", "attestation", "recorded_at", "withdrawn_at"},
    )
