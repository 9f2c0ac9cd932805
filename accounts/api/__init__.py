"""The REST API's foundation (issue 7), shared by every app's ``api/`` package:
authentication by personal access token, scope checks, the error body, pagination,
throttling and idempotency keys. It lives in accounts, the lowest app, because it is
about who calls and how; every app may import it (docs/architecture.md)."""
