"""An organization's data-subject requests (REQ-4 to REQ-8): the queue of the requests
routed to it (open, due soon, overdue, closed), one request with its timeline, and the
handler's actions (assign, note, pause, resume, extend, refuse, complete, apply a
correction, carry out a deletion, prepare the archive of an access request).

Every view starts at the gate: ``org_access`` (404 unless the user administers the
organization), then ``requests.permissions`` (403 without ``handle_requests``, 404 for a
request outside the administrator's scope). Views validate with ``requests.forms.org``
and call the services; they never write models.
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
from requests.forms.org import (
    PAGE_SIZE,
    QUEUE_VIEWS,
    AssignForm,
    CompleteForm,
    ConfirmForm,
    EmptyForm,
    NoteForm,
    QueueFilterForm,
    QueueView,
    ReasonForm,
    RefuseForm,
)
from requests.models import (
    CLOSED_STATUSES,
    DELETION_KINDS,
    EXPORT_KINDS,
    OPEN_STATUSES,
    DataSubjectRequest,
    RequestStatus,
)
from requests.services import fulfilment, workflow

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


def _forms(access: OrgAccess, data_request: DataSubjectRequest) -> dict:
    return {
        "assign_form": AssignForm(assignees=assignees(access), initial={"assignee": data_request.assignee_id}),
        "note_form": NoteForm(),
        "pause_form": ReasonForm(prefix="pause"),
        "extend_form": ReasonForm(prefix="extend"),
        "refuse_form": RefuseForm(),
        "complete_form": CompleteForm(),
        "confirm_form": ConfirmForm(),
    }


@never_cache
@login_required
@require_GET
def detail(request: HttpRequest, org_id: int, pk: int) -> HttpResponse:
    """REQ-5, REQ-6: one request with what was asked (for a correction: the field, the
    proposed value and the evidence), its full timeline (internal notes too) and the
    actions its status allows."""
    access = org_access(request.user, org_id)
    data_request = permissions.get_org_request(access, pk)
    events = data_request.events.select_related("actor").order_by("at", "pk")
    is_open = data_request.status in OPEN_STATUSES
    return render_org(
        request,
        "requests/org/detail.html",
        access,
        {
            "section": "requests",
            "data_request": data_request,
            "events": events,
            "is_open": is_open,
            "overdue": data_request.is_overdue,
            "field_label": field_label(data_request.field)
            if data_request.field in fulfilment.CORRECTABLE_FIELDS
            else data_request.field,
            "can_apply": is_open
            and data_request.kind in fulfilment.CORRECTION_KINDS
            and data_request.member_id is not None,
            "can_delete": is_open and data_request.kind in DELETION_KINDS,
            "can_export": is_open and data_request.kind in EXPORT_KINDS,
            "deletion_job": fulfilment.deletion_is_running(data_request)
            if data_request.kind in DELETION_KINDS
            else None,
            "archive": data_request.exports.first() if data_request.kind in EXPORT_KINDS else None,
            "can_pause": is_open and workflow.can_transition(data_request.status, RequestStatus.PAUSED),
            "can_resume": data_request.status == RequestStatus.PAUSED,
            "can_extend": is_open
            and data_request.extended_at is None
            and workflow.can_transition(data_request.status, RequestStatus.EXTENDED),
            "can_complete": is_open and workflow.can_transition(data_request.status, RequestStatus.COMPLETED),
            **_forms(access, data_request),
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


def _run(request: HttpRequest, access: OrgAccess, data_request: DataSubjectRequest, action: str):
    """Validate the action's form and call its service; returns a success message, or
    raises ValidationError with what to tell the handler."""
    ip = client_ip(request)
    user = request.user

    def valid(form):
        if not form.is_valid():
            raise ValidationError([str(error) for errors in form.errors.values() for error in errors])
        return form.cleaned_data

    if action == "assign":
        data = valid(AssignForm(request.POST, assignees=assignees(access)))
        assignee = data["assignee"]
        if assignee is not None:
            try:  # the assignee must be able to open this very request
                permissions.get_org_request(org_access(assignee, access.organization.pk), data_request.pk)
            except (Http404, PermissionDenied) as exc:
                raise ValidationError(_("This administrator cannot handle this request.")) from exc
        workflow.assign_request(data_request, assignee, actor=user, ip=ip)
        return _("The request was assigned.")
    if action == "note":
        data = valid(NoteForm(request.POST))
        workflow.add_note(data_request, actor=user, text=data["text"], internal=not data["to_person"], ip=ip)
        return _("The message was sent to the person.") if data["to_person"] else _("The note was added.")
    if action == "pause":
        data = valid(ReasonForm(request.POST, prefix="pause"))
        workflow.pause_request(data_request, actor=user, reason=data["reason"], ip=ip)
        return _("The request is paused: the clock stopped.")
    if action == "resume":
        valid(EmptyForm(request.POST))
        workflow.resume_request(data_request, actor=user, ip=ip)
        return _("The request is resumed.")
    if action == "extend":
        data = valid(ReasonForm(request.POST, prefix="extend"))
        workflow.extend_request(data_request, actor=user, reason=data["reason"], ip=ip)
        return _("The deadline was extended.")
    if action == "refuse":
        data = valid(RefuseForm(request.POST))
        workflow.refuse_request(data_request, actor=user, ground=data["ground"], explanation=data["explanation"], ip=ip)
        return _("The request was refused; the person reads the reason.")
    if action == "complete":
        data = valid(CompleteForm(request.POST))
        workflow.complete_request(data_request, actor=user, outcome=data["outcome"], ip=ip)
        return _("The request is completed.")
    if action == "apply":
        valid(ConfirmForm(request.POST))
        try:
            fulfilment.apply_correction(data_request, actor=user, ip=ip)
        except PermissionDenied as exc:
            raise ValidationError(
                _(
                    "Applying it needs the edit roster right on this member "
                    "(and view sensitive fields for a sensitive one)."
                )
            ) from exc
        return _("The correction was applied and the request completed.")
    if action == "delete":
        valid(ConfirmForm(request.POST))
        job = fulfilment.carry_out_deletion(data_request, actor=user, ip=ip)
        if job is None:
            return _("Nothing was left to delete; the request is completed.")
        return _("The deletion has started; the request completes when it is done.")
    if action == "export":
        valid(EmptyForm(request.POST))
        fulfilment.start_export(data_request, actor=user)
        return _("The archive is being prepared; only the person can download it.")
    raise Http404


ACTIONS = ("assign", "note", "pause", "resume", "extend", "refuse", "complete", "apply", "delete", "export")


@login_required
@require_POST
def act(request: HttpRequest, org_id: int, pk: int, action: str) -> HttpResponse:
    """REQ-5 to REQ-8: one handler action on a request, then back to the request."""
    if action not in ACTIONS:
        raise Http404
    access = org_access(request.user, org_id)
    data_request = permissions.get_org_request(access, pk)
    try:
        messages.success(request, _run(request, access, data_request, action))
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect("data_requests:org_request", org_id, pk)


urlpatterns = [
    path("orgs/<int:org_id>/requests/", queue, name="org_queue"),
    path("orgs/<int:org_id>/requests/<int:pk>/", detail, name="org_request"),
    path("orgs/<int:org_id>/requests/<int:pk>/evidence/", evidence, name="org_request_evidence"),
    path("orgs/<int:org_id>/requests/<int:pk>/<slug:action>/", act, name="org_request_action"),
]
