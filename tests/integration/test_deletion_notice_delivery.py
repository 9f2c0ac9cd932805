"""Deletion notices reach a real provider endpoint through a real Celery worker
(SVC-3, REQ-8): an HTTP server on 127.0.0.1 started by the test, down at first, then
answering 503, then 200. The notice is retried with a growing backoff, delivered once
with a valid signature when the provider comes up, and never sent again."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from consent.models.sharing import DeletionNotice, NoticeStatus
from consent.services import sharing
from consent.services.open_ids import organization_open_id
from dataprotection.tasks import recover_jobs
from tests.consent.test_notices import NoticeReceiver, free_port, signature_ok
from tests.consent.test_sharing import open_for, owner_access, third_party
from tests.integration.waiting import wait_until

pytestmark = pytest.mark.realservices


def make_due(notice: DeletionNotice) -> None:
    """Drive time: the backoff has passed (and so has the last sign of life)."""
    long_ago = timezone.now() - timedelta(hours=1)
    DeletionNotice.objects.filter(pk=notice.pk).update(next_attempt_at=long_ago, heartbeat_at=long_ago, queued_at=None)


def attempts_done(notice: DeletionNotice, count: int):
    return DeletionNotice.objects.filter(pk=notice.pk, status=NoticeStatus.PENDING, attempts=count).first()


def test_notice_is_retried_until_the_provider_acknowledges(celery_worker, cast):
    port = free_port()
    receiver = NoticeReceiver(port=port, status=503)
    service = third_party(notice_url=receiver.url)
    grant = open_for(cast, service)

    # Closing commits, then the worker tries at once: nothing listens on the port.
    notice = sharing.close_service(owner_access(cast), grant)
    first = wait_until(lambda: attempts_done(notice, 1))
    assert first, celery_worker.log()
    assert first.last_error.startswith("connection failed") and first.last_status_code is None
    first_wait = (first.next_attempt_at - timezone.now()).total_seconds()
    assert first_wait > 30  # backed off, not hammering the provider

    # The provider comes up but answers 503: retried later, with a longer wait.
    with receiver:
        make_due(notice)
        recover_jobs.delay()
        second = wait_until(lambda: attempts_done(notice, 2))
        assert second, celery_worker.log()
        assert (second.last_status_code, second.last_error) == (503, "HTTP 503")
        assert (second.next_attempt_at - timezone.now()).total_seconds() > first_wait

        # Now it answers 200: delivered and acknowledged.
        receiver.status = 200
        make_due(notice)
        recover_jobs.delay()
        done = wait_until(lambda: DeletionNotice.objects.filter(pk=notice.pk, status=NoticeStatus.ACKNOWLEDGED).first())
        assert done, celery_worker.log()
        assert done.attempts == 3 and done.acknowledged_at is not None

        # Later sweeps (and a redelivered message for the same notice) send nothing.
        recover_jobs.delay()
        from consent.tasks import deliver_deletion_notice

        deliver_deletion_notice.delay(notice.pk)
        assert wait_until(lambda: celery_worker.log().count("succeeded") >= 5), celery_worker.log()

    assert len(receiver.requests) == 2  # the 503 and the acknowledged one
    delivered = receiver.requests[-1]
    assert signature_ok(delivered)
    assert delivered["headers"]["Custodia-Notice-Id"] == str(notice.uuid)
    body = json.loads(delivered["body"])
    assert body["scope"] == "all" and body["reason"] == "service_closed"
    assert body["organization"] == organization_open_id(service.code, cast.organization.pk)
