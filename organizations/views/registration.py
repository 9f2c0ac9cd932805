"""My organizations, registering one (ORG-1), its overview, certification (ORG-2) and
ownership transfer (ORG-12). Organization pages resolve the organization through
``org_access`` first (404 out of scope, 403 forbidden) and write through
``organizations.services.registration``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.services.codes import CodeRejected
from accounts.views.reverification import send_reverification_code
from dataprotection.audit import client_ip
from dataprotection.models import AnonymizationJob, JobKind, JobStatus
from organizations.forms.registration import (
    CertificationForm,
    OrganizationRegistrationForm,
    TransferOwnershipForm,
    candidate_owners,
)
from organizations.models import (
    Administrator,
    Certification,
    CertificationStatus,
    Department,
    Member,
    Organization,
)
from organizations.permissions import administered_organizations, org_access
from organizations.services import registration as services
from organizations.views.common import render_org


@login_required
def organization_list(request: HttpRequest) -> HttpResponse:
    """The organizations the signed-in person administers or belongs to, and those it
    disbanded (ORG-11: the cascade removed its administrator row, the deletion report
    stays reachable). Two queries after the session, however many organizations there
    are."""
    user = request.user
    requested = AnonymizationJob.objects.filter(kind=JobKind.DISBAND, requested_by=user).exclude(
        status=JobStatus.CANCELLED
    )
    organizations = list(
        Organization.objects.filter(
            Q(pk__in=administered_organizations(user).values("pk")) | Q(pk__in=requested.values("organization_id"))
        )
        .annotate(
            my_role=Subquery(_my_role(user)),
            my_disband=Subquery(requested.filter(organization_id=OuterRef("pk")).order_by("-id").values("status")[:1]),
        )
        .order_by("name")
    )
    administered = [organization for organization in organizations if organization.my_role]
    disbanded = [organization for organization in organizations if not organization.my_role]
    for organization in organizations:
        organization.my_disband_display = JobStatus(organization.my_disband).label if organization.my_disband else ""
    administered_ids = {organization.pk for organization in organizations}
    memberships = [
        member
        for member in Member.objects.filter(user=request.user)
        .select_related("organization")
        .order_by("organization__name")
        if member.organization_id not in administered_ids
    ]
    return render(
        request,
        "organizations/registration/list.html",
        {
            "administered": administered,
            "disbanded": disbanded,
            "memberships": memberships,
        },
    )


def _my_role(user):
    return Administrator.objects.filter(organization=OuterRef("pk"), user=user).values("role")[:1]


@login_required
@require_http_methods(["GET", "POST"])
def register_organization(request: HttpRequest) -> HttpResponse:
    """ORG-1: register an organization; the person registering becomes its owner."""
    form = OrganizationRegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organization = services.register_organization(request.user, form.cleaned_data, ip=client_ip(request))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("%(name)s is registered. You are its owner.") % {"name": organization.name})
            return redirect("organizations:dashboard", org_id=organization.pk)
    return render(request, "organizations/registration/register.html", {"form": form})


def _count(model, **filters):
    rows = (
        model.objects.filter(organization=OuterRef("pk"), **filters)
        .order_by()
        .values("organization")
        .annotate(total=Count("pk"))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


@login_required
def dashboard(request: HttpRequest, org_id: int) -> HttpResponse:
    """The overview every administrator of the organization sees: the gate's query
    (two for a sub-administrator) and one more for the three counts."""
    access = org_access(request.user, org_id)
    counts = (
        Organization.objects.filter(pk=access.organization.pk)
        .annotate(
            member_count=_count(Member),
            department_count=_count(Department),
            administrator_count=_count(Administrator),
        )
        .values("member_count", "department_count", "administrator_count")
        .get()
    )
    return render_org(
        request, "organizations/registration/dashboard.html", access, {"section": "dashboard", "counts": counts}
    )


@login_required
@require_http_methods(["GET", "POST"])
def certification(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-2: the owner submits the organization for certification and follows the
    review."""
    access = org_access(request.user, org_id)
    access.require_owner()
    history = list(
        Certification.objects.filter(organization=access.organization)
        .only("pk", "registration_number", "status", "submitted_at", "reviewed_at", "review_reason")
        .order_by("-submitted_at", "-pk")
    )
    blocked = any(item.status in (CertificationStatus.PENDING, CertificationStatus.APPROVED) for item in history)
    form = None
    if not blocked:
        form = CertificationForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                services.submit_certification(
                    access,
                    data,
                    {name: data[name] for name in services.CERTIFICATION_FILES},
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Your certification was submitted. Operations staff will review it."))
                return redirect("organizations:certification", org_id=access.organization.pk)
    elif request.method == "POST":
        messages.error(request, _("A certification is already under review or approved."))
        return redirect("organizations:certification", org_id=access.organization.pk)
    return render_org(
        request,
        "organizations/registration/certification.html",
        access,
        {"section": "certification", "history": history, "form": form},
    )


@login_required
@require_http_methods(["GET", "POST"])
def transfer_ownership(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-12: the owner hands the organization to another administrator, after
    re-verifying with a fresh SMS code and typing the organization's name."""
    access = org_access(request.user, org_id)
    access.require_owner()
    organization = access.organization
    has_candidates = candidate_owners(organization).exists()
    form = TransferOwnershipForm(organization=organization)
    if request.method == "POST" and "send_code" in request.POST:
        form = TransferOwnershipForm(
            organization=organization,
            initial={"new_owner": request.POST.get("new_owner"), "confirm_name": request.POST.get("confirm_name")},
        )
        refused = send_reverification_code(request)
        if refused is not None:
            messages.error(request, " ".join(refused.messages))
    elif request.method == "POST":
        form = TransferOwnershipForm(request.POST, organization=organization)
        if form.is_valid():
            new_owner = form.cleaned_data["new_owner"]
            try:
                services.transfer_ownership(access, new_owner, form.cleaned_data["code"], ip=client_ip(request))
            except CodeRejected as exc:
                form.add_error("code", exc)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(
                    request,
                    _("%(person)s now owns %(organization)s. You remain an administrator with every right.")
                    % {"person": new_owner.user.name or new_owner.user.masked_phone, "organization": organization.name},
                )
                return redirect("organizations:dashboard", org_id=organization.pk)
    return render_org(
        request,
        "organizations/registration/transfer.html",
        access,
        {"section": "transfer", "form": form, "has_candidates": has_candidates},
    )
