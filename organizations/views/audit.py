"""The organization's audit log (SEC-2): who did what to personal data, when and from
where, for the owner only. Reads the append-only trail scoped to the organization."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from dataprotection.audit_labels import action_label, field_label
from dataprotection.models import AuditEvent
from organizations.forms.roster import AuditFilterForm
from organizations.models import Member
from organizations.permissions import org_access
from organizations.views.common import render_org
from organizations.views.roster import page_window


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@login_required
@require_GET
def audit_log(request: HttpRequest, org_id: int) -> HttpResponse:
    """SEC-2: the owner reads the organization's trail, filtered by action, actor name and
    date range, 50 events per page.

    Queries (after the session and user): the administrator row, the distinct actions
    for the filter, the page of events with their actors (``select_related``), and the
    names of the roster entries they target -- constant whatever the page holds."""
    access = org_access(request.user, org_id)
    access.require_owner(writing=False)
    events = AuditEvent.objects.in_organization(access.organization.pk)
    actions = list(events.order_by("action").values_list("action", flat=True).distinct())
    form = AuditFilterForm(request.GET, actions=actions)
    form.is_valid()
    filters = form.cleaned_data  # the valid filters apply; invalid ones are shown as errors
    if filters.get("action"):
        events = events.filter(action=filters["action"])
    if filters.get("actor"):
        events = events.filter(actor__name__icontains=filters["actor"])
    if filters.get("date_from"):
        events = events.filter(occurred_at__gte=_start_of(filters["date_from"]))
    if filters.get("date_to") and "date_to" not in form.errors:
        events = events.filter(occurred_at__lt=_start_of(filters["date_to"] + timedelta(days=1)))
    page = filters.get("page") or 1
    rows, has_next = page_window(events.select_related("actor").order_by("-occurred_at", "-id"), page)
    member_ids = {int(e.target_id) for e in rows if e.target_type == "organizations.member" and e.target_id.isdigit()}
    member_names = (
        dict(Member.objects.filter(organization=access.organization, pk__in=member_ids).values_list("pk", "name"))
        if member_ids
        else {}
    )
    for event in rows:
        event.target_label = (
            member_names.get(int(event.target_id)) if event.target_type == "organizations.member" else None
        )
        event.action_label = action_label(event.action)
        names = event.changes or ([event.metadata["field"]] if isinstance(event.metadata.get("field"), str) else [])
        event.field_labels = [field_label(event.target_type, name) for name in names]
    query = request.GET.copy()
    query.pop("page", None)
    return render_org(
        request,
        "organizations/audit/log.html",
        access,
        {
            "section": "audit",
            "form": form,
            "events": rows,
            "page": page,
            "has_previous": page > 1,
            "has_next": has_next,
            "filter_query": query.urlencode(),
        },
    )
