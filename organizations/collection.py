"""Which roster fields an organization collects, and why (ORG-5), and which of them may
be filled for a given member (ORG-6, ORG-8).

The catalog below is the single list of optional organization-control fields on
``Member``. ``name`` and ``mobile`` are always collected: a roster entry needs a name,
and a person joins with their verified mobile number. Every other field is collected only
when the organization turns it on and states the purpose; a field that is off cannot be
filled, imported or exported. Until a member has accepted the invitation (or the upload
carries the administrator's attestation that the members consented), only the basic
fields are held.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from organizations.models import CollectionSetting, Member, MemberStatus, Organization, OrganizationKind


@dataclass(frozen=True)
class CollectableField:
    name: str
    group: str
    sensitive: bool = False
    basic: bool = False
    default_enabled: bool = False
    default_purpose: Promise | str = ""
    schools_only: bool = False

    @property
    def label(self):
        return Member._meta.get_field(self.name).verbose_name


GROUPS = {
    "employment": _("Employment"),
    "identity": _("Identity"),
    "contact": _("Contact"),
    "address": _("Address"),
    "education": _("Education"),
    "payroll": _("Payroll"),
    "emergency": _("Emergency contact"),
    "school": _("Student identity and class"),
}

ALWAYS_COLLECTED = ("name", "mobile")

CATALOG: tuple[CollectableField, ...] = (
    CollectableField("employee_number", "employment", basic=True, default_enabled=True,
                     default_purpose=_("Identify staff in attendance and approvals")),
    CollectableField("position", "employment", basic=True, default_enabled=True,
                     default_purpose=_("Show the organization chart")),
    CollectableField("grade", "employment"),
    CollectableField("labor_contract_status", "employment"),
    CollectableField("office_email", "employment", default_enabled=True,
                     default_purpose=_("Send work mail")),
    CollectableField("office_phone", "employment", default_enabled=True,
                     default_purpose=_("Reach colleagues at work")),
    CollectableField("hired_on", "employment"),
    CollectableField("id_number", "identity", sensitive=True),
    CollectableField("household_registration", "identity"),
    CollectableField("fixed_phone", "contact"),
    CollectableField("personal_email", "contact"),
    CollectableField("home_address", "address", sensitive=True),
    CollectableField("office_address", "address"),
    CollectableField("school", "education"),
    CollectableField("major", "education"),
    CollectableField("degree", "education"),
    CollectableField("bank_name", "payroll"),
    CollectableField("bank_card", "payroll", sensitive=True),
    CollectableField("emergency_contact_name", "emergency"),
    CollectableField("emergency_contact_relation", "emergency"),
    CollectableField("emergency_contact_phone", "emergency", sensitive=True),
    CollectableField("student_grade", "school", schools_only=True),
    CollectableField("student_class", "school", schools_only=True),
    CollectableField("student_photo_ref", "school", sensitive=True, schools_only=True),
)  # fmt: skip
BY_NAME = {field.name: field for field in CATALOG}
SENSITIVE_FIELDS = frozenset({"mobile"} | {field.name for field in CATALOG if field.sensitive})
BASIC_FIELDS = frozenset(ALWAYS_COLLECTED) | {field.name for field in CATALOG if field.basic}


def available_fields(organization: Organization) -> tuple[CollectableField, ...]:
    is_school = organization.kind == OrganizationKind.SCHOOL
    return tuple(field for field in CATALOG if is_school or not field.schools_only)


def collection_settings(organization: Organization) -> dict[str, tuple[bool, str]]:
    """Field name -> (collected, purpose), defaults overlaid with the stored settings
    (one query)."""
    result = {
        field.name: (field.default_enabled, str(field.default_purpose)) for field in available_fields(organization)
    }
    for name, enabled, purpose in CollectionSetting.objects.filter(organization=organization).values_list(
        "field", "enabled", "purpose"
    ):
        if name in result:
            result[name] = (enabled, purpose)
    return result


def collected_fields(organization: Organization) -> frozenset[str]:
    """Every field the organization collects, including the always-collected ones."""
    settings_by_field = collection_settings(organization)
    return frozenset(ALWAYS_COLLECTED) | {name for name, (enabled, _purpose) in settings_by_field.items() if enabled}


def has_consented(member: Member | None) -> bool:
    """A joined member accepted the invitation and its terms (ORG-8)."""
    return member is not None and member.status == MemberStatus.ACTIVE and member.user_id is not None


def fillable_fields(collected: frozenset[str], member: Member | None, *, attested: bool) -> frozenset[str]:
    """Fields that may be written for ``member`` (``None``: a new roster entry): every
    collected field once the member consented or the upload is attested (ORG-6),
    otherwise only the collected basic fields (ORG-8)."""
    if attested or has_consented(member):
        return collected
    return collected & BASIC_FIELDS
