"""Helpers shared by the organization admin views."""

from __future__ import annotations

from django.shortcuts import render

from organizations.permissions import OrgAccess
from organizations.services.disband import live_disband


def render_org(request, template: str, access: OrgAccess, context: dict | None = None, **kwargs):
    """Render an organization page with the access object the org layout needs (the
    navigation shows only the sections whose rights the administrator holds).

    While the organization is frozen for a disband (ORG-11) the layout shows a banner
    with the date the cascade runs: one query for the live job, and only then."""
    frozen_job = None
    if access.is_frozen:
        frozen_job = live_disband(access.organization.pk)
    return render(
        request,
        template,
        {
            "access": access,
            "organization": access.organization,
            "rights": access.rights,
            "frozen_job": frozen_job,
            **(context or {}),
        },
        **kwargs,
    )


def posted_data(request):
    """The POST data, bound even when empty (an empty POST must fail validation, not
    render a fresh form); ``None`` on GET."""
    return request.POST if request.method == "POST" else None
