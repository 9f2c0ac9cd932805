"""Reminders (REQ-4): placeholder until the workflow lands."""

from celery import shared_task


@shared_task(name="requests.tasks.remind_assignees")
def remind_assignees() -> str:
    return "nothing"
