"""A member's own view of organization-control data (ORG-4, ORG-7, SEC-2): which
organization holds what about them, and who changed it. The person sees their own roster
entries only, sensitive values masked, and the audit events about them in each."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import render

from dataprotection.audit_labels import action_label, field_label
from dataprotection.models import LIVE_JOB_STATUSES, AnonymizationJob, AuditEvent, JobKind
from organizations.models import Department, Member, OrganizationStatus

EVENTS_SHOWN = 100


@login_required
def my_organization_data(request):
    entries = list(
        Member.objects.filter(user=request.user)
        # SEC-3: the person responsible for children's data, named to members and guardians.
        .select_related("organization__children_data_officer__user")
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
        event.action_label = action_label(event.action)
        event.field_labels = [field_label(event.target_type or "organizations.member", name) for name in event.changes]
        by_organization.setdefault(event.organization_id, []).append(event)
    disbanding = _disband_dates(
        [e.organization_id for e in entries if e.organization.status == OrganizationStatus.FROZEN]
    )
    return render(
        request,
        "organizations/children/my_data.html",
        {
            "children_officers": [(entry.organization, entry.organization.children_data_officer) for entry in entries],
            "entries": [
                (entry, by_organization.get(entry.organization_id, []), disbanding.get(entry.organization_id))
                for entry in entries
            ],
        },
    )


def _disband_dates(organization_ids: list[int]) -> dict[int, object]:
    """ORG-11: when each frozen organization's data will be anonymized (one query, and
    only when one of the person's organizations is frozen)."""
    if not organization_ids:
        return {}
    jobs = AnonymizationJob.objects.filter(
        kind=JobKind.DISBAND,
        organization_id__in=organization_ids,
        status__in=LIVE_JOB_STATUSES,
    ).values_list("organization_id", "not_before")
    return dict(jobs)
