"""Background work of the organizations app, one module per area: ``roster_import`` (the
roster import's steps, ORG-7) and ``incidents`` (the incident deadline check, SEC-4).
Celery's autodiscovery imports this package only, so it imports each module; the task
names are fixed with ``name=`` (the beat schedule and queued messages use them)."""

from organizations.tasks.incidents import check_incident_deadlines
from organizations.tasks.roster_import import (
    check_roster_import_part,
    finish_roster_check,
    run_roster_import,
    validate_roster_import,
)

__all__ = [
    "check_incident_deadlines",
    "check_roster_import_part",
    "finish_roster_check",
    "run_roster_import",
    "validate_roster_import",
]
