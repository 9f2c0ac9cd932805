"""The security incidents' deadline check on a worker (SEC-4)."""

from __future__ import annotations

from celery import shared_task

from organizations.services import incidents


@shared_task(name="organizations.tasks.check_incident_deadlines")
def check_incident_deadlines() -> list[str]:
    """SEC-4 (beat, hourly): carry SMS delivery outcomes over to incident notices and
    log a critical warning for each incident whose 30-day notification deadline is
    within three days (or past) while its notices are not all sent. Reads and
    compare-free updates only, so a duplicate delivery is harmless."""
    return incidents.check_incident_deadlines()
