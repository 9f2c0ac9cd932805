"""The roster: an organization's members and their departments (ORG-4, ORG-10)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.fields import EncryptedTextField
from dataprotection.masking import mask_bank_card, mask_id_number, mask_phone
from dataprotection.personal_data import (
    DELETE_ROW,
    REDACT_BLANK,
    REDACT_TEXT,
    SET_NULL,
    PersonalData,
    redact,
)
from organizations.models.children import children_q
from organizations.models.departments import Department
from organizations.models.organization import Organization


class LaborContractStatus(models.TextChoices):
    PROBATION = "probation", _("Probation")
    REGULAR = "regular", _("Regular")
    FIXED_TERM = "fixed_term", _("Fixed term")
    INTERN = "intern", _("Intern")
    LEFT = "left", _("Left")


class Degree(models.TextChoices):
    BELOW = "below", _("Below high school")
    HIGH_SCHOOL = "high_school", _("High school")
    ASSOCIATE = "associate", _("Associate degree")
    BACHELOR = "bachelor", _("Bachelor's degree")
    MASTER = "master", _("Master's degree")
    DOCTORATE = "doctorate", _("Doctorate")


class MemberStatus(models.TextChoices):
    INVITED = "invited", _("Invited")
    ACTIVE = "active", _("Active")
    LEFT = "left", _("Left")


class MemberQuerySet(models.QuerySet):
    """SEC-3 reads: children are marked set-wise, in SQL, never per row in Python."""

    def children(self, cutoff) -> MemberQuerySet:
        """Entries whose birthday (the entry's, else the account's) is after ``cutoff``
        (``organizations.models.children.child_cutoff``)."""
        return self.filter(children_q(cutoff))

    def without_children(self, cutoff) -> MemberQuerySet:
        return self.exclude(children_q(cutoff))

    def with_child_flag(self, cutoff) -> MemberQuerySet:
        """Annotates ``is_child`` (a boolean computed by the database)."""
        return self.annotate(
            is_child=models.Case(
                models.When(children_q(cutoff), then=models.Value(True)),
                default=models.Value(False),
                output_field=models.BooleanField(),
            )
        )


class Member(models.Model):
    """A roster entry: organization-control data about one person (ORG-4).

    Linked to a personal account once the person joins (ORG-8). Sensitive values
    (mobile, ID number, bank card) are encrypted at rest with keyed-hash columns for
    lookups (ORG-10); the other ORG-4 groups arrive with the roster work.
    """

    # No index of its own: the (organization, …) indexes below serve every lookup by it.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="members", db_index=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="memberships"
    )
    departments = models.ManyToManyField(Department, through="MemberDepartment", related_name="members")
    status = models.CharField(_("status"), max_length=10, choices=MemberStatus.choices, default=MemberStatus.INVITED)
    name = models.CharField(_("name"), max_length=100)
    employee_number = models.CharField(_("employee number"), max_length=40, blank=True)
    position = models.CharField(_("position"), max_length=100, blank=True)
    grade = models.CharField(_("grade"), max_length=40, blank=True)
    labor_contract_status = models.CharField(
        _("labor-contract status"), max_length=12, choices=LaborContractStatus.choices, blank=True
    )
    office_email = models.EmailField(_("office email"), blank=True)
    office_phone = models.CharField(_("office phone"), max_length=32, blank=True)
    mobile = EncryptedTextField(_("mobile number"), purpose="organizations.member.mobile", blank=True)
    mobile_digest = models.CharField(max_length=64, blank=True, db_index=True)
    id_number = EncryptedTextField(_("ID card number"), purpose="organizations.member.id_number", blank=True)
    id_number_digest = models.CharField(max_length=64, blank=True, db_index=True)
    bank_card = EncryptedTextField(_("payroll bank card"), purpose="organizations.member.bank_card", blank=True)
    hired_on = models.DateField(_("hired on"), null=True, blank=True)
    # identity
    household_registration = models.CharField(_("household registration"), max_length=200, blank=True)
    # personal and business contact
    fixed_phone = models.CharField(_("fixed phone"), max_length=32, blank=True)
    personal_email = models.EmailField(_("personal email"), blank=True)
    # addresses
    home_address = EncryptedTextField(_("home address"), purpose="organizations.member.home_address", blank=True)
    office_address = models.CharField(_("office address"), max_length=200, blank=True)
    # education
    school = models.CharField(_("school"), max_length=100, blank=True)
    major = models.CharField(_("major"), max_length=100, blank=True)
    degree = models.CharField(_("degree"), max_length=12, choices=Degree.choices, blank=True)
    # payroll
    bank_name = models.CharField(_("payroll bank"), max_length=100, blank=True)
    # emergency contact
    emergency_contact_name = models.CharField(_("emergency contact"), max_length=100, blank=True)
    emergency_contact_relation = models.CharField(_("emergency contact's relation"), max_length=40, blank=True)
    emergency_contact_phone = EncryptedTextField(
        _("emergency contact's phone"), purpose="organizations.member.emergency_phone", blank=True
    )
    # school organizations: student identity and class
    student_grade = models.CharField(_("grade (school year)"), max_length=40, blank=True)
    student_class = models.CharField(_("class"), max_length=40, blank=True)
    student_photo_ref = models.CharField(_("student face photo reference"), max_length=100, blank=True)
    # SEC-3: the age check; always collected, so that a child is recognized before
    # anything beyond the basic fields is held about them.
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = MemberQuerySet.as_manager()

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        indexes = [
            models.Index(fields=["organization", "name"], name="member_org_name"),
            models.Index(fields=["organization", "id"], name="member_org_key"),
            models.Index(fields=["organization", "employee_number"], name="member_org_empno"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"],
                condition=models.Q(user__isnull=False),
                name="one_roster_entry_per_user",
            ),
            models.UniqueConstraint(
                fields=["organization", "employee_number"],
                condition=~models.Q(employee_number=""),
                name="unique_employee_number_per_org",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_status_display(self) -> str:
        # Django's generated one rebuilds a dict of every choice, translated, on each
        # call: once per row of a 50-row roster page, that was 2 ms of the page.
        try:
            return MemberStatus(self.status).label
        except ValueError:
            return self.status

    @property
    def masked_mobile(self) -> str:
        return mask_phone(self.mobile)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def masked_bank_card(self) -> str:
        return mask_bank_card(self.bank_card)

    personal_data = PersonalData(
        subject="user",
        note=(
            "Kept as an anonymous placeholder (status left): the organization's de-identified activity "
            "records keep pointing at it, and head counts stay right (ORG-11, ANON-3)."
        ),
        fields={
            "user": SET_NULL,
            "name": REDACT_TEXT,
            "employee_number": REDACT_BLANK,
            "position": REDACT_BLANK,
            "grade": REDACT_BLANK,
            "labor_contract_status": REDACT_BLANK,
            "office_email": REDACT_BLANK,
            "office_phone": REDACT_BLANK,
            "mobile": REDACT_BLANK,
            "mobile_digest": REDACT_BLANK,
            "id_number": REDACT_BLANK,
            "id_number_digest": REDACT_BLANK,
            "bank_card": REDACT_BLANK,
            "hired_on": SET_NULL,
            "household_registration": REDACT_BLANK,
            "fixed_phone": REDACT_BLANK,
            "personal_email": REDACT_BLANK,
            "home_address": REDACT_BLANK,
            "office_address": REDACT_BLANK,
            "school": REDACT_BLANK,
            "major": REDACT_BLANK,
            "degree": REDACT_BLANK,
            "bank_name": REDACT_BLANK,
            "emergency_contact_name": REDACT_BLANK,
            "emergency_contact_relation": REDACT_BLANK,
            "emergency_contact_phone": REDACT_BLANK,
            "student_grade": REDACT_BLANK,
            "student_class": REDACT_BLANK,
            "student_photo_ref": redact("", note="the photo is held by the school's face-recognition service (SVC-5)"),
            "birthday": SET_NULL,
        },
        non_personal={"id", "organization", "status", "created_at", "departments"},
    )


class MemberDepartment(models.Model):
    """A member's place in a department (ORG-3: one or more departments)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    department = models.ForeignKey(Department, on_delete=models.CASCADE)
    is_primary = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("member's department")
        verbose_name_plural = _("members' departments")
        constraints = [models.UniqueConstraint(fields=["member", "department"], name="member_department_unique")]

    def __str__(self) -> str:
        return f"{self.member_id} in {self.department_id}"

    personal_data = PersonalData(
        subject="member__user",
        row=DELETE_ROW,
        non_personal={"id", "member", "department", "is_primary"},
    )
