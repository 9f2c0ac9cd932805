"""Writes of the requests app, one module per area: ``filing`` (the person's side:
file, confirm, withdraw, escalate, REQ-1 to REQ-3, REQ-9, REQ-10), ``workflow`` (the
handlers' side: routing, transitions, pauses, extensions, refusals, reminders, REQ-4 to
REQ-6) and ``fulfilment`` (corrections applied, exports built, deletions carried out,
REQ-7, REQ-8)."""
