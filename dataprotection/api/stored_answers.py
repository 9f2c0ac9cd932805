"""The stored first answers of idempotent create requests (``IdempotencyRecord``): how
long they are kept and when they go. Free of DRF so that the purge task can import it
while the apps load; the request side is ``dataprotection.api.idempotency``."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from dataprotection.models import IdempotencyRecord

KEEP = timedelta(days=1)


def live_answer(user, key: str) -> IdempotencyRecord | None:
    """The answer stored for ``user``'s ``key`` within the last ``KEEP``."""
    return IdempotencyRecord.objects.filter(user=user, key=key, created_at__gte=timezone.now() - KEEP).first()


def purge_idempotency_records() -> int:
    """Stored answers are personal data kept only as long as a client may replay a
    request: older ones are deleted (hourly, ``accounts.tasks.purge_idempotency_records``)."""
    deleted, _details = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEEP).delete()
    return deleted
