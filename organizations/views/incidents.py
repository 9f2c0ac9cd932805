"""Security notices (SEC-4): a person's own notices, and the public announcements for
incidents where telling each person is impractical. Writes go through
``organizations.services.incidents``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from organizations.models.incidents import SecurityIncident
from organizations.services import incidents as services


@login_required
@require_GET
def my_security_notices(request: HttpRequest) -> HttpResponse:
    """The signed-in person's incident notices, and only theirs: what happened, which
    data, what was done, what they can do, remedies. Opening the page records when each
    notice was first read."""
    notices = services.person_notices(request.user)
    services.mark_notices_read(request.user, notices)
    return render(request, "organizations/incidents/my_notices.html", {"notices": notices})


@require_GET
def security_notices(request: HttpRequest) -> HttpResponse:
    """Published incident announcements, newest first. Needs no sign-in and shows no
    personal data: only the announcement's own texts."""
    incidents = list(
        SecurityIncident.objects.published()
        .only("reference", "title", "announcement", "announced_at", "discovered_at", "data_categories")
        .order_by("-announced_at", "-pk")
    )
    return render(request, "organizations/incidents/public.html", {"incidents": incidents})
