"""Background work for accounts. Tasks take IDs, claim rows with compare-and-set, and
keep their attempt count in the database (acks_late + reject_on_worker_lost, or the
recovery sweep, can deliver a message twice; the row decides whether there is anything
left to do)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from accounts.services import retention, sms_delivery
from accounts.services.sms_gateway import SMSDeliveryError, get_backend
from dataprotection import liveness
from dataprotection.api import stored_answers

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=None)
def deliver_sms(self, message_id: int) -> str:
    """ACC-1: claim, send (beating the row's heartbeat), record. The database going
    away is waited out at each step: before the send the claim is given back with its
    attempt, after it the outcome is recorded once the database is back, so a message
    the gateway took is not sent again. A worker that dies mid-send is taken over once
    its heartbeat is stale (the message may then go out twice: a gateway call cannot be
    made atomic with our write)."""
    what = f"SMS {message_id}"
    token = liveness.worker_token()
    message = liveness.outage_tolerant(
        lambda: sms_delivery.claim_sms(message_id, token),
        recover=lambda: sms_delivery.give_back_sms(message_id, token),
        what=what,
    )
    if message is None:
        return "nothing to do"
    try:
        with liveness.heartbeat(liveness.beat_rows(sms_delivery.held_sms(message))):
            get_backend().send(message.phone, message.body)
    except SMSDeliveryError as exc:
        final = message.attempts >= settings.SMS_DELIVERY_MAX_ATTEMPTS
        countdown = min(300, 10 * 2**message.attempts)
        error = str(exc)
        liveness.outage_tolerant(
            lambda: sms_delivery.mark_sms_failed(message, error, final=final, retry_in=countdown), what=what
        )
        if final:
            logger.error("SMS %s failed for good after %s attempts: %s", message_id, message.attempts, exc)
            return "failed"
        raise self.retry(countdown=countdown, exc=exc) from exc
    liveness.outage_tolerant(lambda: sms_delivery.mark_sms_sent(message), what=what)
    return "sent"


@shared_task
def purge_spent_codes() -> str:
    codes, messages = retention.purge_spent_codes()
    return f"purged {codes} codes and {messages} messages"


@shared_task
def purge_idempotency_records() -> str:
    """Stored API answers are personal data kept only as long as a client may replay a
    request (``dataprotection.api.stored_answers.KEEP``, one day): older ones are deleted."""
    return f"purged {stored_answers.purge_idempotency_records()} stored answers"
