"""Roster import and export pages (ORG-5, ORG-6, ORG-7, ORG-10).

Every view starts at the permission gate (``org_access``): 404 out of scope, 403 in
scope without the right. Imports need ``edit_roster``; an import is visible to the
administrator who uploaded it and to the owner, and is a 404 for anyone else (its error
preview holds roster data from the uploader's scope). The export needs ``view_roster``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from dataprotection import liveness
from dataprotection.audit import client_ip, record_event
from organizations.forms.roster_import import ImportDecisionForm, RosterImportForm
from organizations.models import ImportStatus, Right, RosterImport
from organizations.permissions import OrgAccess, org_access
from organizations.services.roster_export import export_roster
from organizations.services.roster_import import service, storage, template
from organizations.services.roster_import.columns import field_label
from organizations.services.roster_import.files import render_error
from organizations.views.common import render_org

RECENT_IMPORTS = 10
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WORKING = (ImportStatus.VALIDATING, ImportStatus.IMPORTING)


def _csv_response(content, file_name: str, *, streaming: bool = False) -> HttpResponse:
    response_class = StreamingHttpResponse if streaming else HttpResponse
    response = response_class(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _imports_visible_to(access: OrgAccess):
    imports = RosterImport.objects.filter(organization=access.organization)
    if not access.is_owner:
        imports = imports.filter(uploaded_by=access.user)
    return imports


def _get_import(access: OrgAccess, import_id: int) -> RosterImport:
    access.require(Right.EDIT_ROSTER)
    job = _imports_visible_to(access).filter(pk=import_id).select_related("attestation").first()
    if job is None:
        raise Http404
    return job


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-7: upload a roster file with the consent attestation (ORG-6); ``?template=xlsx``
    downloads the Excel template (header row, drop-down lists, a guide sheet with the
    allowed values and an example row), ``?template=csv`` a header-only CSV of the
    fields the organization collects.

    SEC-1: the upload only checks the size cap and the kind sniffed from the first
    bytes, seals the file and starts the job; the header, the file's limits and the rows
    are checked on a worker, and the import's page shows the verdict."""
    access = org_access(request.user, org_id)
    access.require(Right.EDIT_ROSTER)
    if request.method == "GET" and request.GET.get("template") == "xlsx":
        response = HttpResponse(template.template_xlsx(access), content_type=XLSX_TYPE)
        response["Content-Disposition"] = 'attachment; filename="roster-template.xlsx"'
        response["Cache-Control"] = "no-store"
        return response
    if request.method == "GET" and request.GET.get("template"):
        return _csv_response(template.template_csv(access), "roster-template.csv")
    if request.method == "POST":
        form = RosterImportForm(request.POST, request.FILES)
        if form.is_valid():
            content, file_format, file_name = form.cleaned_data["file"]
            job = service.start_import(
                access,
                file_name=file_name,
                file_format=file_format,
                content=content,
                attestation_text=form.cleaned_data["attestation"],
                ip=client_ip(request),
            )
            return redirect("organizations:roster_import_detail", org_id=access.organization.pk, import_id=job.pk)
    else:
        form = RosterImportForm()
    return render_org(
        request,
        "organizations/roster_import/upload.html",
        access,
        {
            "section": "roster",
            "form": form,
            "guide": template.template_guide(access),
            "recent": list(_imports_visible_to(access).select_related("uploaded_by")[:RECENT_IMPORTS]),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def import_detail(request: HttpRequest, org_id: int, import_id: int) -> HttpResponse:
    """ORG-7: the job's progress (the page refreshes itself while working), the first
    errors, the full report, and the decision: all rows, only the valid rows, discard."""
    access = org_access(request.user, org_id)
    job = _get_import(access, import_id)
    if request.method == "POST":
        form = ImportDecisionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose what to do with the file."))
        elif service.decide(access, job, form.cleaned_data["action"], ip=client_ip(request)):
            if form.cleaned_data["action"] == "discard":
                messages.info(request, _("The file was discarded; nothing was imported."))
            else:
                messages.success(request, _("The import has started."))
        elif form.cleaned_data["action"] == "all" and job.error_rows:
            messages.error(
                request,
                _("Some rows have errors: correct the file and upload it again, or import only the valid rows."),
            )
        else:
            messages.error(request, _("This file cannot be imported any more; its status changed."))
        return redirect("organizations:roster_import_detail", org_id=access.organization.pk, import_id=job.pk)
    working = job.status in WORKING
    since = liveness.waiting_since(job.heartbeat_at) if working else None
    return render_org(
        request,
        "organizations/roster_import/detail.html",
        access,
        {
            "section": "roster",
            "job": job,
            "working": working,
            "waiting_since": liveness.since_label(since) if since else "",
            "can_decide": job.status == ImportStatus.VALIDATED,
            "can_import_all": job.status == ImportStatus.VALIDATED and job.error_rows == 0 and job.valid_rows > 0,
            "can_import_valid": job.status == ImportStatus.VALIDATED and job.valid_rows > 0,
            "errors": [
                {**error, "column_label": _column_label(error.get("column")), "message": render_error(error)}
                for error in job.error_preview
            ],
            "failure": _failure(job),
            "more_errors": max(0, _error_count(job) - len(job.error_preview)),
        },
    )


@never_cache
@login_required
@require_GET
def import_status(request: HttpRequest, org_id: int, import_id: int) -> JsonResponse:
    """ORG-7: where a job is, for the detail page's progress bar (same rights as the page);
    ``waiting`` says the job has no live worker (the page then says since when)."""
    access = org_access(request.user, org_id)
    job = _get_import(access, import_id)
    working = job.status in WORKING
    return JsonResponse(
        {
            "status": job.status,
            "working": working,
            "waiting": bool(working and liveness.waiting_since(job.heartbeat_at)),
            "processed_rows": job.processed_rows,
            "total_rows": job.total_rows,
        }
    )


def _failure(job: RosterImport) -> str:
    """Why a failed job failed, in the reader's language when the file itself was
    refused (its header, its kind, its limits: kept as deferred texts)."""
    if job.status != ImportStatus.FAILED:
        return ""
    first = job.error_preview[0] if job.error_preview else {}
    return render_error(first) if first.get("text") else job.last_error


def _column_label(column: str | None) -> str:
    """A checked column's label in the reader's language (the job keeps field names)."""
    if not column:
        return ""
    try:
        return str(capfirst(field_label(column)))
    except FieldDoesNotExist:  # a header the file had that is no field (reported as such)
        return column


def _error_count(job: RosterImport) -> int:
    return len(job.error_preview) if job.status == ImportStatus.FAILED else job.error_rows


@never_cache
@login_required
@require_GET
def import_report(request: HttpRequest, org_id: int, import_id: int) -> HttpResponse:
    """ORG-7: the full error report as CSV (sensitive values masked), audited."""
    access = org_access(request.user, org_id)
    job = _get_import(access, import_id)
    if not job.report_ref:
        raise Http404
    content = storage.read_report(job)
    record_event(
        "roster.import_report_downloaded",
        actor=request.user,
        target=job,
        organization=access.organization,
        ip=client_ip(request),
        metadata={"error_rows": job.error_rows},
    )
    return _csv_response(content, f"import-{job.pk}-report.csv")


@never_cache
@login_required
@require_GET
def roster_export(request: HttpRequest, org_id: int) -> HttpResponse:
    """ORG-7: the roster the administrator may view as CSV (UTF-8 with BOM for Excel),
    streamed; collected fields only, sensitive values masked without ``view_sensitive``
    on the whole organization; audited as ``roster.exported``."""
    access = org_access(request.user, org_id)
    access.require(Right.VIEW_ROSTER)
    _count, chunks = export_roster(access, ip=client_ip(request))
    stamp = timezone.localdate().isoformat()
    return _csv_response(chunks, f"roster-{access.organization.pk}-{stamp}.csv", streaming=True)
