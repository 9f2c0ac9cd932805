"""The person's request pages (REQ-1 to REQ-4, REQ-6, REQ-9 to REQ-11): their requests,
filing a new one with a fresh SMS code, one request's timeline with withdraw, confirm /
reject (a request an agent filed for them) and escalate, and the automated decisions
made about them. They write through ``requests.services.filing``.

Access: signed-in people only; a request exists for its subject and the agent who filed
it, for anyone else it is a 404 (``requests.permissions.get_own_request``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import select_template
from django.urls import path, re_path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.services.codes import CodeRejected
from accounts.views.reverification import send_reverification_code
from dataprotection.audit import client_ip
from requests import selectors
from requests.forms.person import (
    KIND_EXPLANATIONS,
    NOT_FOR_AGENTS,
    EscalationForm,
    JurisdictionForm,
    RequestForm,
    kinds_for,
)
from requests.models import (
    EXPORT_KINDS,
    KINDS_BY_JURISDICTION,
    AutomatedDecision,
    DataSubjectRequest,
    DeletionGround,
    Jurisdiction,
    RequestKind,
    RequestStatus,
)
from requests.permissions import get_own_request
from requests.services import filing

DOWNLOAD_PANEL = "requests/exports/download_panel.html"
REFERENCE = r"(?P<reference>R-[A-Z0-9]{10})"


@never_cache
@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    """REQ-4, REQ-9: the person's requests (as the person or as an agent), newest first,
    with status, due date and overdue flag; requests an agent filed for them that wait
    for their confirmation come first. A fixed number of queries per page."""
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    rows, has_next = selectors.page_of_requests(request.user, page)
    return render(
        request,
        "requests/person/list.html",
        {
            "rows": rows,
            "awaiting": list(selectors.awaiting_confirmation(request.user)),
            "page": page,
            "has_previous": page > 1,
            "has_next": has_next,
        },
    )


@never_cache
@login_required
def new_request(request: HttpRequest) -> HttpResponse:
    """REQ-1: choose the jurisdiction (the deployment's by default), then the kind, each
    explained in one line; for oneself or, as an authorized agent, for someone else."""
    form = JurisdictionForm(request.GET or None, initial={"jurisdiction": selectors.default_jurisdiction()})
    jurisdiction = form.cleaned_data["jurisdiction"] if form.is_valid() else selectors.default_jurisdiction()
    return render(
        request,
        "requests/person/new.html",
        {
            "form": form,
            "jurisdiction": jurisdiction,
            "kinds": kinds_for(jurisdiction),
            "agent_kinds": kinds_for(jurisdiction, agent=True),
        },
    )


def _initial_from_post(request: HttpRequest, form: RequestForm) -> dict:
    """What the person typed, kept while a code is sent (the page is not validated yet)."""
    initial = {}
    for name, field in form.fields.items():
        if name == "code" or name not in request.POST:
            continue
        initial[name] = (
            request.POST.getlist(name)
            if getattr(field.widget, "allow_multiple_selected", False)
            else request.POST.get(name)
        )
    return initial


def _add_service_error(form: RequestForm, exc: ValidationError) -> None:
    """A refusal of the service, shown next to the field it is about (or on top)."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def file_request(request: HttpRequest, jurisdiction: str, kind: str) -> HttpResponse:
    """REQ-1 to REQ-3, REQ-9: the form of one kind. "Send code" sends a fresh code to the
    signed-in person's number; only a valid code creates the request. Errors re-render
    the page and write nothing."""
    if kind not in KINDS_BY_JURISDICTION.get(jurisdiction, ()):
        raise Http404
    agent = request.GET.get("agent") == "1"
    if agent and kind in NOT_FOR_AGENTS:
        raise Http404
    decision = None
    if kind == RequestKind.AUTOMATED_DECISION and request.GET.get("decision", "").isdigit():
        decision = AutomatedDecision.objects.filter(subject=request.user, pk=int(request.GET["decision"])).first()
    options = {"user": request.user, "kind": kind, "jurisdiction": jurisdiction, "agent": agent, "decision": decision}
    form = RequestForm(**options)
    if request.method == "POST" and "send_code" in request.POST:
        form = RequestForm(initial=_initial_from_post(request, form), **options)
        refused = send_reverification_code(request)
        if refused is not None:
            messages.error(request, " ".join(refused.messages))
        if request.FILES:
            messages.warning(request, _("Files are not kept while a code is sent: attach them again."))
    elif request.method == "POST":
        form = RequestForm(request.POST, request.FILES, **options)
        if form.is_valid():
            try:
                created = filing.file_request(filer=request.user, ip=client_ip(request), **form.service_arguments())
            except CodeRejected as exc:
                form.add_error("code", exc)
            except ValidationError as exc:
                _add_service_error(form, exc)
            else:
                if created.status == RequestStatus.VERIFYING:
                    messages.success(
                        request,
                        _("Request %(reference)s was filed. It waits for the person to confirm it.")
                        % {"reference": created.reference},
                    )
                else:
                    messages.success(
                        request,
                        _("Request %(reference)s was received. We answer by %(date)s.")
                        % {"reference": created.reference, "date": created.due_on.isoformat()},
                    )
                return redirect("data_requests:detail", reference=created.reference)
    return render(
        request,
        "requests/person/file.html",
        {
            "form": form,
            "kind": RequestKind(kind),
            "explanation": KIND_EXPLANATIONS[kind],
            "jurisdiction": jurisdiction,
            "jurisdiction_label": Jurisdiction(jurisdiction).label,
            "agent": agent,
            "action": request.get_full_path(),
        },
    )


def _has_download_panel() -> bool:
    """Whether the fulfilment's archive panel is installed (REQ-7)."""
    try:
        select_template([DOWNLOAD_PANEL])
    except TemplateDoesNotExist:
        return False
    return True


def _detail_context(request: HttpRequest, request_obj: DataSubjectRequest, escalation_form=None) -> dict:
    user = request.user
    is_subject = request_obj.subject_id == user.pk
    can_escalate = filing.can_escalate(request_obj) and not request_obj.escalations.open().exists()
    return {
        "request_obj": request_obj,
        "events": list(selectors.public_timeline(request_obj)),
        "is_subject": is_subject,
        "is_agent": request_obj.agent_id == user.pk and not is_subject,
        "awaiting_me": is_subject
        and request_obj.status == RequestStatus.VERIFYING
        and request_obj.agent_id is not None,
        "can_withdraw": request_obj.is_open,
        "can_escalate": can_escalate,
        "escalation_form": escalation_form or EscalationForm(),
        "escalations": list(request_obj.escalations.order_by("received_at", "pk").only("reference", "status")),
        "regulator_route": filing.regulator_route(request_obj.jurisdiction),
        "grounds": [
            DeletionGround(ground).label for ground in request_obj.deletion_grounds if ground in DeletionGround.values
        ],
        "field_label": _field_label(request_obj),
        "show_download_panel": request_obj.kind in EXPORT_KINDS and _has_download_panel(),
    }


def _field_label(request_obj: DataSubjectRequest) -> str:
    return selectors.request_field_label(request_obj)


@never_cache
@login_required
def request_detail(request: HttpRequest, reference: str) -> HttpResponse:
    """REQ-4, REQ-6, REQ-7, REQ-10: one request: due date, timeline, the refusal ground
    and explanation or the outcome, the archive, and the actions open to the requester."""
    request_obj = get_own_request(request.user, reference)
    return render(request, "requests/person/detail.html", _detail_context(request, request_obj))


def _answer(request: HttpRequest, request_obj, act, done: str) -> HttpResponse:
    """Run the person's ``act`` on their request; a refusal (a closed request, a
    confirmation already given) is shown as a message, never a half-done change."""
    try:
        act(request_obj, person=request.user, ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("data_requests:detail", reference=request_obj.reference)


@login_required
@require_POST
def withdraw(request: HttpRequest, reference: str) -> HttpResponse:
    request_obj = get_own_request(request.user, reference)
    return _answer(request, request_obj, filing.withdraw_request, _("The request was withdrawn."))


@login_required
@require_POST
def confirm(request: HttpRequest, reference: str) -> HttpResponse:
    """REQ-9: the person confirms what an agent filed for them."""
    request_obj = get_own_request(request.user, reference)
    return _answer(
        request,
        request_obj,
        filing.confirm_as_subject,
        _("You confirmed the request. We answer by the due date shown."),
    )


@login_required
@require_POST
def reject(request: HttpRequest, reference: str) -> HttpResponse:
    """REQ-9: the person rejects what an agent filed for them; it is withdrawn."""
    request_obj = get_own_request(request.user, reference)
    if request_obj.subject_id != request.user.pk:
        raise Http404
    return _answer(
        request, request_obj, filing.withdraw_request, _("You rejected the request. Nothing will be done with it.")
    )


@login_required
@require_POST
def escalate(request: HttpRequest, reference: str) -> HttpResponse:
    """REQ-10: turn a completed or refused request into a complaint."""
    request_obj = get_own_request(request.user, reference)
    form = EscalationForm(request.POST)
    if form.is_valid():
        try:
            complaint = filing.escalate_to_complaint(
                request_obj, person=request.user, details=form.cleaned_data["details"], ip=client_ip(request)
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                form.add_error(None, exc)
            else:
                messages.error(request, " ".join(exc.messages))
                return redirect("data_requests:detail", reference=reference)
        else:
            messages.success(
                request,
                _("Your complaint %(reference)s was received. %(route)s")
                % {"reference": complaint.reference, "route": filing.regulator_route(complaint.jurisdiction)},
            )
            return redirect("data_requests:detail", reference=complaint.reference)
    return render(request, "requests/person/detail.html", _detail_context(request, request_obj, form), status=400)


@never_cache
@login_required
def decisions(request: HttpRequest) -> HttpResponse:
    """REQ-11: the automated decisions made about the person, each with its explanation
    and a way to ask for more and appeal (an automated-decision request)."""
    jurisdiction = selectors.default_jurisdiction()
    return render(
        request,
        "requests/person/decisions.html",
        {
            "decisions": list(selectors.decisions_of(request.user)),
            "appeal_url": reverse(
                "data_requests:file", kwargs={"jurisdiction": jurisdiction, "kind": RequestKind.AUTOMATED_DECISION}
            ),
        },
    )


urlpatterns = [
    path("requests/", request_list, name="list"),
    path("requests/new/", new_request, name="new"),
    path("requests/new/<slug:jurisdiction>/<slug:kind>/", file_request, name="file"),
    path("requests/decisions/", decisions, name="decisions"),
    re_path(rf"^requests/{REFERENCE}/$", request_detail, name="detail"),
    re_path(rf"^requests/{REFERENCE}/withdraw/$", withdraw, name="withdraw"),
    re_path(rf"^requests/{REFERENCE}/confirm/$", confirm, name="confirm"),
    re_path(rf"^requests/{REFERENCE}/reject/$", reject, name="reject"),
    re_path(rf"^requests/{REFERENCE}/escalate/$", escalate, name="escalate"),
]
