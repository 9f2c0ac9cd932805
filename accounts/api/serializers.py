from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from accounts.api.strict import INT64_MAX, StrictModelSerializer, StrictSerializer
from accounts.models import ApiToken, TokenScope, User


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


class ErrorDetailSerializer(serializers.Serializer):
    """The inside of every error body (accounts.api.errors)."""

    status = serializers.IntegerField(help_text="The HTTP status code, repeated.")
    code = serializers.CharField(help_text="A stable machine-readable code, e.g. invalid, not_found, throttled.")
    message = serializers.CharField(help_text="The first problem, in the person's language.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per input field (or non_field_errors), its messages. Only on 400.",
    )


class ErrorSerializer(serializers.Serializer):
    """``{"error": {"status", "code", "message", "fields"?}}``: every 4xx of the API."""

    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    400: "The input is not valid: `fields` names each problem.",
    401: "No credentials, or the token is unknown, expired or revoked.",
    403: "Signed in, but not allowed to do this (or a read-only token tried to write).",
    404: "Not found, or outside what the caller may see.",
    405: "The method is not allowed here.",
    409: "The request conflicts with the current state.",
    413: "The request body is too large.",
    415: "The body is not JSON.",
    422: "The Idempotency-Key was used with a different request.",
    429: "Too many requests: retry after the Retry-After header's seconds.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """``{code: OpenApiResponse(ErrorSerializer, …)}`` for ``extend_schema(responses=…)``:
    ``responses={200: X, **error_responses(400, 403, 404)}``."""
    return {
        code: OpenApiResponse(response=ErrorSerializer, description=ERROR_DESCRIPTIONS.get(code, "An error."))
        for code in codes
    }
