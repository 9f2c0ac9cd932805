"""The error body as serializers, for the OpenAPI schema: every endpoint names its error
answers with ``error_responses`` (the schema hook adds the ones any endpoint can give)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    """The inside of every error body (dataprotection.api.errors)."""

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
