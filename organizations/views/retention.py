"""Retention of activity records (ANON-5) and the public service-shutdown notices
(ANON-6). They write through ``organizations.services.retention``.

The retention page goes through the same gate as the collection settings page (ORG-5):
outsiders get 404; administrators holding ``edit_roster`` on the whole organization see
the page (others 403); only the owner changes it (a POST from anyone else is 403), the
others see it read-only. The notices page is public: everyone is told ahead of time.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from dataprotection import anonymization
from dataprotection.audit import client_ip
from dataprotection.models import StageAction
from organizations.forms.retention import RetentionSettingsForm, field_name
from organizations.models import RECORD_TABLES, RecordKind, Right, ServiceShutdown, ShutdownStatus
from organizations.permissions import OrgAccess, org_access
from organizations.services import retention as services
from organizations.views.common import render_org


@dataclass(frozen=True)
class RecordTreatment:
    """What the sweep does to one kind of record once it is due, read from its table's
    personal-data declaration (never restated here)."""

    action: str  # StageAction
    with_files: bool

    @property
    def deletes(self) -> bool:
        return self.action == StageAction.DELETE

    @property
    def description(self) -> str:
        if self.deletes:
            if self.with_files:
                return _("Deleted, together with their stored files.")
            return _("Deleted.")
        if self.with_files:
            return _(
                "Anonymized in place: who, where and what are removed and any stored photo or file is erased; "
                "the date is kept for statistics."
            )
        return _("Anonymized in place: who, where and what are removed; the date is kept for statistics.")


def record_treatments() -> dict[str, RecordTreatment]:
    """Per kind of record: anonymized in place or deleted, as its declaration says."""
    treatments = {}
    for kind, (label, _since) in RECORD_TABLES.items():
        model = anonymization.model_of(label)
        treatments[str(kind)] = RecordTreatment(
            action=anonymization.default_action(model),
            with_files=bool(anonymization.treatment(model).file_fields),
        )
    return treatments


@login_required
@require_http_methods(["GET", "POST"])
def retention_settings(request: HttpRequest, org_id: int) -> HttpResponse:
    """ANON-5: per kind of activity record, how many months the organization keeps it
    (empty: as long as the organization exists) and what the daily sweep does to older
    records."""
    access = _access(request, org_id)
    organization = access.organization
    current = services.retention_settings(organization)
    read_only = not access.is_owner
    if request.method == "POST":
        if read_only:
            raise PermissionDenied
        form = RetentionSettingsForm(request.POST, current=current)
        if form.is_valid():
            try:
                changed = services.update_retention_settings(access, form.months_by_kind(), ip=client_ip(request))
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                if changed:
                    messages.success(request, _("The retention settings were saved."))
                else:
                    messages.info(request, _("Nothing was changed."))
                return redirect("organizations:retention", org_id=organization.pk)
    else:
        form = RetentionSettingsForm(current=current, read_only=read_only)
    treatments = record_treatments()
    rows = [
        {
            "kind": kind.value,
            "label": kind.label,
            "field": form[field_name(kind.value)],
            "treatment": treatments[kind.value],
        }
        for kind in RecordKind
    ]
    return render_org(
        request,
        "organizations/retention/settings.html",
        access,
        {
            "section": "retention",
            "form": form,
            "rows": rows,
            "read_only": read_only,
            "max_months": services.MAX_RETENTION_MONTHS,
        },
    )


def _access(request: HttpRequest, org_id: int) -> OrgAccess:
    """The collection page's gate: 404 outside the organization, then ``edit_roster``
    on the whole organization (403 otherwise)."""
    access = org_access(request.user, org_id)
    if not access.has_whole(Right.EDIT_ROSTER):
        raise PermissionDenied
    return access


@require_GET
def service_notices(request: HttpRequest) -> HttpResponse:
    """ANON-6: every service shutdown announced and not called off, the current ones
    first, with its dates and what happens to the service's data. Needs no sign-in."""
    shutdowns = list(
        ServiceShutdown.objects.exclude(status=ShutdownStatus.CANCELLED).only(
            "kind", "announcement", "announced_at", "effective_at", "status"
        )
    )
    open_statuses = {ShutdownStatus.ANNOUNCED, ShutdownStatus.RUNNING}
    treatments = record_treatments()
    rows = [{"shutdown": shutdown, "treatment": treatments[shutdown.kind]} for shutdown in shutdowns]
    return render(
        request,
        "service_notices.html",
        {
            "current": [row for row in rows if row["shutdown"].status in open_statuses],
            "past": sorted(
                (row for row in rows if row["shutdown"].status not in open_statuses),
                key=lambda row: row["shutdown"].effective_at,
                reverse=True,
            ),
        },
    )
