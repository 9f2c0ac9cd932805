"""Organizations, their kinds and editions, the rights administrators hold on them, and
their certification (ORG-1, ORG-2, ORG-9).

The organization is the controller of its data (EN I(II)4): the roster, department tree
and activity records belong to it, while each member's personal account (the
``accounts.User`` linked from a roster entry) belongs to the person.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.fields import EncryptedTextField
from dataprotection.personal_data import (
    ERASE_FILE,
    REDACT_BLANK,
    REDACT_TEXT,
    SET_NULL,
    PersonalData,
)
from organizations.models.children import AUSTRALIA, DEFAULT


class OrganizationKind(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")
    SCHOOL = "school", _("School")
    GOVERNMENT = "government", _("Government body or institution")
    OTHER = "other", _("Other organization")


class Edition(models.TextChoices):
    """ACC-6: in the dedicated edition members correct their basic data only through
    the organization's administrators (ZH-DED 五(一)2)."""

    STANDARD = "standard", _("Standard")
    DEDICATED = "dedicated", _("Dedicated")


class StaffSize(models.TextChoices):
    XS = "1-20", _("1–20 people")
    S = "21-100", _("21–100 people")
    M = "101-500", _("101–500 people")
    L = "501-2000", _("501–2,000 people")
    XL = "2001+", _("More than 2,000 people")


class OrganizationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    FROZEN = "frozen", _("Frozen (disband pending)")
    DISBANDED = "disbanded", _("Disbanded")


class Right(models.TextChoices):
    """The rights an administrator can hold (ORG-9), each on the whole organization or
    on department subtrees. They are Django permissions on ``Organization`` and
    ``Department`` granted per object through django-guardian's direct-FK tables."""

    VIEW_ROSTER = "view_roster", _("View roster")
    EDIT_ROSTER = "edit_roster", _("Edit roster")
    VIEW_SENSITIVE = "view_sensitive", _("View sensitive fields")
    MANAGE_SERVICES = "manage_services", _("Manage services")
    MANAGE_ADMINS = "manage_admins", _("Manage administrators")
    HANDLE_REQUESTS = "handle_requests", _("Handle members' requests")
    # SEC-3: children's roster entries are hidden from every administrator without it
    # (the owner sees them only as the designated children's data officer).
    VIEW_CHILDREN = "view_children", _("View children's records")


RIGHT_PERMISSIONS = [
    ("view_roster", "Can view the roster"),
    ("edit_roster", "Can edit the roster"),
    ("view_sensitive", "Can reveal sensitive roster fields"),
    ("manage_services", "Can open and close services"),
    ("manage_admins", "Can appoint and remove sub-administrators"),
    ("handle_requests", "Can handle members' data-subject requests"),
    ("view_children", "Can view children's roster records"),
]


class CertificationStatus(models.TextChoices):
    UNCERTIFIED = "uncertified", _("Not certified")
    PENDING = "pending", _("Under review")
    APPROVED = "approved", _("Certified")
    REJECTED = "rejected", _("Rejected")


class Organization(models.Model):
    """An enterprise, school, government body or other entity (ORG-1)."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=OrganizationKind.choices, default="enterprise")
    location = models.CharField(_("location"), max_length=200, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    staff_size = models.CharField(_("staff size"), max_length=10, choices=StaffSize.choices, blank=True)
    edition = models.CharField(_("edition"), max_length=10, choices=Edition.choices, default=Edition.STANDARD)
    data_region = models.CharField(
        _("data region"),
        max_length=2,
        choices=[("cn", _("Mainland China")), ("sg", _("Singapore"))],
        default=settings.DATA_REGION,
    )
    status = models.CharField(
        _("status"), max_length=10, choices=OrganizationStatus.choices, default=OrganizationStatus.ACTIVE
    )
    certification_status = models.CharField(
        _("certification"), max_length=12, choices=CertificationStatus.choices, default=CertificationStatus.UNCERTIFIED
    )
    # SEC-1: owners always need a second factor; this extends it to every sub-administrator.
    require_admin_two_factor = models.BooleanField(
        _("require two-factor authentication for all administrators"), default=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # ORG-7: moves on with every change of the roster (organizations/hooks.py), so that
    # the roster page's cached totals (``organizations.selectors.roster_total``), keyed
    # by it, are counted again after any change instead of on every page view.
    roster_generation = models.PositiveBigIntegerField(default=0, editable=False)
    # SEC-3: where the organization's people are located decides who is a child
    # (``organizations.models.children``), and one designated administrator answers for
    # children's data; without one the organization holds only a child's basic fields.
    children_jurisdiction = models.CharField(
        _("where the organization's people are located"),
        max_length=10,
        choices=[
            (DEFAULT, _("Mainland China or elsewhere (children are under 14)")),
            (AUSTRALIA, _("Australia (children are under 15)")),
        ],
        default=DEFAULT,
    )
    children_data_officer = models.ForeignKey(
        "organizations.Administrator",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("person responsible for children's data"),
    )

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        permissions = RIGHT_PERMISSIONS

    def __str__(self) -> str:
        return self.name

    personal_data = PersonalData(
        subject=None,
        note="Organizational facts; kept (status disbanded) after a disband (ORG-11).",
        fields={"created_by": SET_NULL, "children_data_officer": SET_NULL},
        non_personal={
            "id",
            "name",
            "kind",
            "location",
            "industry",
            "staff_size",
            "edition",
            "data_region",
            "status",
            "certification_status",
            "require_admin_two_factor",
            "created_at",
            "roster_generation",
            "children_jurisdiction",
        },
    )


class Certification(models.Model):
    """A submission for organization certification (ORG-2, EN I(II)5), reviewed by
    operations staff. The licence and letter files are stored encrypted outside the
    public media root; the legal representative's name and ID number are encrypted."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="certifications")
    registration_number = models.CharField(_("unified social credit code / registration number"), max_length=32)
    legal_representative_name = EncryptedTextField(
        _("legal representative's name"), purpose="organizations.certification.legal_rep_name"
    )
    legal_representative_id_number = EncryptedTextField(
        _("legal representative's ID number"), purpose="organizations.certification.legal_rep_id"
    )
    business_licence = models.CharField(_("business licence file"), max_length=200)
    business_licence_type = models.CharField(max_length=100)
    certification_letter = models.CharField(_("certification letter file"), max_length=200)
    certification_letter_type = models.CharField(max_length=100)
    attestation = models.TextField(_("submitter's attestation"))
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=12, choices=CertificationStatus.choices, default=CertificationStatus.PENDING
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_reason = models.TextField(_("review reason"), blank=True)

    class Meta:
        verbose_name = _("certification")
        verbose_name_plural = _("certifications")
        ordering = ["-submitted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"], condition=models.Q(status="pending"), name="one_pending_certification"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization} ({self.get_status_display()})"

    personal_data = PersonalData(
        subject=None,
        note="The legal representative has no account here; their values are erased on disband.",
        fields={
            "legal_representative_name": REDACT_BLANK,
            "legal_representative_id_number": REDACT_BLANK,
            "business_licence": ERASE_FILE,
            "certification_letter": ERASE_FILE,
            "attestation": REDACT_TEXT,
            "submitted_by": SET_NULL,
            "reviewed_by": SET_NULL,
            "review_reason": REDACT_BLANK,
        },
        non_personal={
            "id",
            "organization",
            "registration_number",
            "business_licence_type",
            "certification_letter_type",
            "submitted_at",
            "status",
            "reviewed_at",
        },
    )
