"""Signals accounts sends for the apps above it (docs/architecture.md: hooks, never
imports against the arrow)."""

from django.dispatch import Signal

# CON-5: the person explicitly consented to, or stopped, sensitive processing of their
# data. Sent inside the transaction of the change; arguments: ``user``, ``purpose``
# (a consent purpose code such as ``IDENTITY_CHECK``) and ``ip``.
sensitive_processing_consented = Signal()
sensitive_processing_stopped = Signal()

IDENTITY_CHECK = "identity_check"
