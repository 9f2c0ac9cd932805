"""An organization's services (SVC-1 to SVC-3) under ``/orgs/<id>/services/``, and the
provider API (``consent.api.provider``) under ``/provider/v1/``.

One gate for every page: ``org_access`` (404 outside the organization), then
``manage_services`` on the whole organization (403 otherwise; a frozen organization
holds no write right). Views validate with forms and call ``consent.services.sharing``.
A service hosted outside the data region says so wherever it is shown (SEC-6).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from consent.api import provider as provider_api
from consent.forms.services import ChildSharingForm, CloseServiceForm, ConfirmSharingForm
from consent.models.sharing import DataScope, GrantStatus, NoticeStatus, Service, ServiceKind, SharingGrant
from consent.services import child_sharing, sharing
from dataprotection.audit import client_ip
from organizations.models import Right
from organizations.permissions import OrgAccess, org_access
from organizations.views.common import posted_data, render_org

BASIC_INFORMATION = (
    ("user_id", gettext_lazy("User ID (a pseudonymous ID for this service only)")),
    ("avatar", gettext_lazy("Avatar")),
    ("nickname", gettext_lazy("Nickname")),
)


def _access(request: HttpRequest, org_id: int) -> OrgAccess:
    access = org_access(request.user, org_id)
    if not access.has_whole(Right.MANAGE_SERVICES):
        raise PermissionDenied
    return access


def _service(access: OrgAccess, service_id: int) -> Service:
    """A service of this organization's catalog, else 404 (another organization's
    self-built app does not exist for it)."""
    service = Service.objects.filter(pk=service_id).select_related("organization").first()
    if service is None or not sharing.visible_to(service, access.organization):
        raise Http404
    return service


def _scopes(service: Service) -> list[tuple[str, str]]:
    labels = dict(DataScope.choices)
    return [(scope, str(labels.get(scope, scope))) for scope in service.data_scopes]


def _context(service: Service, **extra) -> dict:
    return {
        "section": "services",
        "service": service,
        "data_region": sharing.data_region_label(),
        "basic_information": [str(label) for _key, label in BASIC_INFORMATION],
        "scopes": _scopes(service),
        "is_first_party": service.kind == ServiceKind.FIRST_PARTY,
        **extra,
    }


@login_required
@require_GET
def service_list(request: HttpRequest, org_id: int) -> HttpResponse:
    """SVC-1: the organization's catalog with each service's state, and every deletion
    notice sent on its behalf."""
    access = _access(request, org_id)
    states = sharing.service_states(access.organization)
    groups = [
        (label, [state for state in states if state.service.kind == kind])
        for kind, label in (
            (ServiceKind.FIRST_PARTY, _("Custodia services")),
            (ServiceKind.THIRD_PARTY, _("Third-party apps")),
            (ServiceKind.SELF_BUILT, _("Self-built apps")),
        )
    ]
    return render_org(
        request,
        "consent/services/list.html",
        access,
        {
            "section": "services",
            "groups": groups,
            "notices": list(sharing.organization_notices(access.organization)),
        },
    )


@login_required
@require_GET
def service_detail(request: HttpRequest, org_id: int, service_id: int) -> HttpResponse:
    """SVC-3: a service's state for the organization, its grants (who opened and closed
    it, when, which scopes) and the deletion notices to its provider."""
    access = _access(request, org_id)
    service = _service(access, service_id)
    grants = list(
        SharingGrant.objects.filter(organization=access.organization, service=service)
        .select_related("opened_by", "closed_by")
        .order_by("-opened_at", "-pk")
    )
    for grant in grants:
        grant.service = service
        grant.scope_labels = sharing.scope_labels(grant.scopes)
    current = next((grant for grant in grants if grant.status == GrantStatus.ACTIVE), None)
    notices = list(sharing.organization_notices(access.organization, service))
    return render_org(
        request,
        "consent/services/detail.html",
        access,
        _context(
            service,
            grants=grants,
            grant=current,
            asks_for_more=sharing.scope_labels(sharing.added_scopes(current))
            if current and sharing.needs_reconfirmation(current)
            else [],
            confirmed_scopes=sharing.scope_labels(sharing.effective_scopes(current)) if current else [],
            notices=notices,
            in_flight=any(notice.status != NoticeStatus.ACKNOWLEDGED for notice in notices),
            cross_border_counts=sharing.cross_border_counts(access.organization)
            if current and service.hosted_outside_region
            else None,
            can_view_children=access.has(Right.VIEW_CHILDREN),
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def service_open(request: HttpRequest, org_id: int, service_id: int) -> HttpResponse:
    """SVC-2: show exactly what will be shared and record the confirmation."""
    access = _access(request, org_id)
    service = _service(access, service_id)
    detail = redirect("consent:service_detail", org_id=access.organization.pk, service_id=service.pk)
    if sharing.active_grant(access.organization, service) is not None:
        return detail
    if not service.listed:
        raise Http404
    form = ConfirmSharingForm.for_service(service, posted_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            sharing.open_service(
                access,
                service,
                scopes=form.cleaned_data["scopes"],
                scopes_revision=form.cleaned_data["scopes_revision"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            if exc.code == "stale":  # show the current catalog entry, unconfirmed
                messages.error(request, " ".join(exc.messages))
                return redirect(request.path)
            form.add_error(None, exc)
        else:
            messages.success(request, _("%(service)s is open for the organization.") % {"service": service.name})
            return detail
    return render_org(request, "consent/services/open.html", access, _context(service, form=form))


@login_required
@require_http_methods(["GET", "POST"])
def service_reconfirm(request: HttpRequest, org_id: int, service_id: int) -> HttpResponse:
    """SVC-2: the provider asks for more data; until an administrator confirms it, the
    provider keeps receiving only what was confirmed before."""
    access = _access(request, org_id)
    service = _service(access, service_id)
    grant = sharing.active_grant(access.organization, service)
    detail = redirect("consent:service_detail", org_id=access.organization.pk, service_id=service.pk)
    if grant is None or not sharing.needs_reconfirmation(grant):
        return detail
    form = ConfirmSharingForm.for_service(service, posted_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            sharing.reconfirm_service(
                access,
                grant,
                scopes=form.cleaned_data["scopes"],
                scopes_revision=form.cleaned_data["scopes_revision"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            if exc.code == "stale":
                messages.error(request, " ".join(exc.messages))
                return redirect(request.path)
            form.add_error(None, exc)
        else:
            messages.success(request, _("The data shared with %(service)s was confirmed.") % {"service": service.name})
            return detail
    return render_org(
        request,
        "consent/services/reconfirm.html",
        access,
        _context(
            service,
            form=form,
            grant=grant,
            asks_for_more=sharing.scope_labels(sharing.added_scopes(grant)),
            confirmed_scopes=sharing.scope_labels(sharing.effective_scopes(grant)),
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def service_close(request: HttpRequest, org_id: int, service_id: int) -> HttpResponse:
    """SVC-3: closing revokes the provider's tokens at once and sends it a deletion
    notice, retried until acknowledged."""
    access = _access(request, org_id)
    service = _service(access, service_id)
    grant = sharing.active_grant(access.organization, service)
    detail = redirect("consent:service_detail", org_id=access.organization.pk, service_id=service.pk)
    if grant is None:
        return detail
    form = CloseServiceForm(posted_data(request), first_party=service.kind == ServiceKind.FIRST_PARTY)
    if request.method == "POST" and form.is_valid():
        try:
            sharing.close_service(access, grant, ip=client_ip(request))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if service.kind == ServiceKind.FIRST_PARTY:
                messages.success(request, _("%(service)s is closed.") % {"service": service.name})
            else:
                messages.success(
                    request,
                    _("%(service)s is closed: its access stopped and a deletion notice was sent to the provider.")
                    % {"service": service.name},
                )
            return detail
    return render_org(request, "consent/services/close.html", access, _context(service, form=form, grant=grant))


@login_required
@require_http_methods(["GET", "POST"])
def service_children(request: HttpRequest, org_id: int, service_id: int) -> HttpResponse:
    """SEC-3: children's entries are never in the lists this service fetches; here the
    administrator records, child by child, whether the guardian agreed that the service
    reads the child's entry one at a time (``manage_services`` and ``view_children``)."""
    access = _access(request, org_id)
    service = _service(access, service_id)
    if not access.has(Right.VIEW_CHILDREN):
        raise PermissionDenied
    if request.method == "POST":
        form = ChildSharingForm(request.POST)
        if not form.is_valid():
            raise Http404
        member = access.get_member(form.cleaned_data["member"], Right.VIEW_CHILDREN)
        shared = form.cleaned_data["shared"]
        try:
            child_sharing.set_child_sharing(access, service, member, shared=shared, ip=client_ip(request))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            done = (
                _("%(service)s may now read %(name)s's entry, one at a time.")
                if shared
                else _("%(service)s can no longer read %(name)s's entry.")
            )
            messages.success(request, done % {"name": member.name, "service": service.name})
        return redirect("consent:service_children", org_id=access.organization.pk, service_id=service.pk)
    return render_org(
        request,
        "consent/services/children.html",
        access,
        _context(
            service,
            rows=child_sharing.children_for_sharing(access, service),
            grant=sharing.active_grant(access.organization, service),
            withheld=sharing.children_withheld(access.organization),
        ),
    )


urlpatterns = [
    path("orgs/<int:org_id>/services/", service_list, name="services"),
    path("orgs/<int:org_id>/services/<int:service_id>/", service_detail, name="service_detail"),
    path("orgs/<int:org_id>/services/<int:service_id>/open/", service_open, name="service_open"),
    path("orgs/<int:org_id>/services/<int:service_id>/reconfirm/", service_reconfirm, name="service_reconfirm"),
    path("orgs/<int:org_id>/services/<int:service_id>/close/", service_close, name="service_close"),
    path("orgs/<int:org_id>/services/<int:service_id>/children/", service_children, name="service_children"),
    *provider_api.urlpatterns,
]
