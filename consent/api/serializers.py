"""Serializers of the consent API (the REST API): input ones are strict (unknown fields are
a 400 naming them), output ones describe exactly what the views answer."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from consent.models import PURPOSES, ConsentRecord, Decision, DevicePermission, Purpose
from consent.models.sharing import DataScope, DeletionNotice, GrantStatus, NoticeStatus, ServiceKind, SharingGrant
from dataprotection.api.strict import StrictSerializer


def choice_text(choices, **kwargs) -> serializers.CharField:
    """A read-only code of ``choices``, documented by its values rather than an enum
    component: several apps name different choice sets "status" or "kind", and one
    enum name per field name keeps the schema free of naming collisions."""
    values = ", ".join(value for value, _label in choices)
    return serializers.CharField(read_only=True, help_text=f"One of: {values}.", **kwargs)


# --------------------------------------------------------------------------- consents (CON-1 to CON-5)


class PurposeStateSerializer(serializers.Serializer):
    """One purpose with the person's current decision (CON-2, CON-3)."""

    purpose = serializers.ChoiceField(choices=Purpose.choices)
    label = serializers.CharField()
    description = serializers.CharField()
    sensitive = serializers.BooleanField(help_text="CON-5: granted only with `explicit: true`.")
    granted = serializers.BooleanField()
    decision = serializers.ChoiceField(choices=Decision.choices, allow_null=True, help_text="Null: never decided.")
    decided_at = serializers.DateTimeField(allow_null=True)
    channel = serializers.CharField(allow_null=True)
    policy_version = serializers.CharField(
        allow_null=True, help_text="The policy version (its label) the decision was made under."
    )


class ConsentOverviewSerializer(serializers.Serializer):
    current_policy_version = serializers.IntegerField(
        allow_null=True,
        help_text="Send this id back as `policy_version` when deciding; null while no policy is published.",
    )
    current_policy_version_label = serializers.CharField(allow_null=True)
    purposes = PurposeStateSerializer(many=True)


class ConsentDecisionSerializer(StrictSerializer):
    """CON-2, CON-5: one decision about one purpose, made on the policy version seen."""

    purpose = serializers.ChoiceField(choices=Purpose.choices)
    decision = serializers.ChoiceField(choices=Decision.choices)
    policy_version = serializers.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        allow_null=True,
        help_text="The `current_policy_version` the person was shown (null when none is published). "
        "A newer one published since is a 400: review the policy, then decide again.",
    )
    explicit = serializers.BooleanField(
        default=False,
        help_text="CON-5: granting a sensitive purpose needs the person's explicit confirmation of what is processed.",
    )

    def validate(self, attrs):
        purpose, decision = attrs["purpose"], attrs["decision"]
        if decision == Decision.GRANTED and PURPOSES[purpose].sensitive and not attrs["explicit"]:
            raise serializers.ValidationError(
                {
                    "explicit": [
                        _(
                            "%(purpose)s is sensitive: send explicit: true to confirm the person's explicit "
                            "consent to what is processed."
                        )
                        % {"purpose": Purpose(purpose).label}
                    ]
                }
            )
        return attrs


class ConsentRecordSerializer(serializers.ModelSerializer):
    """One entry of the ledger (CON-2): withdrawals never erase grants."""

    policy_version = serializers.CharField(source="policy_version.version", allow_null=True, default=None)

    class Meta:
        model = ConsentRecord
        fields = ["id", "purpose", "decision", "channel", "actor", "policy_version", "recorded_at"]
        read_only_fields = fields


class PrivacySettingsSerializer(StrictSerializer):
    """CON-3, CON-4: being findable by phone number and the device permissions client
    apps may use (anything not listed is off)."""

    findable_by_phone = serializers.BooleanField(required=False)
    device_permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=DevicePermission.choices),
        required=False,
        allow_empty=True,
        max_length=len(DevicePermission.values),
    )
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)


# --------------------------------------------------------------------------- services (SVC-1 to SVC-3)


class GrantSerializer(serializers.ModelSerializer):
    """SVC-3: who opened (and closed) a service for the organization, which scopes at
    which revision, when."""

    service_id = serializers.IntegerField(read_only=True)
    service_code = serializers.CharField(source="service.code", read_only=True)
    opened_by = serializers.CharField(source="opened_by.name", allow_null=True, default=None, read_only=True)
    closed_by = serializers.CharField(source="closed_by.name", allow_null=True, default=None, read_only=True)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=DataScope.choices), read_only=True)
    status = choice_text(GrantStatus.choices)

    class Meta:
        model = SharingGrant
        fields = [
            "id",
            "service_id",
            "service_code",
            "status",
            "scopes",
            "scopes_revision",
            "opened_by",
            "opened_at",
            "confirmed_at",
            "closed_by",
            "closed_at",
            "close_reason",
        ]
        read_only_fields = fields


class ServiceStateSerializer(serializers.Serializer):
    """SVC-1: a catalog entry with its state for the organization."""

    id = serializers.IntegerField(source="service.pk")
    code = serializers.CharField(source="service.code")
    name = serializers.CharField(source="service.name")
    kind = choice_text(ServiceKind.choices, source="service.kind")
    description = serializers.CharField(source="service.description")
    provider_name = serializers.CharField(source="service.provider_name")
    privacy_policy_url = serializers.CharField(source="service.privacy_policy_url")
    data_scopes = serializers.ListField(
        source="service.data_scopes",
        child=serializers.CharField(),
        help_text="The scopes it declares now; send them back with scopes_revision to open it.",
    )
    scopes_revision = serializers.IntegerField(source="service.scopes_revision")
    listed = serializers.BooleanField(source="service.listed")
    is_open = serializers.BooleanField()
    asks_for_more = serializers.ListField(
        child=serializers.CharField(), help_text="SVC-2: scopes added since the last confirmation (reconfirm them)."
    )
    grant = GrantSerializer(allow_null=True, help_text="The open grant, else the latest closed one, else null.")


class ConfirmSharingSerializer(StrictSerializer):
    """SVC-2: exactly what the administrator confirms, as the catalog showed it."""

    scopes = serializers.ListField(
        child=serializers.CharField(max_length=32),
        allow_empty=True,
        max_length=len(DataScope.values),
        help_text="The service's data_scopes as shown.",
    )
    scopes_revision = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class DeletionNoticeSerializer(serializers.ModelSerializer):
    """SVC-3: a deletion notice to a provider and where its delivery stands."""

    service_id = serializers.IntegerField(read_only=True)
    service_code = serializers.CharField(source="service.code", read_only=True)
    status = choice_text(NoticeStatus.choices)

    class Meta:
        model = DeletionNotice
        fields = [
            "uuid",
            "service_id",
            "service_code",
            "reason",
            "status",
            "attempts",
            "last_status_code",
            "next_attempt_at",
            "created_at",
            "acknowledged_at",
        ]
        read_only_fields = fields


class ClosedServiceSerializer(serializers.Serializer):
    grant = GrantSerializer()
    deletion_notice = DeletionNoticeSerializer(allow_null=True, help_text="Null for a first-party service.")
