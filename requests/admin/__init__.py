"""The operations console for data-subject requests: the queue (with each request's
handling page and the dashboard) and the holiday calendars."""

from requests.admin import holidays, queue  # noqa: F401
