"""A member's own view of organization-control data (ORG-4, ORG-7, SEC-2): which
organization holds what about them, and who changed it. The person sees their own roster
entries only, sensitive values masked, and the audit events about them in each."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import render

from dataprotection.models import AuditEvent
from organizations.models import Department, Member

EVENTS_SHOWN = 100


@login_required
def my_organization_data(request):
    entries = list(
        Member.objects.filter(user=request.user)
        .select_related("organization")
        .prefetch_related(Prefetch("departments", queryset=Department.objects.only("id", "name")))
        .order_by("organization__name")
    )
    organization_ids = [entry.organization_id for entry in entries]
    events = list(
        AuditEvent.objects.filter(subject_user=request.user, organization_id__in=organization_ids)
        .select_related("actor")
        .order_by("-occurred_at", "-id")[:EVENTS_SHOWN]
    )
    by_organization: dict[int, list[AuditEvent]] = {}
    for event in events:
        by_organization.setdefault(event.organization_id, []).append(event)
    return render(
        request,
        "organizations/my_data.html",
        {"entries": [(entry, by_organization.get(entry.organization_id, [])) for entry in entries]},
    )
