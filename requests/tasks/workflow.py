"""Daily reminders of requests due soon or overdue (REQ-4)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from requests.services import workflow


@shared_task(name="requests.tasks.remind_assignees")
def remind_assignees() -> str:
    """REQ-4: once a day (beat), remind whoever should act on each open request due
    within ``REQUEST_DUE_SOON_DAYS`` or overdue. Each request is claimed by its own
    compare-and-set on ``last_reminded_on``, in its own transaction: a rerun the same day
    or a second worker reminds nobody twice, and one failure does not stop the rest."""
    today = timezone.localdate()
    reminded = 0
    for request_id in workflow.requests_to_remind(today):
        reminded += workflow.remind_request(request_id, today)
    return f"reminded {reminded}"
