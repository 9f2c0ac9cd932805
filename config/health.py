"""Health checks for load balancers and orchestrators: public, unauthenticated, cheap.

- ``/healthz`` (liveness): the process answers. No database, no broker, no session:
  a failing database must not make an orchestrator restart every web process.
- ``/readyz`` (readiness): this process can serve. The database answers, every
  migration this code knows is applied, the cache (when ``REDIS_URL`` is set) and the
  Celery broker answer. 200 when all are ok, else 503; the body names each part as
  ``ok`` or ``failing`` and nothing more (no host, version, error text or count), so
  the endpoints tell an anonymous caller nothing about the deployment. The reason of a
  failure goes to the log, without a traceback.

Neither reads the session or the user, so a probe without cookies costs no query but
the checks' own (``/healthz``: none; ``/readyz``: three). Both are exempt from the HTTPS
redirect (``SECURE_REDIRECT_EXEMPT``), as balancers often probe the backend over plain
HTTP; the probe must still send a ``Host`` header listed in ``ALLOWED_HOSTS``.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

OK = "ok"
FAILING = "failing"
BROKER_TIMEOUT_SECONDS = 2.0


@never_cache
@require_safe
def healthz(request):
    """Liveness: the process runs and answers."""
    return JsonResponse({"status": OK})


@functools.cache
def expected_migrations() -> frozenset[tuple[str, str]]:
    """The newest migration of every app, read from disk once per process."""
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes())


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_migrations() -> None:
    applied = MigrationRecorder(connection).applied_migrations()
    missing = expected_migrations() - set(applied)
    if missing:
        raise RuntimeError(f"{len(missing)} migration(s) not applied, e.g. {'.'.join(sorted(missing)[0])}")


def check_cache() -> None:
    cache.set("readyz", 1, timeout=10)
    if cache.get("readyz") != 1:
        raise RuntimeError("the cache did not keep a value")


def check_broker() -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)


def readiness_checks() -> dict:
    checks = {"database": check_database, "migrations": check_migrations}
    if settings.REDIS_URL:
        checks["cache"] = check_cache
    checks["broker"] = check_broker
    return checks


@never_cache
@require_safe
def readyz(request):
    """Readiness: 200 when every part is ok, else 503 naming the failing parts."""
    parts = {}
    for name, check in readiness_checks().items():
        try:
            check()
        except Exception as exc:  # a readiness probe reports; it never raises
            logger.warning("readiness: %s failing (%s: %s)", name, type(exc).__name__, exc)
            parts[name] = FAILING
        else:
            parts[name] = OK
    ready = all(state == OK for state in parts.values())
    return JsonResponse({"status": OK if ready else FAILING, "checks": parts}, status=200 if ready else 503)
