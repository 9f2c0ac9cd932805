"""The development deletion-notice receiver (SVC-3), the stand-in provider of the demo's
third-party service: it acknowledges a correctly signed, fresh notice once per notice
ID, refuses anything else (so the portal keeps retrying), lists what it received in
the viewer's time zone and language, and exists only with DEBUG on."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from django.urls import reverse

from consent.models.sharing import NoticeReason
from consent.services import notices
from tests.consent.test_sharing import third_party

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(settings, tmp_path):
    settings.DEBUG = True
    settings.DEV_DELETION_NOTICES_PATH = tmp_path / "deletion-notices.jsonl"
    return settings.DEV_DELETION_NOTICES_PATH


def post(client: Client, notice, *, timestamp: int | None = None, signature: str | None = None):
    """What the portal's delivery sends, posted to the receiver through the test client."""
    request = notices.signed_request(notice, timestamp=timestamp)
    headers = {name.lower(): value for name, value in request.header_items()}
    return client.post(
        reverse("dev_deletion_notice_receive", args=[notice.service.code]),
        data=request.data,
        content_type="application/json",
        HTTP_CUSTODIA_TIMESTAMP=headers["custodia-timestamp"],
        HTTP_CUSTODIA_SIGNATURE=signature or headers["custodia-signature"],
        HTTP_CUSTODIA_NOTICE_ID=headers["custodia-notice-id"],
    )


def test_a_signed_notice_is_acknowledged_once_and_listed(client, receiver):
    service = third_party()
    notice = notices.queue_deletion_notice(service, NoticeReason.SERVICE_CLOSED, organization_id=None, everything=True)
    response = post(client, notice)
    assert response.status_code == 200
    assert response.json() == {"acknowledged": True, "notice_id": str(notice.uuid)}
    assert post(client, notice).status_code == 200  # the idempotency key: recorded once
    (line,) = receiver.read_text().splitlines()
    record = json.loads(line)
    assert (record["notice_id"], record["service"], record["reason"], record["scope"]) == (
        str(notice.uuid),
        service.code,
        "service_closed",
        "all",
    )
    page = client.get(reverse("dev_deletion_notices")).content.decode()
    assert str(notice.uuid) in page and service.name in page
    assert "the organization closed the service" in page and "everything received through the organization" in page
    client.cookies["django_language"] = "zh-hans"
    assert "开发用删除通知接收端" in client.get(reverse("dev_deletion_notices")).content.decode()


def test_a_forged_or_stale_notice_is_refused(client, receiver):
    notice = notices.queue_deletion_notice(third_party(), NoticeReason.SERVICE_CLOSED, everything=True)
    assert post(client, notice, signature="sha256=" + "0" * 64).status_code == 401
    assert post(client, notice, timestamp=int(time.time()) - 3600).status_code == 401
    assert not receiver.exists()
    missing = client.post(reverse("dev_deletion_notice_receive", args=["no-such-app"]), data=b"{}", content_type="x")
    assert missing.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_portals_own_delivery_is_acknowledged_by_the_receiver(live_server, settings, tmp_path):
    """End to end over HTTP: the delivery code POSTs to the receiver and marks the
    notice acknowledged."""
    settings.DEBUG = True
    settings.DEV_DELETION_NOTICES_PATH = tmp_path / "received.jsonl"
    service = third_party(notice_url=f"{live_server.url}/dev/deletion-notices/acme-crm/")
    # Queued outside a transaction: delivered at once (eager Celery in the tests).
    notice = notices.queue_deletion_notice(service, NoticeReason.SERVICE_CLOSED, everything=True)
    notice.refresh_from_db()
    assert notice.status == "acknowledged" and notice.last_status_code == 200
    assert str(notice.uuid) in settings.DEV_DELETION_NOTICES_PATH.read_text()


def test_the_receiver_does_not_exist_without_debug(client, settings, tmp_path):
    settings.DEBUG = False
    settings.DEV_DELETION_NOTICES_PATH = tmp_path / "received.jsonl"
    notice = notices.queue_deletion_notice(third_party(), NoticeReason.SERVICE_CLOSED, everything=True)
    assert post(client, notice).status_code == 404
    assert client.get(reverse("dev_deletion_notices")).status_code == 404
    assert not settings.DEV_DELETION_NOTICES_PATH.exists()
