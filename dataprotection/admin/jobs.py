"""The console's anonymization jobs (ANON-2) and the background jobs waiting for a worker."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import BigIntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from dataprotection import liveness, tasks
from dataprotection.admin.base import OrganizationNamesAdmin, ReadOnly
from dataprotection.job_details import render_job_details
from dataprotection.models import AnonymizationJob, AnonymizationStage, JobStatus


def _stage_sum(column: str):
    rows = (
        AnonymizationStage.objects.filter(job=OuterRef("pk"))
        .order_by()
        .values("job")
        .annotate(total=Sum(column))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=BigIntegerField()), 0)


class AnonymizationStageInline(ReadOnly, admin.TabularInline):
    """The tables of a cascade with their counters, read only."""

    model = AnonymizationStage
    fields = ("position", "phase", "model_label", "action", "lookup", "total", "processed", "changed", "files_erased")
    readonly_fields = fields
    ordering = ("position",)
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(AnonymizationJob)
class AnonymizationJobAdmin(ReadOnly, OrganizationNamesAdmin):
    """Read-only view of the cascades (ORG-11, ANON-2, ANON-7) for operations staff: what
    runs, how far it got, and the deletion report. Nobody adds, edits or deletes a job
    here; the list's progress comes from two annotated sums, not a query per row."""

    list_display = (
        "id",
        "kind",
        "status",
        "organization_display",
        "created_at",
        "not_before",
        "progress_bar",
        "verified",
    )
    list_filter = ("kind", "status")
    search_fields = ("=organization_id", "=subject_id")
    actions = ("retry_failed_jobs",)
    date_hierarchy = "created_at"
    inlines = (AnonymizationStageInline,)
    fields = (
        "kind",
        "status",
        "organization_display",
        "subject_display",
        "requested_by",
        "label",
        "created_at",
        "not_before",
        "started_at",
        "finished_at",
        "cancelled_at",
        "heartbeat_at",
        "worker",
        "queued_at",
        "attempts",
        "last_error",
        "progress_bar",
        "verified",
        "preview_pretty",
        "report_pretty",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("requested_by")
            .annotate(stage_total=_stage_sum("total"), stage_processed=_stage_sum("processed"))
        )

    @admin.display(description=_("progress"))
    def progress_bar(self, obj: AnonymizationJob):
        total, processed = obj.stage_total or 0, obj.stage_processed or 0
        percent = int(processed * 100 / total) if total else 0
        if obj.status == JobStatus.COMPLETED:
            percent = 100
        return format_html(
            '<progress max="100" value="{}" title="{} / {}"></progress> {}%', percent, processed, total, percent
        )

    @admin.display(description=_("report verified"), boolean=True)
    def verified(self, obj: AnonymizationJob):
        if not obj.report or "verified" not in obj.report:
            return None
        return bool(obj.report["verified"])

    @admin.display(description=_("person"))
    def subject_display(self, obj: AnonymizationJob):
        if obj.subject_id is None:
            return "—"
        person = get_user_model().objects.filter(pk=obj.subject_id).first()
        return person.display_name if person else _("account no longer exists (#%(id)s)") % {"id": obj.subject_id}

    @admin.display(description=_("preview"))
    def preview_pretty(self, obj: AnonymizationJob):
        return render_job_details(obj.preview)

    @admin.display(description=_("deletion report"))
    def report_pretty(self, obj: AnonymizationJob):
        return render_job_details(obj.report)

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("dataprotection.change_anonymizationjob")

    @admin.action(description=_("Retry the selected failed jobs"), permissions=["retry"])
    def retry_failed_jobs(self, request, queryset):
        retried = sum(tasks.retry_job(job.pk, request.user) for job in queryset)
        skipped = len(queryset) - retried
        if retried:
            self.message_user(
                request,
                ngettext("%(count)d job was taken up again.", "%(count)d jobs were taken up again.", retried)
                % {"count": retried},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d job was left alone: only failed jobs can be retried.",
                    "%(count)d jobs were left alone: only failed jobs can be retried.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


# --------------------------------------------------------------------------- stalled jobs


def visible_kinds(user) -> list:
    """The kinds of background job ``user`` may look at (their model's view permission)."""
    return [
        kind
        for kind in liveness.kinds()
        if user.has_perm(f"{kind.model._meta.app_label}.view_{kind.model._meta.model_name}")
    ]


def stalled_groups(user, now=None) -> list[dict]:
    """Per kind of background job (those ``user`` may view), the rows that should be
    running and have no live worker, for the console. Ids, statuses, times, attempts and
    worker names only: never an error text (some echo personal values)."""
    now = now or timezone.now()
    groups = []
    for kind in visible_kinds(user):
        opts = kind.model._meta
        try:
            reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            link = f"admin:{opts.app_label}_{opts.model_name}_change"
        except NoReverseMatch:
            link = ""
        rows = []
        for row in liveness.stalled(kind, now):
            rows.append(
                {
                    "pk": row.pk,
                    "status": row.get_status_display(),
                    "waiting_since": liveness.waiting_since(row.heartbeat_at, now=now),
                    "attempts": row.attempts,
                    "worker": row.worker,
                    "queued_at": row.queued_at,
                    "url": reverse(link, args=[row.pk]) if link else "",
                }
            )
        groups.append({"key": kind.key, "label": kind.label, "rows": rows})
    return groups


def stalled_jobs_view(request):
    """Operations: every background job that should be running and has no live worker
    (its heartbeat is older than ``JOB_STALE_SECONDS``), by kind, with since when it
    waits, its attempts, its last worker and when the recovery sweep last enqueued it.
    The sweep takes them up by itself; a job that stays here has no worker able to run
    it (none running, the broker down, or one crashing on it)."""
    if not visible_kinds(request.user):
        raise PermissionDenied
    groups = stalled_groups(request.user)
    context = {
        **admin.site.each_context(request),
        "title": _("Background jobs waiting for a worker"),
        "groups": groups,
        "total": sum(len(group["rows"]) for group in groups),
        "stale_seconds": settings.JOB_STALE_SECONDS,
        "sweep_seconds": settings.JOB_SWEEP_SECONDS,
    }
    return TemplateResponse(request, "admin/dataprotection/stalled_jobs.html", context)
