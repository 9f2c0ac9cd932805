"""The accounts endpoints' serializers: the signed-in person, personal access tokens."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from accounts.models import ApiToken, TokenScope, User
from dataprotection.api.strict import INT64_MAX, StrictModelSerializer, StrictSerializer


class MeSerializer(StrictModelSerializer):
    """The signed-in person's own profile (ACC-2)."""

    class Meta:
        model = User
        fields = [
            "id",
            "phone",
            "name",
            "nickname",
            "gender",
            "birthday",
            "work_region",
            "company_email",
            "preferred_language",
            "data_region",
            "date_joined",
        ]
        read_only_fields = ["id", "phone", "data_region", "date_joined"]


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "scope",
            "organization_id",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        ]
        read_only_fields = fields


class ApiTokenCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    scope = serializers.ChoiceField(choices=TokenScope.choices, default=TokenScope.READ)
    days = serializers.IntegerField(min_value=1, max_value=settings.API_TOKEN_MAX_DAYS, required=False)
    organization_id = serializers.IntegerField(
        min_value=1,
        max_value=INT64_MAX,
        required=False,
        allow_null=True,
        help_text="Restrict the token to one organization you administer (its integrations).",
    )


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    # Not read-only so that the schema does not mark it required: an Idempotency-Key
    # replay answers without it (only the digest is ever stored). Never used for input.
    secret = serializers.CharField(
        required=False,
        help_text="Shown once: store it now. Absent when an Idempotency-Key replays the answer.",
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "secret"]
        read_only_fields = fields
