"""The operations console's pages for the cross-cutting machinery: ``base`` (what every
app's console pages share), ``audit`` (the audit trail), ``jobs`` (anonymization jobs and
the background jobs waiting for a worker). Importing the package registers them."""

from dataprotection.admin import audit, jobs  # noqa: F401  (registers the ModelAdmins)
