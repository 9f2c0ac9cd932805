"""What every app's API shares, below every app: the error body and exception handler
(``errors``), serializers that refuse unknown fields and wrong JSON types (``strict``),
pagination, throttling, idempotency keys and the schema's shared parts. Who the caller
is and how strongly they signed in is the accounts gate (``accounts.api.authentication``)."""
