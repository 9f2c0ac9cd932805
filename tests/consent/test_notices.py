"""The outbox of deletion notices (SVC-3, REQ-8): the payload names nobody but by the
provider's own pseudonymous IDs, delivery is signed and acknowledged once, failures
back off exponentially with jitter, and the compare-and-set claim never lets two
workers send the same notice.

Holds ``NoticeReceiver``, a real HTTP endpoint on 127.0.0.1 that the integration and
browser tests use too."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from consent.models.sharing import DeletionNotice, NoticeReason, NoticeStatus, Service
from consent.services import notices
from consent.services.open_ids import member_open_id, organization_open_id, user_open_id
from dataprotection.models import AuditEvent
from dataprotection.tasks import recover_jobs
from tests.consent.test_sharing import NOTICE_SECRET, first_party, third_party

pytestmark = pytest.mark.django_db


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class NoticeReceiver:
    """A provider's deletion-notice endpoint: answers ``status`` and keeps every
    request (headers and body)."""

    def __init__(self, port: int | None = None, status: int = 200):
        self.port = port or free_port()
        self.status = status
        self.requests: list[dict] = []
        self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/custodia/notices"

    def start(self) -> NoticeReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def signature_ok(request: dict, secret: str = NOTICE_SECRET) -> bool:
    """What a provider checks: HMAC-SHA256 of ``<timestamp>.<body>``."""
    headers = request["headers"]
    expected = hmac.new(
        secret.encode(), headers["Custodia-Timestamp"].encode() + b"." + request["body"], hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(headers["Custodia-Signature"], f"sha256={expected}")


def due_now(notice: DeletionNotice) -> None:
    """Drive time: the backoff has passed (and so has the last sign of life)."""
    long_ago = timezone.now() - timedelta(hours=1)
    DeletionNotice.objects.filter(pk=notice.pk).update(next_attempt_at=long_ago, heartbeat_at=long_ago, queued_at=None)


def sweep_notices() -> int:
    """The recovery sweep (beat), run here: how many notices it sent to be delivered
    (eagerly, in tests)."""
    return int(recover_jobs().split()[1])


# --------------------------------------------------------------------------- the payload


def test_payload_names_people_only_by_open_ids(cast):
    """SVC-3, REQ-8: no internal key, phone number or name leaves us."""
    service = third_party()
    notice = notices.queue_deletion_notice(
        service,
        NoticeReason.DELETION_REQUESTED,
        organization_id=cast.organization.pk,
        user_ids=[cast.member_user.pk],
        member_ids=[cast.member.pk],
    )
    payload = notice.payload
    assert set(payload) == {"notice_id", "reason", "organization", "scope", "users", "members", "issued_at"}
    assert payload["notice_id"] == str(notice.uuid)
    assert payload["scope"] == "people"
    assert payload["organization"] == organization_open_id(service.code, cast.organization.pk)
    assert payload["users"] == [user_open_id(service.code, cast.member_user.pk)]
    assert payload["members"] == [member_open_id(service.code, cast.member.pk)]
    text = json.dumps(payload)
    assert cast.member_user.phone not in text and cast.member_user.phone[3:] not in text
    assert cast.member.name not in text
    numbers = set(re.findall(r"\b\d+\b", text.replace(payload["issued_at"], "")))
    assert not numbers & {str(cast.member.pk), str(cast.member_user.pk), str(cast.organization.pk)}
    assert AuditEvent.objects.get(action="service.deletion_notice_queued").metadata["users"] == 1


def test_first_party_services_get_no_notice(cast):
    assert notices.queue_deletion_notice(first_party("drive"), NoticeReason.SERVICE_CLOSED) is None
    assert not DeletionNotice.objects.exists()


def test_delivery_waits_for_the_commit(cast, django_capture_on_commit_callbacks):
    """SVC-3: the task is enqueued only once the decision commits."""
    with django_capture_on_commit_callbacks() as callbacks:
        notices.queue_deletion_notice(third_party(), NoticeReason.SERVICE_CLOSED, organization_id=cast.organization.pk)
    assert len(callbacks) == 1


# --------------------------------------------------------------------------- backoff


def test_backoff_doubles_with_jitter_up_to_the_cap(settings):
    """SVC-3: base * 2**attempts, capped, with up to a fifth taken off as jitter."""
    settings.DELETION_NOTICE_MAX_BACKOFF_SECONDS = 3600
    base = notices.BACKOFF_BASE_SECONDS
    assert [notices.backoff_seconds(n, rand=lambda: 0.0) for n in (1, 2, 3)] == [base * 2, base * 4, base * 8]
    assert notices.backoff_seconds(1, rand=lambda: 1.0) == pytest.approx(base * 2 * 0.8)
    assert notices.backoff_seconds(30, rand=lambda: 0.0) == 3600
    assert notices.backoff_seconds(10_000, rand=lambda: 0.0) == 3600
    assert 0.8 * 3600 <= notices.backoff_seconds(50) <= 3600


def test_a_failure_backs_off_and_records_the_error(cast):
    """SVC-3: connection refused: attempts counted, short error, next attempt later."""
    notice = notices.queue_deletion_notice(
        third_party(), NoticeReason.SERVICE_CLOSED, organization_id=cast.organization.pk
    )
    before = timezone.now()
    assert notices.deliver_notice(notice.pk) == "retry"
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, notice.last_status_code) == (NoticeStatus.PENDING, 1, None)
    assert notice.last_error.startswith("connection failed") and NOTICE_SECRET not in notice.last_error
    wait = (notice.next_attempt_at - before).total_seconds()
    assert 0.8 * notices.backoff_seconds(1, rand=lambda: 0.0) - 1 <= wait <= notices.backoff_seconds(1, rand=lambda: 0)
    assert notices.deliver_notice(notice.pk) == "nothing to do"  # not due yet
    DeletionNotice.objects.filter(pk=notice.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert sweep_notices() == 0  # the sweep leaves it until its backoff has passed


def test_non_2xx_is_a_failure_and_2xx_acknowledges_once(cast):
    """SVC-3: 503 is retried; 200 acknowledges, erases the people's IDs from the payload
    (counts kept), is audited, and the notice is never sent again."""
    with NoticeReceiver(status=503) as receiver:
        service = third_party(notice_url=receiver.url)
        notice = notices.queue_deletion_notice(
            service,
            NoticeReason.ACCOUNT_DELETED,
            user_ids=[cast.member_user.pk, cast.owner.pk],
            member_ids=[cast.member.pk],
        )
        assert notices.deliver_notice(notice.pk) == "retry"
        notice.refresh_from_db()
        assert (notice.status, notice.last_status_code, notice.last_error) == (NoticeStatus.PENDING, 503, "HTTP 503")
        receiver.status = 200
        due_now(notice)
        assert sweep_notices() == 1
        assert DeletionNotice.objects.get(pk=notice.pk).status == NoticeStatus.ACKNOWLEDGED
        due_now(notice)
        assert sweep_notices() == 0
        assert notices.deliver_notice(notice.pk) == "nothing to do"
    assert len(receiver.requests) == 2
    request = receiver.requests[-1]
    assert signature_ok(request)
    assert request["headers"]["Custodia-Notice-Id"] == str(notice.uuid)
    assert request["headers"]["Content-Type"] == "application/json"
    assert json.loads(request["body"])["users"] == sorted(
        user_open_id(service.code, pk) for pk in (cast.member_user.pk, cast.owner.pk)
    )
    notice.refresh_from_db()
    assert (notice.status, notice.attempts, notice.last_status_code) == (NoticeStatus.ACKNOWLEDGED, 2, 200)
    assert notice.payload["users"] == [] and notice.payload["members"] == []
    assert (notice.payload["users_count"], notice.payload["members_count"]) == (2, 1)
    assert AuditEvent.objects.filter(action="service.deletion_notice_acknowledged").count() == 1


def test_a_redirect_is_not_an_acknowledgement(cast):
    with NoticeReceiver(status=302) as receiver:
        notice = notices.queue_deletion_notice(third_party(notice_url=receiver.url), NoticeReason.SERVICE_CLOSED)
        assert notices.deliver_notice(notice.pk) == "retry"
    notice.refresh_from_db()
    assert notice.last_status_code == 302


def test_a_missing_secret_is_a_failure_not_an_unsigned_post(cast):
    with NoticeReceiver() as receiver:
        service = third_party(notice_url=receiver.url)
        Service.objects.filter(pk=service.pk).update(notice_secret="")
        notice = notices.queue_deletion_notice(service, NoticeReason.SERVICE_CLOSED)
        assert notices.deliver_notice(notice.pk) == "retry"
    assert receiver.requests == []
    notice.refresh_from_db()
    assert notice.last_error == "no notice signing secret is configured"


# --------------------------------------------------------------------------- the claim


def test_the_claim_lets_one_worker_through(cast):
    """SVC-3: compare-and-set: a second claim of the same due notice gets nothing, so
    two racing workers never both send it."""
    notice = notices.queue_deletion_notice(third_party(), NoticeReason.SERVICE_CLOSED)
    first = notices.claim_notice(notice.pk)
    assert first is not None and first.status == NoticeStatus.SENDING and first.attempts == 1
    assert notices.claim_notice(notice.pk) is None
    assert not notices.needs_worker().exists()  # its worker is alive


def test_a_delivery_that_lost_its_claim_records_nothing(cast):
    """SVC-3: a worker whose heartbeat went stale was taken over; its late answer is
    not recorded over the new holder's (the claim token fences it)."""
    notice = notices.queue_deletion_notice(third_party(), NoticeReason.SERVICE_CLOSED)
    late = notices.claim_notice(notice.pk)
    DeletionNotice.objects.filter(pk=notice.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    taker = notices.claim_notice(notice.pk)
    assert taker is not None and taker.worker != late.worker and taker.attempts == 2
    assert notices.mark_notice_acknowledged(late, 200) is False
    assert notices.mark_notice_failed(late, notices.DeliveryFailed("HTTP 500")) is False
    assert DeletionNotice.objects.get(pk=notice.pk).status == NoticeStatus.SENDING
    assert notices.mark_notice_acknowledged(taker, 200) is True


def test_a_dead_workers_notice_is_sent_again_once_its_heartbeat_is_stale(cast, settings):
    """SVC-3: a notice left ``sending`` by a killed worker is sent again by the recovery
    sweep once its heartbeat is older than ``JOB_STALE_SECONDS`` (not before)."""
    with NoticeReceiver() as receiver:
        notice = notices.queue_deletion_notice(third_party(notice_url=receiver.url), NoticeReason.SERVICE_CLOSED)
        assert notices.claim_notice(notice.pk) is not None  # the worker dies here
        assert sweep_notices() == 0
        stale = timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + 1)
        DeletionNotice.objects.filter(pk=notice.pk).update(heartbeat_at=stale)
        assert sweep_notices() == 1
    assert len(receiver.requests) == 1
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (NoticeStatus.ACKNOWLEDGED, 2)


def test_retry_now_makes_pending_notices_due(cast):
    """Operations: "retry now" moves the next attempt of pending notices to now (audited)."""
    notice = notices.queue_deletion_notice(third_party(), NoticeReason.SERVICE_CLOSED)
    notices.deliver_notice(notice.pk)
    DeletionNotice.objects.filter(pk=notice.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert not notices.needs_worker().exists()  # backing off
    assert notices.retry_notices_now(cast.staff, [notice.pk]) == 1
    assert list(notices.needs_worker().values_list("pk", flat=True)) == [notice.pk]
    assert AuditEvent.objects.get(action="service.deletion_notices_retried").metadata == {"notices": [notice.pk]}


@pytest.mark.django_db(transaction=True)
def test_an_answer_received_during_a_database_outage_is_recorded_not_resent(cast):
    """SVC-3: the provider acknowledged, then the database went away before the
    acknowledgement was written: the task waits for the database and records it. The
    notice is acknowledged after one POST, never sent again."""
    from tests.dataprotection.test_anonymization_recovery import connection_lost

    real = notices.mark_notice_acknowledged
    lost = []

    def flaky(notice, status_code):
        if not lost:
            lost.append(True)
            raise connection_lost()
        return real(notice, status_code)

    with NoticeReceiver() as receiver:
        service = third_party(notice_url=receiver.url)
        notice = DeletionNotice.objects.create(service=service, reason=NoticeReason.SERVICE_CLOSED, payload={})
        notices.mark_notice_acknowledged = flaky
        try:
            assert notices.deliver_notice(notice.pk) == "acknowledged"
        finally:
            notices.mark_notice_acknowledged = real
    notice.refresh_from_db()
    assert lost and (notice.status, notice.attempts, notice.worker) == (NoticeStatus.ACKNOWLEDGED, 1, "")
    assert len(receiver.requests) == 1
