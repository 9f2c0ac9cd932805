"""The roster import's steps on a worker (ORG-7).

Tasks take IDs and claim the job row by compare-and-set on its status and its holder
(``services.roster_import.jobs.claim``), keeping the attempt count in the row and beating its
heartbeat while they work: with acks_late and reject_on_worker_lost (or the recovery
sweep) a message can be delivered twice, and the row decides whether anything is left
to do. After ``MAX_ATTEMPTS`` failed attempts the job is ``failed`` with the last error;
a lost database is waited out and costs no attempt. Enqueue with ``delay_on_commit``.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import translation

from dataprotection import liveness
from organizations.models import ImportStatus, RosterImport
from organizations.services.roster_import import jobs, service

logger = logging.getLogger(__name__)


def _run(task, import_id: int, status: str, body, language: str | None, attempts_of=None, give_back=None) -> str:
    """Run ``body(import_id, token)``, each attempt under a fresh claim token.
    ``attempts_of()``: the attempts counted so far (by default the job's; a part of a
    check counts its own); ``give_back(token)``: returns the claim and its attempt after a
    database outage (by default the job's claim), which is waited out here
    (``liveness.outage_tolerant``) and never counts as a failed attempt."""
    held: dict[str, str] = {}

    def work():
        held["token"] = liveness.worker_token()
        # Messages stored on the job (errors, report) in the uploader's language.
        with translation.override(language or translation.get_language()):
            return body(import_id, held["token"])

    def recover():
        if give_back is not None:
            give_back(held["token"])
        else:
            jobs.give_back(import_id, held["token"])

    while True:
        try:
            return liveness.outage_tolerant(work, recover=recover, what=f"roster import {import_id}")
        except Exception as exc:
            if liveness.is_database_outage(exc):
                # The database stayed away: nothing can be recorded now. The job keeps
                # its claim, whose heartbeat goes stale; the recovery sweep takes it up
                # once the database is back.
                raise
            if attempts_of is not None:
                attempts = attempts_of()
            else:
                attempts = RosterImport.objects.filter(pk=import_id).values_list("attempts", flat=True).first() or 0
            final = attempts >= jobs.MAX_ATTEMPTS
            error = f"{type(exc).__name__}: {exc}"
            jobs.record_failure(import_id, status, error, final=final, token=held.get("token"))
            if final:
                logger.exception("roster import %s failed for good after %s attempts", import_id, attempts)
                return "failed"
            logger.warning("roster import %s: attempt %s failed: %s", import_id, attempts, exc)
            if not task.request.is_eager:
                raise task.retry(countdown=min(300, 10 * 2**attempts), exc=exc) from exc
            # Run eagerly (tests, CELERY_TASK_ALWAYS_EAGER): no broker to wait on, try again now.


@shared_task(bind=True, max_retries=None, name="organizations.tasks.validate_roster_import")
def validate_roster_import(self, import_id: int, language: str | None = None) -> str:
    """Check every row of an uploaded roster file; nothing is written to the roster."""
    return _run(self, import_id, ImportStatus.VALIDATING, service.check_import, language)


@shared_task(bind=True, max_retries=None, name="organizations.tasks.check_roster_import_part")
def check_roster_import_part(self, import_id: int, index: int, language: str | None = None) -> str:
    """Check one part of a large roster file (``validate_roster_import`` splits it);
    the parts run at the same time on the workers. Nothing is written to the roster."""
    return _run(
        self,
        import_id,
        ImportStatus.VALIDATING,
        lambda pk, token: service.check_part(pk, index, token),
        language,
        attempts_of=lambda: jobs.part_attempts(import_id, index),
        give_back=lambda token: jobs.give_back_part(import_id, index, token),
    )


@shared_task(bind=True, max_retries=None, name="organizations.tasks.finish_roster_check")
def finish_roster_check(self, import_id: int, language: str | None = None) -> str:
    """Merge the checked parts of a roster file: duplicates within the file, the
    report and the checked rows (queued once, by the part recorded last)."""
    return _run(self, import_id, ImportStatus.VALIDATING, service.finish_check, language)


@shared_task(bind=True, max_retries=None, name="organizations.tasks.run_roster_import")
def run_roster_import(self, import_id: int, language: str | None = None) -> str:
    """Write the checked rows of a roster file, all or nothing, in one transaction."""
    return _run(self, import_id, ImportStatus.IMPORTING, service.run_import, language)
