"""Strings of Django's admin templates that Django 5.2's own Simplified Chinese catalog
lacks (the app list's table headers, read by screen readers). Marked here so that
``makemessages`` keeps them in our catalog, which Django consults first (LOCALE_PATHS),
and the operations console reads in Chinese throughout. Never imported."""

from django.utils.translation import gettext_noop

ADMIN_STRINGS = (
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
)
