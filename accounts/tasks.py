"""Background work for accounts. Tasks take IDs, claim rows with compare-and-set, and
keep their attempt count in the database (acks_late + reject_on_worker_lost can
redeliver a message; the row decides whether there is anything left to do)."""

from __future__ import annotations

import logging

from celery import shared_task

from accounts.sms import SMSDeliveryError, get_backend

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=None)
def deliver_sms(self, message_id: int) -> str:
    from django.conf import settings

    from accounts import services

    message = services.claim_sms(message_id)
    if message is None:
        return "nothing to do"
    try:
        get_backend().send(message.phone, message.body)
    except SMSDeliveryError as exc:
        final = message.attempts >= settings.SMS_DELIVERY_MAX_ATTEMPTS
        services.mark_sms_failed(message, str(exc), final=final)
        if final:
            logger.error("SMS %s failed for good after %s attempts: %s", message_id, message.attempts, exc)
            return "failed"
        raise self.retry(countdown=min(300, 10 * 2**message.attempts), exc=exc) from exc
    services.mark_sms_sent(message)
    return "sent"


@shared_task
def purge_spent_codes() -> str:
    from accounts import services

    codes, messages = services.purge_spent_codes()
    return f"purged {codes} codes and {messages} messages"


@shared_task
def purge_idempotency_records() -> str:
    """Stored API answers are personal data kept only as long as a client may replay a
    request (``accounts.api.idempotency.KEEP``, one day): older ones are deleted."""
    from accounts.api.idempotency import purge_idempotency_records as purge

    return f"purged {purge()} stored answers"
