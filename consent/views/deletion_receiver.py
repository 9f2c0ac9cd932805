"""Development only: a provider's deletion-notice endpoint, so the demo's third-party
service can be closed and its notice seen acknowledged without a real provider (SVC-3).

``POST /dev/deletion-notices/<service code>/`` does what a provider must: it checks the
signature (``Custodia-Signature``, the HMAC of ``<Custodia-Timestamp>.<body>`` under the
service's notice secret) and the timestamp's age, records the notice once per notice ID
(the idempotency key) and answers 2xx; anything else is refused, and the portal retries.
``GET /dev/deletion-notices/`` lists what it received, newest first, in the viewer's time
zone and language. Like the development SMS outbox, both are 404 unless DEBUG is on."""

from __future__ import annotations

import hmac
import json
import time
from datetime import datetime

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from consent.models.sharing import NoticeReason, Service
from consent.services.notices import notice_signature

MAX_AGE_SECONDS = 300  # a notice signed longer ago is a replay
LIST_LIMIT = 50


def _development_only() -> None:
    if not settings.DEBUG:
        raise Http404


def _received() -> list[dict]:
    path = settings.DEV_DELETION_NOTICES_PATH
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _refuse(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"acknowledged": False, "error": reason}, status=status)


@csrf_exempt  # a provider's endpoint: authenticated by the signature, not by a session
@require_POST
def receive_notice(request: HttpRequest, code: str) -> HttpResponse:
    _development_only()
    service = Service.objects.filter(code=code).first()
    if service is None:
        raise Http404
    stamp = request.headers.get("Custodia-Timestamp", "")
    signature = request.headers.get("Custodia-Signature", "")
    body = request.body
    if not service.notice_secret or not hmac.compare_digest(
        signature, notice_signature(service.notice_secret, stamp, body)
    ):
        return _refuse(401, "bad signature")
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > MAX_AGE_SECONDS:
        return _refuse(401, "stale timestamp")
    try:
        payload = json.loads(body)
        notice_id = str(payload["notice_id"])
    except (ValueError, KeyError, TypeError):
        return _refuse(400, "not a deletion notice")
    if all(entry.get("notice_id") != notice_id for entry in _received()):
        record = {
            "received_at": datetime.now().astimezone().isoformat(),
            "service": service.code,
            "notice_id": notice_id,
            "reason": str(payload.get("reason", "")),
            "scope": str(payload.get("scope", "")),
            "users": len(payload.get("users") or []),
            "members": len(payload.get("members") or []),
        }
        path = settings.DEV_DELETION_NOTICES_PATH
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return JsonResponse({"acknowledged": True, "notice_id": notice_id})


@require_GET
def received_notices(request: HttpRequest) -> HttpResponse:
    _development_only()
    entries = list(reversed(_received()))[:LIST_LIMIT]
    names = dict(Service.objects.filter(code__in={entry["service"] for entry in entries}).values_list("code", "name"))
    reasons = dict(NoticeReason.choices)
    for entry in entries:
        entry["received"] = datetime.fromisoformat(entry["received_at"])
        entry["service_name"] = names.get(entry["service"], entry["service"])
        entry["reason_label"] = reasons.get(entry["reason"], entry["reason"])
    # It reads a file: no service-notice banner (ANON-6) either.
    return render(request, "consent/dev/deletion_notices.html", {"entries": entries, "shutdown_notices": ()})
