"""Background work of the consent app: delivering deletion notices to providers
(SVC-3, REQ-8). Tasks take IDs; each notice row decides, by compare-and-set on its
status and its holder, whether there is anything left to do, so a message delivered
twice (acks_late and reject_on_worker_lost, or the recovery sweep) sends nothing twice.
Notices whose next attempt is due, and deliveries whose worker died, are enqueued by
the recovery sweep (``dataprotection.tasks.recover_jobs``)."""

from __future__ import annotations

from celery import shared_task

from consent.services.notices import deliver_notice


@shared_task
def deliver_deletion_notice(notice_id: int) -> str:
    """Deliver one notice: right after the decision that queued it commits, and again
    whenever the recovery sweep finds it due."""
    return deliver_notice(notice_id)
