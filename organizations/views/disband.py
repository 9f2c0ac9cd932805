"""Disbanding an organization (ORG-11): the owner's confirmation page with the preview,
the status page with the cascade's progress and deletion report, and the cancel button
of the grace window. They write through ``organizations.services.disband``.

Access: the disband and cancel pages go through the gate (``org_access``: 404 out of
scope) and are the owner's (403 for a sub-administrator), also while the organization
is frozen. The status page too, except that the cascade deletes the owner's
administrator row: the person who requested the disband keeps reaching its status page
and deletion report through the job (404 for anyone else).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.services.codes import CodeRejected
from accounts.views.reverification import send_reverification_code
from dataprotection import anonymization, liveness
from dataprotection.audit import client_ip
from dataprotection.models import AnonymizationJob, JobKind, JobStatus
from organizations.forms.disband import DisbandForm
from organizations.models import Organization
from organizations.permissions import org_access
from organizations.services import disband as services
from organizations.views.common import render_org

WORKING = (JobStatus.RUNNING, JobStatus.VERIFYING)
# Seconds between the status page's own refreshes: quick while the cascade runs (or is
# due), slow during the grace window, when nothing moves until it ends or is cancelled.
REFRESH_WORKING = 2
REFRESH_WAITING = 60


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def disband(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-11: the preview of what the cascade does, then the organization's name and a
    fresh SMS code to confirm. Errors re-render the page and write nothing."""
    access = org_access(request.user, org_id)
    access.require_owner(writing=False)
    organization = access.organization
    form = DisbandForm()
    if request.method == "POST" and "send_code" in request.POST:
        form = DisbandForm(initial={"confirm_name": request.POST.get("confirm_name", "")})
        refused = send_reverification_code(request)
        if refused is not None:
            messages.error(request, " ".join(refused.messages))
    elif request.method == "POST":
        form = DisbandForm(request.POST)
        if form.is_valid():
            try:
                job = services.request_disband(
                    access,
                    code=form.cleaned_data["code"],
                    confirm_name=form.cleaned_data["confirm_name"],
                    ip=client_ip(request),
                )
            except CodeRejected as exc:
                form.add_error("code", exc)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                if job.status == JobStatus.SCHEDULED and job.not_before > timezone.now():
                    messages.success(
                        request,
                        _(
                            "%(organization)s will be disbanded on %(date)s. Until then it is read-only, "
                            "and you can cancel."
                        )
                        % {"organization": organization.name, "date": _local(job.not_before)},
                    )
                else:
                    messages.success(
                        request, _("%(organization)s is being disbanded.") % {"organization": organization.name}
                    )
                return redirect("organizations:disband_status", org_id=organization.pk)
    preview = None if access.is_frozen else services.disband_preview(organization)
    return render_org(
        request,
        "organizations/disband/confirm.html",
        access,
        {
            "section": "disband",
            "form": form,
            "preview": preview,
        },
    )


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _requested_job(user, org_id: int) -> AnonymizationJob | None:
    """The latest disband of the organization that ``user`` requested."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        AnonymizationJob.objects.filter(kind=JobKind.DISBAND, organization_id=org_id, requested_by=user)
        .order_by("-id")
        .first()
    )


@never_cache
@login_required
def disband_status(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-11, ANON-7: the latest disband of the organization, its progress while it
    runs, and the deletion report once it completed."""
    try:
        access = org_access(request.user, org_id)
    except Http404:
        access = None
    if access is not None:
        access.require_owner(writing=False)
        job = services.latest_disband(org_id)
    else:
        # After the cascade the owner's administrator row is gone: the requester still
        # reaches the report through the job; everyone else gets a 404.
        job = _requested_job(request.user, org_id)
        if job is None:
            raise Http404
    context = {"section": "disband", "job": job, "layout": "organizations/base_org.html"}
    if job is not None:
        context.update(_status_context(job))
    if access is not None:
        return render_org(request, "organizations/disband/status.html", access, context)
    organization = Organization.objects.filter(pk=org_id).only("pk", "name", "status").first()
    context.update({"organization": organization, "layout": "organizations/disband/former_base.html"})
    return render(request, "organizations/disband/status.html", context)


def _status_context(job: AnonymizationJob) -> dict:
    progress = anonymization.progress(job)
    now = timezone.now()
    due = job.status == JobStatus.SCHEDULED and job.not_before <= now
    if job.status in WORKING or due:
        refresh = REFRESH_WORKING
    elif job.status == JobStatus.SCHEDULED:
        refresh = REFRESH_WAITING
    else:
        refresh = None
    # The report was written by a worker in its own language: the tables are named again.
    report = anonymization.localized_report(job.report)
    grace_open = services.in_grace_window(job, now=now)
    since = anonymization.waiting_since(job, now)
    return {
        "progress": progress,
        "waiting_since": liveness.since_label(since, now) if since else "",
        "refresh": refresh,
        # ORG-11: only within the grace window; once it ends the cascade may start any moment.
        "can_cancel": grace_open,
        "grace_open": grace_open,
        "report": report if job.status in (JobStatus.COMPLETED, JobStatus.FAILED) and report else None,
        "verified_at": parse_datetime(report["verified_at"]) if report.get("verified_at") else None,
    }


@login_required
@require_POST
def disband_cancel(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-11: the owner cancels during the grace window; the organization is active
    again. Refused once the cascade has started."""
    access = org_access(request.user, org_id)
    access.require_owner(writing=False)
    if services.cancel_disband(access, ip=client_ip(request)):
        messages.success(
            request,
            _("The disband of %(organization)s was cancelled. The organization is active again.")
            % {"organization": access.organization.name},
        )
        return redirect("organizations:dashboard", org_id=access.organization.pk)
    messages.error(request, _("There is no disband to cancel: it was never requested or it has already started."))
    return redirect("organizations:disband_status", org_id=access.organization.pk)
