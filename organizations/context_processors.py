"""Context every page gets from the organizations app: the service-shutdown notices
(ANON-6) that ``templates/base.html`` shows as banners."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.utils.functional import SimpleLazyObject

from organizations.services.retention import shutdown_notices

logger = logging.getLogger(__name__)

CACHE_KEY = "svc-notices"
CACHE_SECONDS = 60  # a notice appears (or goes) within a minute; nothing invalidates it


def cached_shutdown_notices() -> list:
    """The announced or running shutdowns, from the cache (one query when it is cold).
    A cache that is down costs a query per page, never the page."""
    try:
        notices = cache.get(CACHE_KEY)
    except Exception:  # the cache is an optimization: Redis down must not break every page
        logger.warning("service notices: cache unavailable", exc_info=True)
        notices, cache_up = None, False
    else:
        cache_up = True
    if notices is None:
        notices = list(shutdown_notices().only("kind", "announcement", "effective_at", "status"))
        if cache_up:
            try:
                cache.set(CACHE_KEY, notices, CACHE_SECONDS)
            except Exception:
                logger.warning("service notices: cache unavailable", exc_info=True)
    return notices


def service_notices(request) -> dict:
    """``shutdown_notices``: the announced or running shutdowns, read lazily (a page that
    does not show them costs nothing) and at most once per request, from a cache shared
    for a minute (at most one query when it is cold)."""
    return {"shutdown_notices": SimpleLazyObject(cached_shutdown_notices)}
