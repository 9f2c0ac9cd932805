"""The console's security incidents and their notices (SEC-4)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from dataprotection.admin.base import (
    LabelledDateTimeAdmin,
    LabelledTabularInline,
)
from dataprotection.audit import client_ip
from dataprotection.staff_roles import SEND_INCIDENT_NOTICES
from organizations.models.incidents import (
    DEADLINE_SOON_DAYS,
    DataCategory,
    DeadlineState,
    IncidentAffectedPerson,
    SecurityIncident,
)
from organizations.services import incidents as incident_services


class IncidentForm(forms.ModelForm):
    """Register or edit an incident (SEC-4). The model's ``clean`` refuses a discovery in
    the future, an end before the start and publishing an empty announcement."""

    data_categories = forms.MultipleChoiceField(
        label=_("Categories of data"),
        choices=DataCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = SecurityIncident
        fields = (
            "title",
            "description",
            "discovered_at",
            "occurred_from",
            "occurred_to",
            "data_categories",
            "organizations",
            "measures",
            "advice",
            "remedies",
            "status",
            "announcement",
            "announcement_published",
            "regulator_reported_at",
        )


class IncidentDeadlineFilter(admin.SimpleListFilter):
    """SEC-4: incidents nobody was told of yet whose 30-day deadline is near or past."""

    title = _("notification deadline")
    parameter_name = "deadline"

    def lookups(self, request, model_admin):
        return [
            ("soon", _("Within %(days)d days") % {"days": DEADLINE_SOON_DAYS}),
            ("overdue", _("Overdue")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "soon":
            return queryset.deadline_within(DEADLINE_SOON_DAYS)
        if self.value() == "overdue":
            return queryset.overdue()
        return queryset


class IncidentAffectedPersonInline(LabelledTabularInline):
    model = IncidentAffectedPerson
    raw_id_fields = ("user",)
    fields = ("user",)
    extra = 1
    verbose_name = _("affected person (beyond the affected organizations)")
    verbose_name_plural = _("affected people (beyond the affected organizations)")


DEADLINE_FLAGS = {
    DeadlineState.OVERDUE: "⚠",
    DeadlineState.MISSED: "⚠",
    DeadlineState.DUE_SOON: "⏰",
    DeadlineState.MET: "✓",
    DeadlineState.ON_TRACK: "",
}


@admin.register(SecurityIncident)
class SecurityIncidentAdmin(LabelledDateTimeAdmin):
    """Operations register incidents, send the notices (``send_incident_notices``,
    permission ``send_incident_notices``) and export the regulator report (SEC-4).
    Incidents are never deleted: their handling stays on record."""

    form = IncidentForm
    list_display = ("reference", "title", "status", "discovered_at", "notify_by_display", "deadline_display")
    list_filter = (IncidentDeadlineFilter, "status", "announcement_published")
    search_fields = ("=reference", "title")
    ordering = ("-discovered_at",)
    raw_id_fields = ("organizations",)
    readonly_fields = ("reference", "notify_by_display", "deadline_display", "notified_at", "announced_at")
    inlines = (IncidentAffectedPersonInline,)
    actions = ("send_notices", "open_regulator_report")
    fieldsets = (
        (None, {"fields": ("reference", "title", "status", "description")}),
        (
            _("Time"),
            {"fields": ("discovered_at", "notify_by_display", "deadline_display", "occurred_from", "occurred_to")},
        ),
        (_("Who and what is affected"), {"fields": ("data_categories", "organizations")}),
        (_("Handling"), {"fields": ("measures", "advice", "remedies", "notified_at", "regulator_reported_at")}),
        (_("Public announcement"), {"fields": ("announcement", "announcement_published", "announced_at")}),
    )

    def has_delete_permission(self, request, obj=None):
        return False

    def has_send_notices_permission(self, request):
        return request.user.has_perm(SEND_INCIDENT_NOTICES)

    @admin.display(description=_("notify by"))
    def notify_by_display(self, obj: SecurityIncident) -> str:
        if obj is None or obj.discovered_at is None:
            return "—"
        return timezone.localtime(obj.notify_by).strftime("%Y-%m-%d %H:%M")

    @admin.display(description=_("deadline"))
    def deadline_display(self, obj: SecurityIncident) -> str:
        if obj is None or obj.discovered_at is None:
            return "—"
        state = DeadlineState(obj.deadline_state())
        return format_html(
            '<span class="incident-deadline" data-state="{}">{} {}</span>',
            state.value,
            DEADLINE_FLAGS[state],
            state.label,
        )

    def save_model(self, request, obj, form, change):
        incident_services.save_incident(obj, actor=request.user, created=not change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        changes = list(form.changed_data)
        if any(formset.has_changed() for formset in formsets):
            changes.append("affected_people")
        incident_services.record_incident_saved(
            form.instance, actor=request.user, created=not change, changes=changes, ip=client_ip(request)
        )

    @admin.action(description=_("Send notices to the affected people"), permissions=["send_notices"])
    def send_notices(self, request, queryset):
        for incident in queryset:
            try:
                run = incident_services.send_incident_notices(
                    incident, request.user, base_url=request.build_absolute_uri("/"), ip=client_ip(request)
                )
            except incident_services.IncidentRefused as exc:
                self.message_user(request, f"{incident.reference}: {exc}", messages.ERROR)
                continue
            self.message_user(
                request,
                gettext(
                    "%(reference)s: %(in_app)d in-app notices and %(sms)d SMS sent, %(retried)d SMS retried; "
                    "people already told were skipped."
                )
                % {"reference": incident.reference, "in_app": run.in_app, "sms": run.sms, "retried": run.sms_retried},
                messages.SUCCESS,
            )

    @admin.action(description=_("Open the regulator report"))
    def open_regulator_report(self, request, queryset):
        incident = queryset.first()
        if incident is None or queryset.count() != 1:
            self.message_user(request, gettext("Select exactly one incident."), messages.WARNING)
            return None
        return redirect("admin:organizations_securityincident_report", incident.pk)

    def get_urls(self):
        own = [
            path(
                "<int:pk>/report/",
                self.admin_site.admin_view(self.report_view),
                name="organizations_securityincident_report",
            ),
            path(
                "<int:pk>/report.json",
                self.admin_site.admin_view(self.report_json_view),
                name="organizations_securityincident_report_json",
            ),
        ]
        return own + super().get_urls()

    def _report(self, request, pk: int, fmt: str) -> tuple[SecurityIncident, dict]:
        incident = get_object_or_404(SecurityIncident, pk=pk)
        if not self.has_view_permission(request, incident):
            raise PermissionDenied
        return incident, incident_services.export_regulator_report(
            incident, request.user, fmt=fmt, ip=client_ip(request)
        )

    def report_view(self, request, pk: int):
        """SEC-4: the regulator report as a printable page."""
        incident, report = self._report(request, pk, "html")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Regulator report %(reference)s") % {"reference": incident.reference},
            "incident": incident,
            "report": report,
            "change_url": reverse("admin:organizations_securityincident_change", args=[pk]),
        }
        return TemplateResponse(request, "admin/organizations/securityincident/report.html", context)

    def report_json_view(self, request, pk: int):
        """SEC-4: the regulator report as a structured document (JSON)."""
        incident, report = self._report(request, pk, "json")
        response = JsonResponse(report, json_dumps_params={"ensure_ascii": False, "indent": 2})
        response["Content-Disposition"] = f'attachment; filename="incident-{incident.reference}.json"'
        response["Cache-Control"] = "no-store"
        return response
