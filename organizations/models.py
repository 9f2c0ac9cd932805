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
from dataprotection.models import LiveJob
from dataprotection.personal_data import (
    DELETE_ROW,
    ERASE_FILE,
    REDACT_BLANK,
    REDACT_TEXT,
    SET_NULL,
    PersonalData,
    redact,
)
from organizations.children import AUSTRALIA, DEFAULT, children_q


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
    # SEC-3: where the organization's people are located decides who is a child
    # (``organizations.children``), and one designated administrator answers for
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
            "children_jurisdiction",
        },
    )


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

    personal_data = PersonalData(
        subject=None,
        non_personal={"id", "organization", "parent", "name", "path", "depth", "sort_order"},
    )


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
        (``organizations.children.child_cutoff``)."""
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

    personal_data = PersonalData(
        subject="user",
        row=DELETE_ROW,
        fields={"user": DELETE_ROW, "appointed_by": SET_NULL},
        non_personal={"id", "organization", "role", "appointed_at", "scope"},
    )


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


# Grant rows: a user grant is the administrator's own data and goes with them; group
# grants name no person. Shared by the organization-wide and the subtree tables.
USER_GRANT_PERSONAL_DATA = PersonalData(
    subject="user",
    row=DELETE_ROW,
    fields={"user": DELETE_ROW},
    non_personal={"id", "permission", "content_object"},
)
GROUP_GRANT_PERSONAL_DATA = PersonalData(subject=None, non_personal={"id", "permission", "group", "content_object"})


class OrganizationUserObjectPermission(UserObjectPermissionBase):
    """A right granted to one administrator on a whole organization (ORG-9).

    Direct foreign key instead of guardian's generic varchar ``object_pk``: joins use the
    primary-key index and the grant disappears with its object (style-anchors (d) 1, 4)."""

    content_object = models.ForeignKey(Organization, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("organization-wide grant")
        verbose_name_plural = _("organization-wide grants")

    personal_data = USER_GRANT_PERSONAL_DATA


class OrganizationGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Organization, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("organization group grant")

    personal_data = GROUP_GRANT_PERSONAL_DATA


class DepartmentUserObjectPermission(UserObjectPermissionBase):
    """A right granted to one administrator on a department subtree (ORG-9)."""

    content_object = models.ForeignKey(Department, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("department-subtree grant")
        verbose_name_plural = _("department-subtree grants")

    personal_data = USER_GRANT_PERSONAL_DATA


class DepartmentGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Department, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("department group grant")

    personal_data = GROUP_GRANT_PERSONAL_DATA


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


# --------------------------------------------------------------------------- more ORG-4 data


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

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="guardian_consents")
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


# --------------------------------------------------------------------------- minimization and consent


class CollectionSetting(models.Model):
    """ORG-5: whether an organization collects one roster field, and why. A field that
    is off cannot be filled, imported or exported (see ``organizations.collection``)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="collection_settings")
    field = models.CharField(_("field"), max_length=40)
    enabled = models.BooleanField(_("collected"), default=False)
    purpose = models.CharField(_("purpose"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("collection setting")
        verbose_name_plural = _("collection settings")
        constraints = [models.UniqueConstraint(fields=["organization", "field"], name="one_setting_per_field")]

    def __str__(self) -> str:
        return f"{self.field}: {'on' if self.enabled else 'off'}"

    personal_data = PersonalData(
        subject=None,
        non_personal={"id", "organization", "field", "enabled", "purpose", "updated_at"},
    )


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


class InvitationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    REVOKED = "revoked", _("Revoked")


class Invitation(models.Model):
    """ORG-8: an invitation for a roster entry's person to join with their verified
    number. It shows the purpose, scope and use of the data the organization collects;
    the acceptance (with the exact text shown) is the member's consent record (ORG-6)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="invitations")
    token_digest = models.CharField(max_length=64, unique=True)
    message = models.TextField(_("invitation message"), blank=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("sent at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    status = models.CharField(
        _("status"), max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    responded_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shown_terms = models.JSONField(_("terms shown"), default=dict, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=models.Q(status="pending"), name="one_pending_invitation_per_member"
            )
        ]

    def __str__(self) -> str:
        return f"{self.member} ({self.get_status_display()})"

    personal_data = PersonalData(
        subject="member__user",
        row=DELETE_ROW,
        fields={"message": REDACT_BLANK, "invited_by": SET_NULL, "accepted_by": SET_NULL},
        non_personal={
            "id",
            "organization",
            "member",
            "token_digest",
            "created_at",
            "expires_at",
            "status",
            "responded_at",
            "shown_terms",
        },
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


# --------------------------------------------------------------------------- retention (ANON-5, ANON-6)


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


from organizations.incidents import IncidentAffectedPerson, IncidentNotice, SecurityIncident  # noqa: E402, F401  SEC-4
