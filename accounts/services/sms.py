"""The SMS outbox (ACC-1): a message is a row first, then a delivery task
(``accounts.tasks.deliver_sms``) enqueued once the row is committed."""

from __future__ import annotations

from accounts.models import SMSMessage
from accounts.tasks import deliver_sms


def queue_sms(phone: str, body: str) -> SMSMessage:
    """Write one SMS to the outbox (body encrypted at rest) and hand its delivery to
    Celery once the surrounding transaction commits, so that a rolled-back write never
    sends a message. The single way any app sends an SMS."""
    message = SMSMessage.objects.create(phone=phone, body=body)
    deliver_sms.delay_on_commit(message.pk)
    return message


def resend_sms(message: SMSMessage) -> None:
    """The recovery sweep sends a message without a live deliverer."""
    deliver_sms.delay(message.pk)
