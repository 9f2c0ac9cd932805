"""Children's data pages (SEC-3): the designated person and age rule, a child's guardian
consent, and the roster export page that says which records an export leaves out.

Every view starts at the permission gate (``org_access``): outsiders get 404. The
settings page is shown to every administrator (they must know whom to ask) and changed by
the owner only (403 otherwise). A child's guardian-consent page is reached through
``access.get_member``, so it is 404 for an administrator without ``view_children`` on the
child, and 403 without ``edit_roster`` there; every view of it is audited.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dataprotection.audit import client_ip
from organizations.forms.children import ChildrenSettingsForm, GuardianConsentForm
from organizations.models import Right
from organizations.models.children import age_threshold
from organizations.permissions import org_access
from organizations.services import children as services
from organizations.views.common import render_org


@login_required
@require_http_methods(["GET", "POST"])
def children_settings(request: HttpRequest, org_id: int) -> HttpResponse:
    """SEC-3: the person responsible for children's data and where the organization's
    people are located (under 14, or under 15 in Australia)."""
    access = org_access(request.user, org_id)
    organization = access.organization
    read_only = not access.is_owner
    if request.method == "POST":
        if read_only:
            raise PermissionDenied
        form = ChildrenSettingsForm(request.POST, organization=organization)
        if form.is_valid():
            try:
                changed = services.set_children_settings(
                    access,
                    officer=form.cleaned_data["officer"],
                    jurisdiction=form.cleaned_data["jurisdiction"],
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                form.add_error("officer", exc)
            else:
                if changed:
                    messages.success(request, _("The children's data settings were saved."))
                else:
                    messages.info(request, _("Nothing was changed."))
                return redirect("organizations:children", org_id=organization.pk)
    else:
        form = ChildrenSettingsForm(organization=organization)
    officer = organization.children_data_officer
    return render_org(
        request,
        "organizations/children/settings.html",
        access,
        {
            "section": "children",
            "form": form,
            "read_only": read_only,
            "officer": officer,
            "age_limit": age_threshold(organization.children_jurisdiction),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def guardian_consent(request: HttpRequest, org_id: int, member_id: int) -> HttpResponse:
    """SEC-3: record the guardian's consent for a child (``edit_roster`` and
    ``view_children`` on the child); the page itself is an audited view of the child."""
    access = org_access(request.user, org_id)
    member = access.get_member(member_id, Right.EDIT_ROSTER)
    if not member.is_child:
        raise Http404
    current = services.consent_in_force(member)
    if request.method == "POST":
        form = GuardianConsentForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.record_guardian_consent(
                    access,
                    member,
                    guardian_name=data["guardian_name"],
                    relationship=data["relationship"],
                    contact=data["contact"],
                    method=data["method"],
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("The guardian's consent was recorded."))
                return redirect("organizations:member", org_id=access.organization.pk, member_id=member.pk)
    else:
        services.record_child_access(access, member, "guardian_consent", ip=client_ip(request))
        form = GuardianConsentForm()
    return render_org(
        request,
        "organizations/children/guardian_consent.html",
        access,
        {
            "section": "roster",
            "member": member,
            "form": form,
            "current": current,
            "officer": access.organization.children_data_officer,
        },
    )


@login_required
@require_POST
def guardian_consent_withdraw(request: HttpRequest, org_id: int, member_id: int) -> HttpResponse:
    """SEC-3: the guardian withdrew consent: the child's data beyond the basic fields is
    erased at once."""
    access = org_access(request.user, org_id)
    member = access.get_member(member_id, Right.EDIT_ROSTER)
    if not member.is_child:
        raise Http404
    try:
        erased = services.withdraw_guardian_consent(access, member, ip=client_ip(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("The guardian's consent was withdrawn and %(count)d fields of the child's data were erased.")
            % {"count": len(erased)},
        )
    return redirect("organizations:member", org_id=access.organization.pk, member_id=member.pk)


@login_required
@require_GET
def roster_export_page(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-7 with SEC-3: before the CSV download, the page says how many children's
    records in the administrator's scope the export leaves out, and why."""
    access = org_access(request.user, org_id)
    access.require(Right.VIEW_ROSTER)
    return render_org(
        request,
        "organizations/children/export.html",
        access,
        {"section": "roster", "children_left_out": access.children_in_scope(Right.VIEW_ROSTER).count()},
    )
