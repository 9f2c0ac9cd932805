"""Export archives (REQ-7): placeholder until the fulfilment lands."""

from celery import shared_task


@shared_task(name="requests.tasks.build_export")
def build_export(archive_id: int) -> str:
    return "not built yet"


@shared_task(name="requests.tasks.expire_exports")
def expire_exports() -> str:
    return "nothing"


@shared_task(name="requests.tasks.resume_exports")
def resume_exports() -> str:
    return "nothing"
