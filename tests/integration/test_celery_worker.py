"""A real Celery worker process on a real Redis runs a task end to end: the
SMS carrying a one-time code is written to the outbox in the request's transaction,
published only after commit, delivered by the worker, and its body erased (ACC-1)."""

from __future__ import annotations

import json
import re
import time

import pytest
from django.db import transaction

from accounts.models import CodePurpose, SMSMessage, SMSStatus
from accounts.services import codes
from tests.integration.waiting import wait_until

pytestmark = pytest.mark.realservices


def test_worker_delivers_sms_after_commit(celery_worker):
    phone = "+8613912345678"
    with transaction.atomic():
        codes.send_code(phone, CodePurpose.REGISTER, ip="127.0.0.1")
        message = SMSMessage.objects.get(phone=phone)
        assert message.status == SMSStatus.PENDING

    delivered = wait_until(lambda: SMSMessage.objects.filter(pk=message.pk, status=SMSStatus.SENT).exists())
    assert delivered, celery_worker.log()
    stored = SMSMessage.objects.get(pk=message.pk)
    assert stored.body == ""  # erased once delivered
    assert stored.attempts == 1
    lines = [json.loads(line) for line in celery_worker.sms_path.read_text().splitlines()]
    assert [line["to"] for line in lines] == [phone]
    code = re.search(r"(?<!\d)(\d{6})(?!\d)", lines[0]["body"]).group(1)
    assert codes.check_code(phone, CodePurpose.REGISTER, code).phone == phone


def test_rolled_back_transaction_publishes_nothing(celery_worker):
    phone = "+8613912345679"
    with pytest.raises(RuntimeError), transaction.atomic():
        codes.send_code(phone, CodePurpose.REGISTER)
        raise RuntimeError("abort the request")
    time.sleep(2)
    assert not SMSMessage.objects.filter(phone=phone).exists()
    assert not celery_worker.sms_path.exists()


def test_a_redelivered_message_is_not_sent_twice(celery_worker):
    """Late acks can redeliver a task; the compare-and-set claim on the row makes the
    second run a no-op."""
    from accounts.tasks import deliver_sms

    phone = "+8613912345670"
    codes.send_code(phone, CodePurpose.SIGN_IN)
    message = SMSMessage.objects.get(phone=phone)
    assert wait_until(lambda: SMSMessage.objects.filter(pk=message.pk, status=SMSStatus.SENT).exists())
    deliver_sms.delay(message.pk)
    assert wait_until(lambda: celery_worker.log().count("succeeded") >= 2), celery_worker.log()
    assert len(celery_worker.sms_path.read_text().splitlines()) == 1
