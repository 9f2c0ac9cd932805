"""Background work of the requests app, one module per area: ``exports`` (building and
expiring export archives, REQ-7) and ``workflow`` (reminders of requests due soon,
REQ-4). Celery's autodiscovery imports this package only, so it imports each module;
the task names are fixed with ``name=`` (the beat schedule in settings uses them)."""

from requests.tasks import exports, workflow  # noqa: F401
