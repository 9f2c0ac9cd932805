"""One error body for every API failure (issue 7):

``{"error": {"status": 400, "code": "invalid", "message": "…", "fields": {"name": ["…"]}}}``

Django's own ``ValidationError``, ``PermissionDenied`` and ``Http404`` raised by services
and the permission gate become 400, 403 and 404 with the same shape."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


def _django_validation_detail(exc: DjangoValidationError):
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in errors.messages] for field, errors in exc.error_dict.items()}
    return [str(message) for message in exc.messages]


def _flatten(detail) -> tuple[str, dict]:
    """The first message, and the per-field messages (``non_field_errors`` included)."""
    if isinstance(detail, dict):
        fields = {
            str(key): [str(item) for item in (value if isinstance(value, list) else [value])]
            for key, value in detail.items()
        }
        first = next((messages[0] for messages in fields.values() if messages), _("The input is not valid."))
        return first, fields
    if isinstance(detail, list):
        messages = [str(item) for item in detail]
        return (messages[0] if messages else _("The input is not valid.")), {}
    return str(detail), {}


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_validation_detail(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(_("Not found."))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(_("You do not have permission to do this."))
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data.get("detail", response.data) if isinstance(response.data, dict) else response.data
    if isinstance(response.data, dict) and set(response.data) == {"detail"}:
        detail = response.data["detail"]
    message, fields = _flatten(detail)
    code = getattr(getattr(exc, "detail", None), "code", None) or getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.ValidationError):
        code = "invalid"
    body = {"error": {"status": response.status_code, "code": str(code), "message": message}}
    if fields:
        body["error"]["fields"] = fields
    response.data = body
    return response


def error_response(status_code: int, code: str, message: str, fields: dict | None = None) -> Response:
    body = {"error": {"status": status_code, "code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    return Response(body, status=status_code)


CONFLICT = status.HTTP_409_CONFLICT
