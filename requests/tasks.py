"""Background work of the requests app. The tasks live in one module per area; this
module imports them so that Celery's autodiscovery registers every one (their names
are fixed with ``name=``, which the beat schedule in settings uses)."""

from requests.tasks_exports import build_export, expire_exports  # noqa: F401
from requests.tasks_workflow import remind_assignees  # noqa: F401
