"""Organizations and their organization-control data (ORG-1, ORG-3, ORG-4, ORG-9).

The organization is the controller of this data (EN I(II)4): the roster, department
tree and activity records belong to it, while each member's personal account (the
``accounts.User`` linked from a roster entry) belongs to the person.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from dataprotection.fields import EncryptedTextField
from dataprotection.masking import mask_bank_card, mask_id_number, mask_phone


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


RIGHT_PERMISSIONS = [
    ("view_roster", "Can view the roster"),
    ("edit_roster", "Can edit the roster"),
    ("view_sensitive", "Can reveal sensitive roster fields"),
    ("manage_services", "Can open and close services"),
    ("manage_admins", "Can appoint and remove sub-administrators"),
    ("handle_requests", "Can handle members' data-subject requests"),
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
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        permissions = RIGHT_PERMISSIONS

    def __str__(self) -> str:
        return self.name


class DepartmentQuerySet(models.QuerySet):
    def subtree(self, department: Department) -> DepartmentQuerySet:
        """The department and all its descendants: one indexed prefix range scan."""
        return self.filter(organization_id=department.organization_id, path__startswith=department.path)


class Department(models.Model):
    """A node of an organization's department tree (ORG-3).

    Materialized path: ``path`` is the chain of ancestor ids, each as eight hex digits
    followed by "/" (``0000002a/0000002f/``). Subtree reads -- the hot path for scoped
    sub-administrators and department filters over 100k-member rosters -- become a single
    ``path LIKE 'prefix%'`` range scan on one index, on SQLite and PostgreSQL alike, with
    no recursive CTE. Moves rewrite the prefix of a subtree in one UPDATE. A closure table
    would make moves costlier and multiply rows; adjacency lists alone need recursion.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="departments")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    name = models.CharField(_("name"), max_length=200)
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    sort_order = models.PositiveIntegerField(_("order"), default=0)

    objects = DepartmentQuerySet.as_manager()

    SEGMENT = 9  # eight hex digits and a slash

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["path"]
        indexes = [models.Index(fields=["organization", "path"], name="dept_org_path")]
        permissions = RIGHT_PERMISSIONS

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def segment(pk: int) -> str:
        return f"{pk:08x}/"

    def compute_path(self, parent_path: str = "") -> str:
        return parent_path + self.segment(self.pk)


class LaborContractStatus(models.TextChoices):
    PROBATION = "probation", _("Probation")
    REGULAR = "regular", _("Regular")
    FIXED_TERM = "fixed_term", _("Fixed term")
    INTERN = "intern", _("Intern")
    LEFT = "left", _("Left")


class MemberStatus(models.TextChoices):
    INVITED = "invited", _("Invited")
    ACTIVE = "active", _("Active")
    LEFT = "left", _("Left")


class Member(models.Model):
    """A roster entry: organization-control data about one person (ORG-4).

    Linked to a personal account once the person joins (ORG-8). Sensitive values
    (mobile, ID number, bank card) are encrypted at rest with keyed-hash columns for
    lookups (ORG-10); the other ORG-4 groups arrive with the roster work.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="members")
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
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        indexes = [
            models.Index(fields=["organization", "name"], name="member_org_name"),
            models.Index(fields=["organization", "employee_number"], name="member_org_empno"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"],
                condition=models.Q(user__isnull=False),
                name="one_roster_entry_per_user",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def masked_mobile(self) -> str:
        return mask_phone(self.mobile)

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def masked_bank_card(self) -> str:
        return mask_bank_card(self.bank_card)


class MemberDepartment(models.Model):
    """A member's place in a department (ORG-3: one or more departments)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    department = models.ForeignKey(Department, on_delete=models.CASCADE)
    is_primary = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "department"], name="member_department_unique")]

    def __str__(self) -> str:
        return f"{self.member_id} in {self.department_id}"


class AdministratorRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    SUB_ADMIN = "sub_admin", _("Sub-administrator")


class Administrator(models.Model):
    """An organization administrator (ORG-9). The owner holds every right; a
    sub-administrator may be limited to department subtrees (``scope``)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="administrators")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="administrations")
    role = models.CharField(_("role"), max_length=10, choices=AdministratorRole.choices)
    scope = models.ManyToManyField(Department, blank=True, related_name="scoped_administrators")
    appointed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    appointed_at = models.DateTimeField(_("appointed at"), default=timezone.now)

    class Meta:
        verbose_name = _("administrator")
        verbose_name_plural = _("administrators")
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="one_admin_row_per_user"),
            models.UniqueConstraint(
                fields=["organization"], condition=models.Q(role="owner"), name="one_owner_per_organization"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class PunchKind(models.TextChoices):
    IN = "in", _("Clock in")
    OUT = "out", _("Clock out")


class AttendancePunch(models.Model):
    """An attendance punch with time, location and face-photo reference (ORG-4 activity
    record; a high-volume table)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
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
            models.Index(fields=["member", "punched_at"], name="punch_member_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.punched_at:%Y-%m-%d %H:%M}"


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

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
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
            models.Index(fields=["applicant", "submitted_at"], name="approval_applicant_time"),
        ]

    def __str__(self) -> str:
        return self.title


class OrganizationUserObjectPermission(UserObjectPermissionBase):
    """A right granted to one administrator on a whole organization (ORG-9).

    Direct foreign key instead of guardian's generic varchar ``object_pk``: joins use the
    primary-key index and the grant disappears with its object (style-anchors (d) 1, 4)."""

    content_object = models.ForeignKey(Organization, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("organization-wide grant")
        verbose_name_plural = _("organization-wide grants")


class OrganizationGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Organization, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("organization group grant")


class DepartmentUserObjectPermission(UserObjectPermissionBase):
    """A right granted to one administrator on a department subtree (ORG-9)."""

    content_object = models.ForeignKey(Department, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("department-subtree grant")
        verbose_name_plural = _("department-subtree grants")


class DepartmentGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Department, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("department group grant")


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
