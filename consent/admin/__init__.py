"""The operations console for the consent app, one module per area."""

from consent.admin import ledger, policies, sharing  # noqa: F401
