from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from accounts.models import ApiToken, TokenScope, User


class MeSerializer(serializers.ModelSerializer):
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


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scope = serializers.ChoiceField(choices=TokenScope.choices, default=TokenScope.READ)
    days = serializers.IntegerField(min_value=1, max_value=settings.API_TOKEN_MAX_DAYS, required=False)
    organization_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once: store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "secret"]
        read_only_fields = fields
