"""What the SMS delivery task does with a message's row (ACC-1): claim it
(compare-and-set), keep its heartbeat, record the outcome, and find the messages whose
delivery was lost."""

from __future__ import annotations

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import SMSMessage, SMSStatus
from dataprotection import liveness


def claim_sms(message_id: int, token: str | None = None) -> SMSMessage | None:
    """Claim a pending message for delivery (compare-and-set, under the claim
    ``token``), or take over one whose previous worker stopped beating mid-send (its
    heartbeat is stale: ``dataprotection.liveness``). Returns ``None`` when there is
    nothing to do."""
    now = timezone.now()
    claimable = SMSMessage.objects.filter(
        Q(status=SMSStatus.PENDING) | Q(status=SMSStatus.SENDING) & liveness.no_live_worker(now),
        pk=message_id,
        attempts__lt=settings.SMS_DELIVERY_MAX_ATTEMPTS,
    )
    token = token or liveness.worker_token()
    if not claimable.update(status=SMSStatus.SENDING, worker=token, heartbeat_at=now, attempts=F("attempts") + 1):
        return None
    return SMSMessage.objects.get(pk=message_id)


def held_sms(message: SMSMessage):
    """The message while this delivery's claim holds."""
    return SMSMessage.objects.filter(pk=message.pk, status=SMSStatus.SENDING, worker=message.worker)


def give_back_sms(message_id: int, token: str) -> None:
    """After a database outage before the gateway was called: back to pending with
    the attempt (the outage was nobody's failure)."""
    SMSMessage.objects.filter(pk=message_id, status=SMSStatus.SENDING, worker=token).update(
        status=SMSStatus.PENDING, worker="", attempts=F("attempts") - 1
    )


def mark_sms_sent(message: SMSMessage) -> None:
    # The body is erased once delivered: the code must not outlive its purpose.
    held_sms(message).update(status=SMSStatus.SENT, sent_at=timezone.now(), body="", last_error="", worker="")


def mark_sms_failed(message: SMSMessage, error: str, *, final: bool, retry_in: float = 0) -> None:
    held_sms(message).update(
        status=SMSStatus.FAILED if final else SMSStatus.PENDING,
        last_error=error[:300],
        body="" if final else F("body"),
        worker="",
        next_attempt_at=None if final else timezone.now() + timezone.timedelta(seconds=retry_in),
    )


def sms_needing_a_worker(now=None):
    """Messages to deliver that no live worker holds (the recovery sweep's query):
    pending ones whose next attempt is due, a moment after their last sign of life (a
    fresh message's own task is on its way), and ``sending`` ones whose worker stopped
    beating."""
    now = now or timezone.now()
    return SMSMessage.objects.filter(
        Q(status=SMSStatus.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        | Q(status=SMSStatus.SENDING),
        attempts__lt=settings.SMS_DELIVERY_MAX_ATTEMPTS,
    ).filter(liveness.no_live_worker(now))
