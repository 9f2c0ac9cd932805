"""Serializers of the organization API (the REST API). Output serializers describe what the
views build from the same selectors as the pages; input serializers are strict (unknown
fields are a 400 naming them) and only check types and sizes -- the pages' forms and
the services decide everything else."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dataprotection.api.strict import StrictSerializer
from dataprotection.models import JobStatus
from organizations.models import (
    AdministratorRole,
    Edition,
    MemberStatus,
    OrganizationKind,
    OrganizationStatus,
    Right,
)
from organizations.services import collection
from organizations.services.roster import EDITABLE_FIELDS, LIFECYCLE_FIELDS
from organizations.services.roster_import.columns import DEPARTMENT, IMPORTABLE_FIELDS


@extend_schema_field(OpenApiTypes.STR)
class TextChoiceField(serializers.ChoiceField):
    """A choice documented as text listing its values: the names ``status`` and
    ``kind`` carry other choice sets in other apps' schemas (one enum name each)."""

    def __init__(self, choices, **kwargs):
        kwargs.setdefault("help_text", "One of: " + ", ".join(str(value) for value, _label in choices) + ".")
        super().__init__(choices=choices, **kwargs)


RIGHTS = serializers.ListField(child=serializers.ChoiceField(choices=Right.choices))
# The largest text any roster field takes (the forms then apply each field's own limit):
# a bigger value is refused before it reaches them.
MAX_VALUE_LENGTH = 300
BULK_MAX_ROWS = 5_000

# ---------------------------------------------------------------------- organizations


class OrganizationSerializer(serializers.Serializer):
    """ORG-1, ORG-9: an organization the caller administers, with the caller's role and
    the rights it holds somewhere in it (write rights drop while a disband is pending)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = TextChoiceField(OrganizationKind.choices)
    edition = serializers.ChoiceField(choices=Edition.choices)
    status = TextChoiceField(OrganizationStatus.choices)
    role = serializers.ChoiceField(choices=AdministratorRole.choices)
    rights = RIGHTS


class OrganizationDetailSerializer(OrganizationSerializer):
    """ORG-1, ORG-2: the organization's facts (never its certification documents)."""

    location = serializers.CharField()
    industry = serializers.CharField()
    staff_size = serializers.CharField()
    data_region = serializers.CharField()
    certification_status = serializers.CharField()
    created_at = serializers.DateTimeField()


# ---------------------------------------------------------------------- departments


class DepartmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    parent = serializers.IntegerField(source="parent_id", allow_null=True)
    depth = serializers.IntegerField()
    sort_order = serializers.IntegerField()
    can_edit = serializers.BooleanField(help_text="The caller holds edit_roster on this department's subtree.")


class DepartmentCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    parent = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="Omit only for the first, top-level department."
    )


class DepartmentUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False)
    parent = serializers.IntegerField(min_value=1, required=False, help_text="Moves the whole subtree.")


# ---------------------------------------------------------------------- members


class MemberListSerializer(serializers.Serializer):
    """ORG-7, ORG-10: a roster row with the columns of the roster page, the mobile and
    ID numbers masked as there."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    employee_number = serializers.CharField()
    position = serializers.CharField()
    primary_department = serializers.CharField(allow_null=True)
    status = TextChoiceField(MemberStatus.choices)
    mobile = serializers.CharField(source="masked_mobile", help_text="Masked (ORG-10).")
    id_number = serializers.CharField(source="masked_id_number", help_text="Masked (ORG-10).")


class PlacementSerializer(serializers.Serializer):
    department = serializers.IntegerField()
    name = serializers.CharField()
    is_primary = serializers.BooleanField()


class MemberDetailSerializer(serializers.Serializer):
    """ORG-4, ORG-10: every field the organization collects (``fields``, sensitive ones
    masked; reveal one with ``POST …/reveal/``), the placements, and what the caller may
    do with this member."""

    id = serializers.IntegerField()
    status = TextChoiceField(MemberStatus.choices)
    joined = serializers.BooleanField(help_text="The person accepted the invitation (ORG-8).")
    created_at = serializers.DateTimeField()
    departments = PlacementSerializer(many=True)
    fields = serializers.DictField(
        child=serializers.CharField(allow_null=True),
        help_text="Collected field -> value (dates as YYYY-MM-DD); sensitive fields masked.",
    )
    masked_fields = serializers.ListField(child=serializers.CharField())
    can_edit = serializers.BooleanField()
    can_reveal = serializers.BooleanField()


def _value_field(name: str) -> serializers.Field:
    help_text = _("Leave blank to keep the stored value.") if name in collection.SENSITIVE_FIELDS else None
    return serializers.CharField(
        max_length=MAX_VALUE_LENGTH, required=False, allow_blank=True, allow_null=True, help_text=help_text
    )


class MemberWriteSerializer(StrictSerializer):
    """ORG-5, ORG-6, ORG-7: the roster fields, as text (the roster form checks each one).
    Built from the single catalog (``organizations.services.collection``); a field the
    organization does not collect is refused by the view."""

    attested = serializers.BooleanField(
        required=False,
        default=False,
        help_text=str(
            _("ORG-6: the administrator confirms the member gave explicit consent (needed beyond the basic fields).")
        ),
    )

    def get_fields(self):
        fields = super().get_fields()
        for name in EDITABLE_FIELDS:
            if name in LIFECYCLE_FIELDS:
                fields[name] = TextChoiceField(MemberStatus.choices, required=False)
            else:
                fields[name] = _value_field(name)
        return fields


class MemberCreateSerializer(MemberWriteSerializer):
    department = serializers.IntegerField(
        min_value=1, required=False, allow_null=True, help_text="Where the entry goes; the top-level one if omitted."
    )

    def get_fields(self):
        # What a new entry may be given: what the import fills (a new entry is
        # invited, ORG-8; the student photo is a stored image's reference).
        fields = super().get_fields()
        for name in EDITABLE_FIELDS:
            if name not in IMPORTABLE_FIELDS:
                del fields[name]
        return fields


class RevealRequestSerializer(StrictSerializer):
    field = serializers.ChoiceField(choices=sorted(collection.SENSITIVE_FIELDS))


class RevealSerializer(serializers.Serializer):
    field = serializers.CharField()
    value = serializers.CharField()


# ---------------------------------------------------------------------- bulk upsert


class AttestationSerializer(StrictSerializer):
    confirmed = serializers.BooleanField(
        help_text=str(
            _("ORG-6: true confirms that the members gave explicit consent to the organization uploading this data.")
        )
    )

    def validate_confirmed(self, value):
        if not value:
            raise serializers.ValidationError(_("Confirm that the members consented before you upload their data."))
        return value


class BulkRowField(serializers.DictField):
    """One roster row: field name -> text (or null for blank), ``department`` as a path
    ("Sales/Sales East") or a department id."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.JSONField(allow_null=True), **kwargs)


BULK_COLUMNS = (*IMPORTABLE_FIELDS, DEPARTMENT)


class BulkUpsertSerializer(StrictSerializer):
    attestation = AttestationSerializer()
    mode = serializers.ChoiceField(choices=[("all_or_nothing", "all_or_nothing"), ("valid_only", "valid_only")])
    rows = serializers.ListField(
        child=BulkRowField(),
        min_length=1,
        help_text=f"At most {BULK_MAX_ROWS} rows. Keys: {', '.join(BULK_COLUMNS)}.",
    )


class BulkErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The row's index in ``rows``, from 0.")
    column = serializers.CharField(help_text="The field, or empty for the row as a whole.")
    message = serializers.CharField()


class BulkReportSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    errors = BulkErrorSerializer(many=True)


# ---------------------------------------------------------------------- administrators


class AdministratorGrantSerializer(serializers.Serializer):
    right = TextChoiceField(Right.choices)
    department = serializers.IntegerField(allow_null=True, help_text="null: the whole organization.")


class AdministratorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user = serializers.IntegerField(source="user_id")
    name = serializers.CharField(source="user.name")
    phone = serializers.CharField(source="user.masked_phone", help_text="Masked.")
    role = serializers.ChoiceField(choices=AdministratorRole.choices)
    appointed_at = serializers.DateTimeField()
    scope = serializers.ListField(child=serializers.IntegerField(), help_text="Departments; empty: whole organization.")
    grants = AdministratorGrantSerializer(
        many=True, help_text="Grants on departments outside the caller's scope are only counted."
    )
    grants_outside_scope = serializers.IntegerField()
    editable = serializers.BooleanField()


class AdministratorRightsSerializer(StrictSerializer):
    rights = serializers.ListField(child=serializers.ChoiceField(choices=Right.choices), min_length=1, max_length=20)
    departments = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        max_length=500,
        required=False,
        help_text="Each right is granted on each department's subtree; empty or omitted: the whole organization.",
    )


class AdministratorUpdateSerializer(AdministratorRightsSerializer):
    def get_fields(self):
        fields = super().get_fields()
        fields["rights"].required = False
        return fields


class AppointSerializer(AdministratorRightsSerializer):
    phone = serializers.CharField(max_length=32, help_text="The mobile number of their personal account.")


# ---------------------------------------------------------------------- disband


class DisbandStartSerializer(StrictSerializer):
    code = serializers.CharField(max_length=6, min_length=6)
    confirm_name = serializers.CharField(max_length=200)


class DisbandStageSerializer(serializers.Serializer):
    name = serializers.CharField()
    total = serializers.IntegerField()
    processed = serializers.IntegerField()


class DisbandProgressSerializer(serializers.Serializer):
    status = TextChoiceField(JobStatus.choices)
    total = serializers.IntegerField()
    processed = serializers.IntegerField()
    percent = serializers.IntegerField()
    current_stage = serializers.CharField()
    stages = DisbandStageSerializer(many=True)


class DisbandJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = TextChoiceField(JobStatus.choices)
    runs_after = serializers.DateTimeField(source="not_before")
    requested_at = serializers.DateTimeField(source="created_at")
    finished_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    can_cancel = serializers.BooleanField()
    progress = DisbandProgressSerializer()
    report = serializers.JSONField(allow_null=True, help_text="The deletion report, once the cascade ended.")


class DisbandStatusSerializer(serializers.Serializer):
    organization_status = TextChoiceField(OrganizationStatus.choices)
    job = DisbandJobSerializer(allow_null=True)


class DisbandCodeSentSerializer(serializers.Serializer):
    sent_to = serializers.CharField(help_text="The owner's masked mobile number.")


# ---------------------------------------------------------------------- audit


class AuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    action = serializers.CharField()
    actor = serializers.IntegerField(source="actor_id", allow_null=True)
    actor_name = serializers.SerializerMethodField()
    actor_kind = serializers.CharField()
    target_type = serializers.CharField()
    target_id = serializers.CharField()
    ip_address = serializers.CharField(allow_null=True)
    changes = serializers.JSONField()
    metadata = serializers.JSONField()

    def get_actor_name(self, event) -> str:
        return event.actor.name if event.actor is not None else ""
