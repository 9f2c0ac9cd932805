"""The outbox of deletion notices to providers (SVC-3, REQ-8).

A notice is written in the same transaction as the decision that causes it (closing a
service, a deletion), and handed to a Celery task only after commit. Delivery claims
the row by compare-and-set (pending and due -> sending, under the worker's claim token,
``dataprotection.liveness``), POSTs the signed JSON payload while a thread beats the
row's heartbeat, and then, only while its claim holds, either marks it acknowledged (a
2xx answer: never sent again) or puts it back to pending with an exponential backoff. A
worker that dies mid-delivery leaves the row ``sending`` with a heartbeat that goes
stale within ``JOB_STALE_SECONDS``, after which the recovery sweep sends it again (the
provider deduplicates on the notice ID). A lost database is waited out: an answer
received is still recorded, so an acknowledged notice is not sent again.

The payload names people and organizations only by the pseudonymous IDs this provider
already knows (``consent.services.open_ids``): never an internal key, a phone number or a name.
Once the provider acknowledges, the people's IDs are erased from our copy (the counts
stay as the record of what was asked).

Signature: ``Custodia-Signature: sha256=<hex>`` is the HMAC-SHA256, under the service's
notice secret, of ``<Custodia-Timestamp>.<body>``; the provider recomputes it and
rejects old timestamps. ``Custodia-Notice-Id`` is the idempotency key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.models.sharing import DeletionNotice, NoticeStatus, Service, ServiceKind
from consent.services.open_ids import member_open_id, organization_open_id, user_open_id
from dataprotection import liveness
from dataprotection.audit import record_event

logger = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 30
# Keep the exponent small: 2**20 * 30 s is far beyond any configured cap already.
MAX_BACKOFF_EXPONENT = 20
MAX_ERROR_LENGTH = 300
USER_AGENT = "Custodia-Deletion-Notice/1"


# The task that delivers a notice (``consent/tasks.py``) imports this module to run the
# delivery, so this module never imports it: ``consent/hooks.py`` hands it over at setup
# (docs/architecture.md, "Hooks").
_deliverer = None


def use_deliverer(task) -> None:
    global _deliverer
    _deliverer = task


def deliverer():
    if _deliverer is None:
        raise ImproperlyConfigured("consent.hooks.connect() has not handed the notice delivery task over")
    return _deliverer


def backoff_seconds(attempts: int, *, rand=random.random) -> float:
    """The wait after the ``attempts``-th failed delivery: ``base * 2**attempts``
    capped at ``DELETION_NOTICE_MAX_BACKOFF_SECONDS``, minus up to a fifth as jitter so
    notices that failed together (a provider outage) do not come back together."""
    cap = settings.DELETION_NOTICE_MAX_BACKOFF_SECONDS
    delay = min(cap, BACKOFF_BASE_SECONDS * 2 ** min(max(attempts, 0), MAX_BACKOFF_EXPONENT))
    return delay * (1 - 0.2 * rand())


# --------------------------------------------------------------------------- queueing


def queue_deletion_notice(
    service: Service,
    reason: str,
    *,
    organization_id: int | None = None,
    user_ids: Iterable[int] = (),
    member_ids: Iterable[int] = (),
    everything: bool = False,
) -> DeletionNotice | None:
    """SVC-3, REQ-8: tell the provider of ``service`` to delete what it received --
    everything it got through the organization (``everything``), or the named people.
    First-party services are ours, and a service without an endpoint has nobody to tell:
    ``None``. Delivery starts once the caller's transaction commits."""
    if service.kind == ServiceKind.FIRST_PARTY or not service.notice_url:
        return None
    notice_id = uuid.uuid4()
    now = timezone.now()
    users = sorted({user_open_id(service.code, pk) for pk in user_ids})
    members = sorted({member_open_id(service.code, pk) for pk in member_ids})
    payload = {
        "notice_id": str(notice_id),
        "reason": str(reason),
        "organization": organization_open_id(service.code, organization_id) if organization_id else None,
        "scope": "all" if everything else "people",
        "users": users,
        "members": members,
        "issued_at": now.isoformat(),
    }
    with transaction.atomic():
        notice = DeletionNotice.objects.create(
            uuid=notice_id,
            service=service,
            organization_id=organization_id,
            reason=reason,
            payload=payload,
            created_at=now,
            next_attempt_at=now,
        )
        record_event(
            "service.deletion_notice_queued",
            target=notice,
            organization=organization_id,
            metadata={
                "service": service.code,
                "reason": str(reason),
                "scope": payload["scope"],
                "users": len(users),
                "members": len(members),
            },
        )
    deliverer().delay_on_commit(notice.pk)
    return notice


# --------------------------------------------------------------------------- delivery


def _due(now=None) -> Q:
    now = now or timezone.now()
    return Q(status=NoticeStatus.PENDING, next_attempt_at__lte=now) | Q(status=NoticeStatus.SENDING) & (
        liveness.no_live_worker(now)
    )


def needs_worker(now=None):
    """Notices due that no live worker is delivering (the recovery sweep's query,
    ``dataprotection.liveness``): pending ones whose next attempt is due, a moment after
    their last sign of life (a fresh notice's own message is on its way), and
    ``sending`` ones whose worker stopped beating."""
    now = now or timezone.now()
    return DeletionNotice.objects.filter(
        Q(status=NoticeStatus.PENDING, next_attempt_at__lte=now) | Q(status=NoticeStatus.SENDING)
    ).filter(liveness.no_live_worker(now))


def claim_notice(notice_id: int, token: str | None = None) -> DeletionNotice | None:
    """Compare-and-set: only one worker moves a due notice to ``sending``, under its
    claim ``token``; the attempt is counted here, so a worker killed mid-delivery still
    uses one up (it only sets the backoff: notices are retried until acknowledged)."""
    now = timezone.now()
    claimed = (
        DeletionNotice.objects.filter(pk=notice_id)
        .filter(_due(now))
        .update(
            status=NoticeStatus.SENDING,
            worker=token or liveness.worker_token(),
            heartbeat_at=now,
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return None
    return DeletionNotice.objects.select_related("service").get(pk=notice_id)


def give_back(notice_id: int, token: str) -> None:
    """After a database outage before the POST: the claim goes back with its attempt."""
    DeletionNotice.objects.filter(pk=notice_id, status=NoticeStatus.SENDING, worker=token).update(
        status=NoticeStatus.PENDING, worker="", attempts=F("attempts") - 1
    )


def notice_signature(secret: str, stamp: str, body: bytes) -> str:
    """The ``Custodia-Signature`` header: HMAC-SHA256 of ``<timestamp>.<body>`` under the
    service's notice secret (what a provider recomputes to verify a notice)."""
    return "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_request(notice: DeletionNotice, *, timestamp: int | None = None) -> urllib.request.Request:
    """The POST the provider receives: the JSON payload, its notice ID as the
    idempotency key, a timestamp, and the HMAC of both under the notice secret."""
    service = notice.service
    body = json.dumps(notice.payload, sort_keys=True, separators=(",", ":")).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = notice_signature(service.notice_secret, stamp, body)
    return urllib.request.Request(
        service.notice_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Custodia-Notice-Id": str(notice.uuid),
            "Custodia-Timestamp": stamp,
            "Custodia-Signature": signature,
        },
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is no acknowledgement: urllib would replay the POST as a GET without
    body elsewhere, so it is refused and retried like any other failure."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class DeliveryFailed(Exception):
    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


def post_notice(notice: DeletionNotice) -> int:
    """POST the notice; the HTTP status of a 2xx answer, else ``DeliveryFailed`` with a
    short reason (never the secret or the payload)."""
    service = notice.service
    if not service.notice_url:
        raise DeliveryFailed("no deletion notice endpoint is configured")
    if not service.notice_secret:
        raise DeliveryFailed("no notice signing secret is configured")
    try:
        request = signed_request(notice)
        with _opener.open(request, timeout=settings.DELETION_NOTICE_TIMEOUT_SECONDS) as response:
            status = response.status
            response.read(1024)  # let the connection close cleanly; the body means nothing
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DeliveryFailed(f"HTTP {exc.code}", status_code=exc.code) from None
    except urllib.error.URLError as exc:
        raise DeliveryFailed(f"connection failed: {type(exc.reason).__name__}: {exc.reason}") from None
    except TimeoutError:
        raise DeliveryFailed("timed out") from None
    except (OSError, ValueError) as exc:  # reset connection, malformed URL
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status}", status_code=status)
    return status


def erased_payload(payload: dict) -> dict:
    """The payload once acknowledged: the people's IDs go, their counts stay."""
    kept = {key: value for key, value in payload.items() if key not in {"users", "members"}}
    kept["users"] = []
    kept["members"] = []
    kept["users_count"] = len(payload.get("users") or [])
    kept["members_count"] = len(payload.get("members") or [])
    return kept


def _held(notice: DeletionNotice):
    """The notice while this delivery's claim holds (a delivery taken over after its
    heartbeat went stale records nothing: the new holder does)."""
    return DeletionNotice.objects.filter(pk=notice.pk, status=NoticeStatus.SENDING, worker=notice.worker)


@transaction.atomic
def mark_notice_acknowledged(notice: DeletionNotice, status_code: int) -> bool:
    now = timezone.now()
    done = _held(notice).update(
        status=NoticeStatus.ACKNOWLEDGED,
        acknowledged_at=now,
        worker="",
        last_error="",
        last_status_code=status_code,
        payload=erased_payload(notice.payload),
    )
    if done:
        record_event(
            "service.deletion_notice_acknowledged",
            target=notice,
            organization=notice.organization_id,
            metadata={"service": notice.service.code, "attempts": notice.attempts, "status_code": status_code},
        )
    return bool(done)


def mark_notice_failed(notice: DeletionNotice, error: DeliveryFailed) -> bool:
    """Back to pending with the error and the next time to try (no audit event: the row
    itself is the record, and a long outage would flood the trail)."""
    delay = backoff_seconds(notice.attempts)
    return bool(
        _held(notice).update(
            status=NoticeStatus.PENDING,
            worker="",
            last_error=str(error)[:MAX_ERROR_LENGTH],
            last_status_code=error.status_code,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )
    )


def deliver_notice(notice_id: int) -> str:
    """SVC-3: claim, POST (beating the row's heartbeat meanwhile), record the outcome.
    Safe to call twice or concurrently: the claim lets one caller through, and an
    acknowledged notice is never due again. The database going away is waited out at
    each step (``liveness.outage_tolerant``): an answer the provider gave is recorded
    once the database is back, never lost to a resend."""
    what = f"deletion notice {notice_id}"
    token = liveness.worker_token()
    notice = liveness.outage_tolerant(
        lambda: claim_notice(notice_id, token), recover=lambda: give_back(notice_id, token), what=what
    )
    if notice is None:
        return "nothing to do"
    with liveness.heartbeat(liveness.beat_rows(_held(notice))):
        try:
            status_code = post_notice(notice)
        except DeliveryFailed as exc:
            failure = exc
        else:
            failure = None
    if failure is not None:
        liveness.outage_tolerant(lambda: mark_notice_failed(notice, failure), what=what)
        logger.info("Deletion notice %s not delivered (attempt %s): %s", notice.uuid, notice.attempts, failure)
        return "retry"
    liveness.outage_tolerant(lambda: mark_notice_acknowledged(notice, status_code), what=what)
    return "acknowledged"


def resume(notice: DeletionNotice) -> None:
    """The recovery sweep sends a due notice without a live deliverer."""
    deliverer().delay(notice.pk)


# --------------------------------------------------------------------------- who must act


def waits_on_operations(service: Service) -> bool:
    """A notice to this service cannot be delivered until operations set up its
    endpoint or signing secret in the catalog: nothing the provider or the organization
    can do about it."""
    return not service.notice_url or not service.notice_secret


def waiting_on_operations() -> Q:
    """The notices of ``waits_on_operations`` services, as a filter (the console's).
    An empty secret is stored as an empty string, unencrypted, so it can be compared."""
    return Q(service__notice_url="") | Q(service__notice_secret="")


def notice_problem(notice: DeletionNotice) -> str:
    """Why an unacknowledged notice has not gone through, for the organization's pages,
    in the reader's language (the worker records a technical reason in its own)."""
    if notice.status == NoticeStatus.ACKNOWLEDGED:
        return ""
    if waits_on_operations(notice.service):
        return _(
            "Operations must act: the provider's deletion address or signing secret is not set up in the "
            "catalog. The notice is sent as soon as it is; you need not do anything."
        )
    if notice.last_status_code:
        return _("The provider answered with an error (HTTP %(code)s); the notice is sent again.") % {
            "code": notice.last_status_code
        }
    if notice.last_error:
        return _("The provider could not be reached; the notice is sent again.")
    return ""


# --------------------------------------------------------------------------- operations


def resend_waiting_notices(service: Service) -> list[int]:
    """Operations set up what the service's notices were waiting for: its pending
    notices are due now instead of after their backoff (in the caller's transaction;
    delivery starts on commit). Returns their ids."""
    ids = list(DeletionNotice.objects.filter(service=service, status=NoticeStatus.PENDING).values_list("pk", flat=True))
    if not ids:
        return []
    DeletionNotice.objects.filter(pk__in=ids, status=NoticeStatus.PENDING).update(next_attempt_at=timezone.now())
    for pk in ids:
        deliverer().delay_on_commit(pk)
    return ids


@transaction.atomic
def retry_notices_now(staff, notice_ids: Iterable[int], *, ip: str | None = None) -> int:
    """Operations: try the selected pending notices now instead of waiting for their
    backoff (acknowledged and in-flight ones are left alone). Returns how many."""
    if not getattr(staff, "is_staff", False):
        raise PermissionDenied
    ids = list(
        DeletionNotice.objects.filter(pk__in=list(notice_ids), status=NoticeStatus.PENDING).values_list("pk", flat=True)
    )
    if not ids:
        return 0
    DeletionNotice.objects.filter(pk__in=ids, status=NoticeStatus.PENDING).update(next_attempt_at=timezone.now())
    record_event("service.deletion_notices_retried", actor=staff, ip=ip, metadata={"notices": ids})
    for pk in ids:
        deliverer().delay_on_commit(pk)
    return len(ids)
