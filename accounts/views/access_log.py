"""Who did what with the person's data (the personal access log)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from dataprotection.audit import organization_names
from dataprotection.audit_labels import action_label
from dataprotection.models import AuditEvent

ACCESS_LOG_PAGE_SIZE = 25


# The common actions on a person's data, told to that person; the others read as their
# audit label (``dataprotection.audit_labels``), never as a code.
ACCESS_ACTION_LABELS = {
    "member.revealed": gettext_lazy("Revealed a hidden field of your organization record"),
    "member.viewed": gettext_lazy("Viewed your organization record"),
    "member.updated": gettext_lazy("Changed your organization record"),
    "member.face_templates_erased": gettext_lazy("Erased your face recognition templates"),
    "roster.upserted": gettext_lazy("Added or updated you in a roster"),
    "request.filed": gettext_lazy("Filed a request about your data"),
    "request.escalated": gettext_lazy("Escalated a request about your data"),
    "request.details_viewed": gettext_lazy("Viewed the details of your request"),
    "request.evidence_viewed": gettext_lazy("Viewed the evidence attached to your request"),
    "request.correction_applied": gettext_lazy("Corrected your data as you requested"),
    "request.deletion_started": gettext_lazy("Started deleting your data as you requested"),
    "request.export_started": gettext_lazy("Started preparing a copy of your data"),
    "request.export_ready": gettext_lazy("Prepared a copy of your data"),
    "request.export_expired": gettext_lazy("Deleted an expired copy of your data"),
    "invitation.sent": gettext_lazy("Invited you to an organization"),
    "invitation.revoked": gettext_lazy("Withdrew an invitation to you"),
    "administrator.appointed": gettext_lazy("Appointed you as an administrator"),
    "administrator.removed": gettext_lazy("Removed you as an administrator"),
    "administrator.rights_changed": gettext_lazy("Changed your administrator rights"),
    "organization.ownership_transferred": gettext_lazy("Transferred an organization's ownership"),
    "identity.removed": gettext_lazy("Removed your real-person authentication"),
    "certification.file_viewed": gettext_lazy("Viewed a certification document"),
    "automated_decision.made": gettext_lazy("Made an automated decision about you"),
    "account.deleted": gettext_lazy("Deleted your account"),
}


# Actions a person takes on someone else's behalf (an agent), not as an administrator.
AGENT_ACTIONS = {"request.filed", "request.escalated"}


def _access_role(event, organization_names: dict[int, str]) -> str:
    if event.actor_kind == "system":
        return _("system")
    if event.actor_kind == "staff":
        return _("operations staff")
    if event.action in AGENT_ACTIONS:
        return _("a person acting on your behalf")
    if event.organization_id is not None:
        name = organization_names.get(event.organization_id)
        if name:
            return _("administrator of %(organization)s") % {"organization": name}
        return _("administrator of an organization")
    return _("another person")


@login_required
@require_GET
def access_log(request: HttpRequest) -> HttpResponse:
    """SEC-2 "who accessed my data": the audit events about the signed-in person that an
    administrator, operations staff or the system caused -- when, who (display name and
    role) and what, newest first, 25 a page. Never the actors' addresses nor the details
    the events keep. Queries (after the session and user): the page of events with
    their actors, and the names of their organizations (one per registered namer)."""
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    start = (page - 1) * ACCESS_LOG_PAGE_SIZE
    window = list(
        AuditEvent.objects.accessed_by_others(request.user)
        .select_related("actor")
        .only(
            "occurred_at", "action", "actor_kind", "organization_id", "actor__name", "actor__nickname", "actor__phone"
        )[start : start + ACCESS_LOG_PAGE_SIZE + 1]
    )
    events, has_next = window[:ACCESS_LOG_PAGE_SIZE], len(window) > ACCESS_LOG_PAGE_SIZE
    names = organization_names({event.organization_id for event in events if event.actor_kind == "person"})
    rows = [
        {
            "occurred_at": event.occurred_at,
            "who": (
                _("Custodia")
                if event.actor_kind == "system"
                else (event.actor.display_name if event.actor else _("a deleted account"))
            ),
            "role": _access_role(event, names),
            "what": str(ACCESS_ACTION_LABELS.get(event.action) or action_label(event.action)),
        }
        for event in events
    ]
    return render(
        request,
        "accounts/access_log.html",
        {"rows": rows, "page": page, "has_previous": page > 1, "has_next": has_next},
    )
