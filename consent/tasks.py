"""Background work of the consent app: delivering deletion notices to providers
(SVC-3, REQ-8). Tasks take IDs; each notice row decides, by compare-and-set on its
status, whether there is anything left to do, so a message delivered twice (acks_late
and reject_on_worker_lost) sends nothing twice."""

from __future__ import annotations

import time

from celery import shared_task


@shared_task
def deliver_deletion_notice(notice_id: int) -> str:
    """Deliver one notice right after the decision that queued it commits."""
    from consent.services.notices import deliver_notice

    return deliver_notice(notice_id)


@shared_task
def deliver_due_notices() -> str:
    """Beat, every minute: deliver every notice whose next attempt is due, and those
    whose worker's lease ran out. Works within a budget below the task's soft time
    limit (one unreachable provider can hold a delivery for the whole HTTP timeout);
    what is left is due again at the next run."""
    from django.conf import settings

    from consent.services.notices import deliver_notice, due_notice_ids

    budget = settings.CELERY_TASK_SOFT_TIME_LIMIT - settings.DELETION_NOTICE_TIMEOUT_SECONDS - 10
    deadline = time.monotonic() + max(budget, 1)
    outcomes: dict[str, int] = {}
    for notice_id in due_notice_ids():
        if time.monotonic() >= deadline:
            break
        outcome = deliver_notice(notice_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items())) or "nothing due"
