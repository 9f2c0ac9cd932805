"""One error body for every API failure, the REST API's and the provider API's:

``{"error": {"status": 400, "code": "invalid", "message": "…", "fields": {"name": ["…"]}}}``

Django's own ``ValidationError``, ``PermissionDenied`` and ``Http404`` raised by services
and the permission gates become 400, 403 and 404 with the same shape. An exception may
carry ``response_headers`` that go onto the answer, and a ``PermissionDenied`` an
``api_code`` (accounts: the second factor a gate found missing, with the header naming
what the caller's sign-in lacks), so no app below needs to know the apps above."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


def _django_validation_detail(exc: DjangoValidationError):
    if hasattr(exc, "error_dict"):
        # message_dict: error_dict holds lists of ValidationError, not messages.
        return {field: [str(message) for message in messages] for field, messages in exc.message_dict.items()}
    return [str(message) for message in exc.messages]


def _messages(value, prefix: str, into: dict[str, list[str]]) -> None:
    """Nested serializer errors as flat ``"items.0.name": ["…"]`` entries, so every
    ``fields`` value is a list of strings whatever the input's shape."""
    if isinstance(value, dict):
        for key, inner in value.items():
            _messages(inner, f"{prefix}.{key}" if prefix else str(key), into)
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            if isinstance(inner, dict | list | tuple):
                _messages(inner, f"{prefix}.{index}" if prefix else str(index), into)
            else:
                into.setdefault(prefix or "non_field_errors", []).append(str(inner))
    else:
        into.setdefault(prefix or "non_field_errors", []).append(str(value))


def _flatten(detail) -> tuple[str, dict]:
    """The first message, and the per-field messages (``non_field_errors`` included)."""
    if isinstance(detail, dict) or (isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail)):
        fields: dict[str, list[str]] = {}
        _messages(detail, "", fields)
        first = next((messages[0] for messages in fields.values() if messages), _("The input is not valid."))
        return first, fields
    if isinstance(detail, list):
        messages = [str(item) for item in detail]
        return (messages[0] if messages else _("The input is not valid.")), {}
    return str(detail), {}


def _as_api_exception(exc):
    """Django's own exceptions as DRF's, so they get the one error body."""
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(_django_validation_detail(exc))
    if isinstance(exc, Http404):
        return exceptions.NotFound(_("Not found."))
    if isinstance(exc, PermissionDenied):
        # A service's own reason ("create tokens while signed in") helps; Django's bare
        # PermissionDenied() has none. A gate's refusal may name its code and headers.
        denied = exceptions.PermissionDenied(
            str(exc) or _("You do not have permission to do this."), code=getattr(exc, "api_code", None)
        )
        denied.response_headers = getattr(exc, "response_headers", {})
        return denied
    if isinstance(exc, RequestDataTooBig):
        # Django refuses a body above DATA_UPLOAD_MAX_MEMORY_SIZE when the parser reads
        # it; left alone that is Django's 400 page, not an answer an integration can read.
        return RequestTooLarge()
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError(_("The request could not be read."))
    return exc


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"

    def __init__(self):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        super().__init__(
            _("The request body is too large: at most %(size)d bytes.") % {"size": limit}
            if limit
            else _("The request body is too large.")
        )


def api_exception_handler(exc, context):
    exc = _as_api_exception(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail, code = exc.detail, "invalid"
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    message, fields = _flatten(detail)
    response.data = _error_body(response.status_code, str(code), message, fields)
    for name, value in getattr(exc, "response_headers", {}).items():
        response[name] = value
    return response


def _error_body(status_code: int, code: str, message: str, fields: dict | None) -> dict:
    body = {"error": {"status": status_code, "code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    return body


def error_response(status_code: int, code: str, message: str, fields: dict | None = None) -> Response:
    return Response(_error_body(status_code, code, message, fields), status=status_code)
