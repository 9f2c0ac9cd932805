"""What an organization collects (ORG-5, ORG-6, ORG-8): the catalog of optional roster
fields, which of them the organization collects and why, which may be filled for a given
member, and the owner's changes to the settings.

The catalog below is the single list of optional organization-control fields on
``Member``. ``name`` and ``mobile`` are always collected: a roster entry needs a name,
and a person joins with their verified mobile number. Every other field is collected only
when the organization turns it on and states the purpose; a field that is off cannot be
filled, imported or exported. Until a member has accepted the invitation (or the upload
carries the administrator's attestation that the members consented), only the basic
fields are held.

Only the owner changes the settings. Turning a field off never silently keeps the data:
the values stored in it are either erased for the whole organization -- one set-based
UPDATE per field, whatever the roster size, recorded in the audit event -- or, without
the owner's explicit confirmation, the change is refused and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dataprotection.audit import record_event
from organizations.models import CollectionSetting, Member, MemberStatus, Organization, OrganizationKind
from organizations.permissions import OrgAccess

PURPOSE_MAX_LENGTH = 300
# The lookup digest that follows a column: erasing the value erases its digest too.
DIGEST_COLUMNS = {"id_number": "id_number_digest"}


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
    "employment": gettext_lazy("Employment"),
    "identity": gettext_lazy("Identity"),
    "contact": gettext_lazy("Contact"),
    "address": gettext_lazy("Address"),
    "education": gettext_lazy("Education"),
    "payroll": gettext_lazy("Payroll"),
    "emergency": gettext_lazy("Emergency contact"),
    "school": gettext_lazy("Student identity and class"),
}

ALWAYS_COLLECTED = ("name", "mobile")

CATALOG: tuple[CollectableField, ...] = (
    CollectableField("employee_number", "employment", basic=True, default_enabled=True,
                     default_purpose=gettext_lazy("Identify staff in attendance and approvals")),
    CollectableField("position", "employment", basic=True, default_enabled=True,
                     default_purpose=gettext_lazy("Show the organization chart")),
    CollectableField("grade", "employment"),
    CollectableField("labor_contract_status", "employment"),
    CollectableField("office_email", "employment", default_enabled=True,
                     default_purpose=gettext_lazy("Send work mail")),
    CollectableField("office_phone", "employment", default_enabled=True,
                     default_purpose=gettext_lazy("Reach colleagues at work")),
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


def blank_value(name: str):
    """What an erased value of ``name`` looks like: ``None`` where the column is
    nullable (dates), the empty string elsewhere."""
    return None if Member._meta.get_field(name).null else ""


def holds_value(name: str) -> Q:
    """Members holding a value in ``name`` (the blank value is "no value")."""
    if Member._meta.get_field(name).null:
        return Q(**{f"{name}__isnull": False})
    return ~Q(**{name: ""})


def stored_value_counts(organization, names) -> dict[str, int]:
    """How many members of the organization hold a value in each field: one aggregate
    query whatever the number of fields."""
    names = list(names)
    if not names:
        return {}
    return Member.objects.filter(organization=organization).aggregate(
        **{name: Count("pk", filter=holds_value(name)) for name in names}
    )


def field_label(name: str) -> str:
    return str(capfirst(Member._meta.get_field(name).verbose_name))


@dataclass
class CollectionUpdate:
    """What ``update_collection_settings`` did."""

    turned_on: list[str] = field(default_factory=list)
    turned_off: list[str] = field(default_factory=list)
    purpose_changed: list[str] = field(default_factory=list)
    erased: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.turned_on or self.turned_off or self.purpose_changed)


@transaction.atomic
def update_collection_settings(
    access: OrgAccess,
    settings_by_field: dict[str, tuple[bool, str]],
    ip: str | None = None,
    *,
    erase: bool = False,
) -> CollectionUpdate:
    """ORG-5: store whether each field is collected and its purpose (owner only).

    ``settings_by_field`` maps catalog field names available to the organization to
    ``(collected, purpose)``; fields left out keep their setting. A collected field
    needs a purpose. Turning off a field that members hold values in is refused
    (``ValidationError`` code ``values_stored``, nothing written) unless ``erase`` is
    given: then that column is blanked for the whole organization, one UPDATE per field.
    One ``collection.updated`` audit event lists the fields turned on and off, the
    purposes changed and the number of values erased per field (never the values).
    """
    if not access.is_owner:
        raise PermissionDenied
    organization = access.organization
    available = {f.name for f in available_fields(organization)}
    unknown = set(settings_by_field) - available
    if unknown:
        raise ValueError(f"not a collectable field of this organization: {sorted(unknown)}")
    cleaned: dict[str, tuple[bool, str]] = {}
    for name, (enabled, purpose) in settings_by_field.items():
        purpose = (purpose or "").strip()
        if enabled and not purpose:
            raise ValidationError(
                _("State why you collect “%(field)s”."), code="purpose_required", params={"field": field_label(name)}
            )
        if len(purpose) > PURPOSE_MAX_LENGTH:
            raise ValidationError(
                _("The purpose of “%(field)s” is longer than %(limit)d characters."),
                code="purpose_too_long",
                params={"field": field_label(name), "limit": PURPOSE_MAX_LENGTH},
            )
        cleaned[name] = (bool(enabled), purpose)

    current = collection_settings(organization)
    stored = set(CollectionSetting.objects.filter(organization=organization).values_list("field", flat=True))
    result = CollectionUpdate()
    to_write: list[CollectionSetting] = []
    for name, (enabled, purpose) in cleaned.items():
        was_enabled, was_purpose = current[name]
        if enabled and not was_enabled:
            result.turned_on.append(name)
        elif was_enabled and not enabled:
            result.turned_off.append(name)
        elif enabled and purpose != was_purpose:
            result.purpose_changed.append(name)
        if (enabled, purpose) != (was_enabled, was_purpose) or name not in stored:
            # An off field keeps its last purpose only if one was typed; defaults are stored
            # explicitly so that a later change of a default never changes a decision.
            to_write.append(CollectionSetting(organization=organization, field=name, enabled=enabled, purpose=purpose))

    if result.turned_off:
        counts = stored_value_counts(organization, result.turned_off)
        holding = {name: counts[name] for name in result.turned_off if counts[name]}
        if holding and not erase:
            raise ValidationError(
                _(
                    "Members hold values in fields you are turning off (%(fields)s). Confirm that their stored "
                    "values are erased, or keep collecting these fields."
                ),
                code="values_stored",
                params={
                    "fields": ", ".join(
                        _("%(field)s: %(count)d members") % {"field": field_label(name), "count": count}
                        for name, count in holding.items()
                    )
                },
            )
        members = Member.objects.filter(organization=organization)
        for name in holding:
            values = {name: blank_value(name)}
            if name in DIGEST_COLUMNS:
                values[DIGEST_COLUMNS[name]] = ""
            result.erased[name] = members.filter(holds_value(name)).update(**values)

    if to_write:
        CollectionSetting.objects.bulk_create(
            to_write,
            update_conflicts=True,
            unique_fields=["organization", "field"],
            update_fields=["enabled", "purpose", "updated_at"],
        )
    if result.changed:
        record_event(
            "collection.updated",
            actor=access.user,
            organization=organization,
            ip=ip,
            changes=[*result.turned_on, *result.turned_off, *result.purpose_changed],
            metadata={
                "turned_on": sorted(result.turned_on),
                "turned_off": sorted(result.turned_off),
                "purpose_changed": sorted(result.purpose_changed),
                "erased": result.erased,
                "sensitive": sorted(n for n in (*result.turned_on, *result.turned_off) if BY_NAME[n].sensitive),
            },
        )
    return result
