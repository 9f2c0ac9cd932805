"""Idempotency keys on create endpoints.

A client that sends ``Idempotency-Key: <up to 100 characters>`` with a create request
may retry it safely: the first answer is stored with the row it created, in the same
transaction; a retry with the same body gets that answer again (``Idempotent-Replayed:
true``) and writes nothing; the same key with a different body is a 422. Keys belong to
the person (or the token's person) and are kept for a day (``stored_answers.KEEP``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from dataprotection.api.errors import error_response
from dataprotection.api.stored_answers import KEEP, live_answer
from dataprotection.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 100

# For ``extend_schema(parameters=[IDEMPOTENCY_PARAMETER])`` on every create endpoint; the
# schema hook then documents its 422 (dataprotection/api/schema.py).
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    {"type": "string", "maxLength": MAX_KEY_LENGTH},
    OpenApiParameter.HEADER,
    required=False,
    description="Send the same key to retry this create safely: the first answer is replayed "
    "(header Idempotent-Replayed: true). The same key with another body is a 422. Kept for a day.",
)


def _key(request) -> str:
    return request.headers.get(HEADER, "").strip()


def will_replay(request) -> bool:
    """Whether ``idempotent`` will answer ``request`` from a stored answer (so a
    one-time proof spent by the first request is not asked for again)."""
    key = _key(request)
    if not key or len(key) > MAX_KEY_LENGTH:
        return False
    return live_answer(request.user, key) is not None


def _digest(request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except (TypeError, ValueError):
        body = repr(request.data)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _stored(data, redact: tuple[str, ...]):
    body = json.loads(json.dumps(data, default=str))
    if redact and isinstance(body, dict):
        body = {key: value for key, value in body.items() if key not in redact}
    return body


def _replay(record: IdempotencyRecord, digest: str) -> Response:
    if record.request_digest != digest:
        return error_response(
            422,
            "idempotency_key_reused",
            _("This Idempotency-Key was used with a different request; use a new key."),
        )
    response = Response(record.response_body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(create: Callable[[], Response], request, *, redact: tuple[str, ...] = ()) -> Response:
    """Run ``create`` (which writes and returns the response) at most once per key.

    ``redact`` names top-level keys of the answer that are not stored for replays (a
    token's secret: only its digest is ever stored), so a replay answers without them."""
    key = _key(request)
    if not key:
        return create()
    if len(key) > MAX_KEY_LENGTH:
        return error_response(400, "invalid", _("An Idempotency-Key has at most 100 characters."))
    digest = _digest(request)
    since = timezone.now() - KEEP
    existing = IdempotencyRecord.objects.filter(user=request.user, key=key, created_at__gte=since).first()
    if existing is not None:
        return _replay(existing, digest)
    try:
        with transaction.atomic():
            # Only an expired record goes: one a concurrent request committed since the
            # lookup above must stay, so that our insert below collides with it.
            IdempotencyRecord.objects.filter(user=request.user, key=key, created_at__lt=since).delete()
            response = create()
            if 200 <= response.status_code < 300:
                IdempotencyRecord.objects.create(
                    user=request.user,
                    key=key,
                    endpoint=request.path[:200],
                    request_digest=digest,
                    status_code=response.status_code,
                    response_body=_stored(response.data, redact),
                )
    except IntegrityError:
        # A concurrent request with the same key won: answer as it did. (Any other
        # integrity error is the endpoint's own and goes on up.)
        winner = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
        if winner is None:
            raise
        return _replay(winner, digest)
    return response
