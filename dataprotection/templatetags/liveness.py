"""Template filters for the liveness of background jobs (``dataprotection.liveness``)."""

from __future__ import annotations

from django import template

from dataprotection import liveness
from dataprotection.admin.jobs import visible_kinds

register = template.Library()


@register.filter
def stale_since(heartbeat_at) -> str:
    """The "since" of "waiting for a worker since 12:04" when ``heartbeat_at`` is older
    than ``JOB_STALE_SECONDS`` (no live worker), in the viewer's time zone; "" while a
    worker beats it. Use it on jobs that should be running only."""
    since = liveness.waiting_since(heartbeat_at)
    return liveness.since_label(since) if since else ""


@register.inclusion_tag("admin/dataprotection/stalled_jobs_notice.html", takes_context=True)
def stalled_jobs_notice(context) -> dict:
    """On the console's home page: how many background jobs wait for a worker (of the
    kinds the staff member may view), with the link to the list."""
    user = context["request"].user
    kinds = visible_kinds(user)
    return {"visible": bool(kinds), "count": sum(liveness.stalled_count(kind) for kind in kinds)}
