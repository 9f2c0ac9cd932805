"""An organization's data-subject requests (REQ-4 to REQ-8): the queue of the requests
routed to it (open, due soon, overdue, closed), one request with its timeline, and the
handler's actions (assign, note, pause, resume, extend, refuse, complete, apply a
correction, carry out a deletion, prepare the archive of an access request).

Every view starts at the gate: ``org_access`` (404 unless the user administers the
organization), then ``requests.permissions`` (403 without ``handle_requests``, 404 for a
request outside the administrator's scope). The handler's actions are the console's
too: the forms of ``requests.forms.handling``, carried out by
``requests.services.handling``; views never write models.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from dataprotection.audit import client_ip
from dataprotection.files import sniff_document_type
from organizations.models import (
    Administrator,
    AdministratorRole,
    DepartmentUserObjectPermission,
    OrganizationUserObjectPermission,
    Right,
)
from organizations.permissions import OrgAccess, org_access
from organizations.services.roster import label as field_label
from organizations.views.common import render_org
from requests import permissions
from requests.forms.handling import error_messages, handling_form
from requests.forms.org import PAGE_SIZE, QUEUE_VIEWS, QueueFilterForm, QueueView
from requests.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    DataSubjectRequest,
)
from requests.services import fulfilment, handling

QUEUE_COLUMNS = (
    "pk",
    "reference",
    "kind",
    "status",
    "field",
    "received_at",
    "due_on",
    "closed_at",
    "organization_id",
    "subject__name",
    "member__name",
    "assignee__name",
    "assignee__phone",
)


def _due_soon_until():
    return timezone.localdate() + timedelta(days=settings.REQUEST_DUE_SOON_DAYS)


def queue_filter(view: str) -> Q:
    today = timezone.localdate()
    if view == QueueView.CLOSED:
        return Q(status__in=CLOSED_STATUSES)
    if view == QueueView.OVERDUE:
        return Q(status__in=OPEN_STATUSES, due_on__lt=today)
    if view == QueueView.DUE_SOON:
        return Q(status__in=OPEN_STATUSES, due_on__gte=today, due_on__lte=_due_soon_until())
    return Q(status__in=OPEN_STATUSES)


def queue_counts(requests) -> dict[str, int]:
    """The number of requests behind each tab, in one query."""
    return requests.aggregate(**{view: Count("pk", filter=queue_filter(view)) for view, _label in QUEUE_VIEWS})


def queue_rows(requests, view: str | None):
    """The rows of one tab of the queue (``None``: every request) with the columns it
    shows (the page and the API), most urgent first; closed ones latest closed first."""
    rows = requests if view is None else requests.filter(queue_filter(view))
    rows = rows.select_related("subject", "member", "assignee").only(*QUEUE_COLUMNS)
    return rows.order_by("-closed_at", "-pk") if view == QueueView.CLOSED else rows.order_by("due_on", "pk")


@login_required
@require_GET
def queue(request: HttpRequest, org_id: int) -> HttpResponse:
    """REQ-4, REQ-5: the organization's requests the administrator handles, by tab, most
    urgent first, with due dates and overdue badges, 25 a page.

    Queries (after the session and user): the administrator row, the grants (sub-
    administrators only), the counts per tab, the page -- nothing per row."""
    access = org_access(request.user, org_id)
    requests = permissions.org_requests(access)
    form = QueueFilterForm(request.GET)
    view, page = form.cleaned_view(), form.cleaned_page()
    rows = queue_rows(requests, view)
    offset = (page - 1) * PAGE_SIZE
    window = list(rows[offset : offset + PAGE_SIZE + 1])
    today = timezone.localdate()
    soon = _due_soon_until()
    for row in window:
        row.overdue = row.status in OPEN_STATUSES and row.due_on < today
        row.due_soon = row.status in OPEN_STATUSES and today <= row.due_on <= soon
    return render_org(
        request,
        "requests/org/queue.html",
        access,
        {
            "section": "requests",
            "rows": window[:PAGE_SIZE],
            "view": view,
            "views": QUEUE_VIEWS,
            "counts": queue_counts(requests),
            "page": page,
            "has_previous": page > 1,
            "has_next": len(window) > PAGE_SIZE,
        },
    )


def assignees(access: OrgAccess):
    """Administrators of the organization who may handle requests: the owner and every
    holder of ``handle_requests`` (on the organization or a subtree)."""
    organization = access.organization
    whole = OrganizationUserObjectPermission.objects.filter(
        content_object=organization, permission__codename=Right.HANDLE_REQUESTS
    ).values("user_id")
    subtree = DepartmentUserObjectPermission.objects.filter(
        content_object__organization=organization, permission__codename=Right.HANDLE_REQUESTS
    ).values("user_id")
    handlers = Administrator.objects.filter(organization=organization).filter(
        Q(role=AdministratorRole.OWNER) | Q(user_id__in=whole) | Q(user_id__in=subtree)
    )
    return get_user_model().objects.filter(pk__in=handlers.values("user_id"), is_active=True).order_by("name", "pk")


# The actions an organization's handlers take on its requests (``handling.ACTIONS``):
# work starts with the first of them, so there is no separate "start".
ACTIONS = ("assign", "note", "pause", "resume", "extend", "refuse", "complete", "apply", "delete", "export")


@never_cache
@login_required
@require_GET
def detail(request: HttpRequest, org_id: int, pk: int) -> HttpResponse:
    """REQ-5, REQ-6: one request with what was asked (for a correction: the field, the
    proposed value and the evidence), its full timeline (internal notes too) and the
    actions its status allows, each with its form."""
    access = org_access(request.user, org_id)
    data_request = permissions.get_org_request(access, pk)
    events = data_request.events.select_related("actor").order_by("at", "pk")
    available = handling.available_actions(data_request, ACTIONS)
    forms = {
        f"{name}_form": handling_form(
            name,
            assignees=assignees(access) if name == "assign" else None,
            initial={"assignee": data_request.assignee_id} if name == "assign" else None,
        )
        for name in available
    }
    return render_org(
        request,
        "requests/org/detail.html",
        access,
        {
            "section": "requests",
            "data_request": data_request,
            "events": events,
            "is_open": data_request.status in OPEN_STATUSES,
            "overdue": data_request.is_overdue,
            "field_label": field_label(data_request.field)
            if data_request.field in fulfilment.CORRECTABLE_FIELDS
            else data_request.field,
            "deletion_job": fulfilment.deletion_is_running(data_request) if "delete" in available else None,
            "archive": data_request.exports.first() if "export" in available else None,
            **{f"can_{name}": name in available for name in ACTIONS},
            **forms,
        },
    )


@never_cache
@login_required
@require_GET
def evidence(request: HttpRequest, org_id: int, pk: int) -> HttpResponse:
    """The evidence attached to a correction, for its handlers only; audited."""
    access = org_access(request.user, org_id)
    data_request = permissions.get_org_request(access, pk)
    data = fulfilment.read_evidence(data_request, actor=request.user, ip=client_ip(request))
    return evidence_response(data, data_request.reference)


EVIDENCE_EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


def evidence_response(data: bytes, reference: str) -> HttpResponse:
    """The evidence as an attachment of the type its bytes show (never its claimed
    name), that no cache keeps and no browser sniffs (these pages and the console)."""
    content_type = sniff_document_type(data[:16]) or "application/octet-stream"
    extension = EVIDENCE_EXTENSIONS.get(content_type, "bin")
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="evidence-{reference}.{extension}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _check_assignee(access: OrgAccess, data_request: DataSubjectRequest, assignee) -> None:
    """The assignee must be able to open this very request (the gate, as for the user)."""
    if assignee is None:
        return
    try:
        permissions.get_org_request(org_access(assignee, access.organization.pk), data_request.pk)
    except (Http404, PermissionDenied) as exc:
        raise ValidationError(_("This administrator cannot handle this request.")) from exc


@login_required
@require_POST
def act(request: HttpRequest, org_id: int, pk: int, action: str) -> HttpResponse:
    """REQ-5 to REQ-8: one handler action on a request, then back to the request."""
    if action not in ACTIONS:
        raise Http404
    access = org_access(request.user, org_id)
    data_request = permissions.get_org_request(access, pk)
    form = handling_form(action, request.POST, assignees=assignees(access) if action == "assign" else None)
    try:
        if not form.is_valid():
            raise ValidationError(error_messages(form))
        if action == "assign":
            _check_assignee(access, data_request, form.cleaned_data["assignee"])
        message = handling.carry_out(action, data_request, form.cleaned_data, actor=request.user, ip=client_ip(request))
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
    else:
        messages.success(request, message)
    return redirect("data_requests:org_request", org_id, pk)


urlpatterns = [
    path("orgs/<int:org_id>/requests/", queue, name="org_queue"),
    path("orgs/<int:org_id>/requests/<int:pk>/", detail, name="org_request"),
    path("orgs/<int:org_id>/requests/<int:pk>/evidence/", evidence, name="org_request_evidence"),
    path("orgs/<int:org_id>/requests/<int:pk>/<slug:action>/", act, name="org_request_action"),
]
