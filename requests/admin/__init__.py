"""The operations console for data-subject requests."""

from requests.admin import queue  # noqa: F401
