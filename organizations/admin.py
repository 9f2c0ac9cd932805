"""Operations console for organizations. Roster sensitive columns are masked."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from dataprotection.admin_base import (
    LabelledDateTimeAdmin,
    LabelledTabularInline,
    SensitiveValue,
    SensitiveValuesAdmin,
)
from dataprotection.audit import client_ip, record_event
from dataprotection.masking import mask_id_number, mask_middle
from dataprotection.staff_roles import REVEAL_CERTIFICATION, SEND_INCIDENT_NOTICES
from organizations.models import (
    Administrator,
    Certification,
    CertificationStatus,
    Department,
    Member,
    Organization,
    ServiceShutdown,
)
from organizations.models.children import children_anywhere_q
from organizations.models.incidents import (
    DEADLINE_SOON_DAYS,
    DataCategory,
    DeadlineState,
    IncidentAffectedPerson,
    SecurityIncident,
)
from organizations.services import incidents as incident_services
from organizations.services import registration as registration_services
from organizations.services import retention as retention_services


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "edition", "data_region", "status", "created_at")
    list_filter = ("kind", "edition", "status", "data_region")
    search_fields = ("name",)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "depth", "path")
    list_select_related = ("organization",)
    search_fields = ("name",)
    raw_id_fields = ("organization", "parent")
    readonly_fields = ("path", "depth")


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "employee_number", "position", "status", "masked_mobile_display")
    list_select_related = ("organization",)
    list_filter = ("status",)
    search_fields = ("name", "employee_number")
    raw_id_fields = ("organization", "user")
    fields = ("organization", "user", "name", "employee_number", "position", "grade", "status", "hired_on")
    show_full_result_count = False  # COUNT(*) over a large roster on every page is wasted work

    @admin.display(description=_("mobile number"))
    def masked_mobile_display(self, obj: Member) -> str:
        return obj.masked_mobile or "—"

    def get_queryset(self, request):
        """SEC-3: children's entries only for staff holding the explicit right."""
        queryset = super().get_queryset(request)
        if not request.user.has_perm(VIEW_CHILDREN_PERMISSION):
            queryset = queryset.exclude(children_anywhere_q(timezone.localdate()))
        return queryset

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        # SEC-3: every look at a child's record by staff is audited, like an admin's.
        member = (
            self.get_queryset(request)
            .filter(children_anywhere_q(timezone.localdate()), pk=object_id)
            .select_related("organization", "user")
            .first()
            if str(object_id).isdigit()
            else None
        )
        if member is not None and response.status_code == 200:
            record_event(
                "child.viewed",
                actor=request.user,
                subject=member.user,
                target=member,
                organization=member.organization,
                ip=client_ip(request),
                metadata={"page": "console"},
            )
        return response


@admin.register(Administrator)
class AdministratorAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role", "appointed_at")
    list_select_related = ("user", "organization")
    list_filter = ("role",)
    raw_id_fields = ("organization", "user", "appointed_by", "scope")


VIEW_CHILDREN_PERMISSION = "organizations.view_children"

# --------------------------------------------------------------------------- ORG-2 review

FILE_EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


class CertificationReviewForm(forms.Form):
    """Approve, or reject with a reason the organization's owner will read (ORG-2)."""

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("approve", _("Approve")), ("reject", _("Reject"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason for rejecting"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=_("Required when rejecting; the organization's owner sees it."),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "reject" and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", ValidationError(_("Give the reason for rejecting."), code="required"))
        return cleaned


REVIEW_PERMISSION = "organizations.change_certification"


def _certification_organization(obj: Certification) -> int:
    return obj.organization_id


@admin.register(Certification)
class CertificationAdmin(SensitiveValuesAdmin):
    """Operations review of certification submissions (ORG-2). Staff see the legal
    representative's name and ID number masked; the certification reviewer role
    (``dataprotection.reveal_certification``, SEC-1) reveals them one at a time and
    downloads the documents, each time audited (SEC-2). Decisions go through
    ``approve_certification`` / ``reject_certification`` on the review page, for staff
    holding ``organizations.change_certification``."""

    sensitive_values = {
        "legal_representative_name": SensitiveValue(
            label=_("legal representative's name"),
            permission=REVEAL_CERTIFICATION,
            mask=lambda value: mask_middle(value, 1, 0),
            action="certification.revealed",
            organization=_certification_organization,
        ),
        "legal_representative_id_number": SensitiveValue(
            label=_("legal representative's ID number"),
            permission=REVEAL_CERTIFICATION,
            mask=mask_id_number,
            action="certification.revealed",
            organization=_certification_organization,
        ),
    }

    list_display = ("organization", "registration_number", "status", "submitted_at", "reviewed_at")
    list_filter = ("status",)
    list_select_related = ("organization",)
    search_fields = ("=registration_number", "organization__name")
    ordering = ("-submitted_at",)
    fields = (
        "organization",
        "registration_number",
        "masked_name_display",
        "masked_id_number_display",
        "submitted_by",
        "submitted_at",
        "attestation",
        "documents",
        "status",
        "reviewed_by",
        "reviewed_at",
        "review_reason",
        "review_link",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # decisions go through the review page and its services

    def has_delete_permission(self, request, obj=None):
        return False  # the encrypted documents and the review trail stay together

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization", "submitted_by", "reviewed_by")

    @admin.display(description=_("legal representative's name"))
    def masked_name_display(self, obj: Certification) -> str:
        return self.sensitive_display(obj, "legal_representative_name")

    @admin.display(description=_("legal representative's ID number"))
    def masked_id_number_display(self, obj: Certification) -> str:
        return self.sensitive_display(obj, "legal_representative_id_number")

    def may_download(self, request) -> bool:
        """SEC-1: the documents are decrypted only for the certification reviewer role."""
        return request is not None and request.user.has_perm(REVEAL_CERTIFICATION)

    def may_review(self, request) -> bool:
        return request is not None and request.user.has_perm(REVIEW_PERMISSION)

    @admin.display(description=_("documents"))
    def documents(self, obj: Certification) -> str:
        if not self.may_download(self._console_request):
            return gettext("Business licence and certification letter (downloading needs the reviewer role)")
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:organizations_certification_file", args=[obj.pk, "business_licence"]),
            gettext("Download business licence"),
            reverse("admin:organizations_certification_file", args=[obj.pk, "certification_letter"]),
            gettext("Download certification letter"),
        )

    @admin.display(description=_("review"))
    def review_link(self, obj: Certification) -> str:
        if obj.status != CertificationStatus.PENDING or not self.may_review(self._console_request):
            return "—"
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:organizations_certification_review", args=[obj.pk]),
            gettext("Approve or reject"),
        )

    def get_urls(self):
        own = [
            path(
                "<int:pk>/file/<str:which>/",
                self.admin_site.admin_view(self.file_view),
                name="organizations_certification_file",
            ),
            path(
                "<int:pk>/review/",
                self.admin_site.admin_view(self.review_view),
                name="organizations_certification_review",
            ),
        ]
        return own + super().get_urls()  # the reveal page comes with SensitiveValuesAdmin

    def file_view(self, request, pk: int, which: str):
        """Decrypt and send one document to staff; every viewing is audited."""
        certification = get_object_or_404(Certification, pk=pk)
        if not self.has_view_permission(request, certification) or not self.may_download(request):
            raise PermissionDenied
        if which not in registration_services.CERTIFICATION_FILES:
            raise Http404
        content, content_type = registration_services.read_certification_file(
            certification, which, request.user, ip=client_ip(request)
        )
        response = HttpResponse(content, content_type=content_type)
        extension = FILE_EXTENSIONS.get(content_type, "bin")
        response["Content-Disposition"] = f'attachment; filename="certification-{pk}-{which}.{extension}"'
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def review_view(self, request, pk: int):
        """Approve, or reject with a reason (ORG-2)."""
        certification = get_object_or_404(Certification.objects.select_related("organization"), pk=pk)
        if not (self.has_view_permission(request, certification) and self.may_review(request)):
            raise PermissionDenied
        change_url = reverse("admin:organizations_certification_change", args=[pk])
        form = CertificationReviewForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                if form.cleaned_data["decision"] == "approve":
                    registration_services.approve_certification(certification, request.user, ip=client_ip(request))
                    self.message_user(request, gettext("The organization is certified."), messages.SUCCESS)
                else:
                    registration_services.reject_certification(
                        certification, request.user, form.cleaned_data["reason"], ip=client_ip(request)
                    )
                    self.message_user(request, gettext("The certification was rejected."), messages.SUCCESS)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Review certification"),
            "certification": certification,
            "masked_id_number": mask_id_number(certification.legal_representative_id_number),
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/organizations/certification/review.html", context)


# --------------------------------------------------------------------------- ANON-6 shutdowns


class ServiceShutdownAnnounceForm(forms.ModelForm):
    """Announce a shutdown (ANON-6). ``clean`` runs the service's checks, so a refusal
    (too little notice, one already announced) shows on the form and nothing is written;
    ``ServiceShutdownAdmin.save_model`` then writes through ``announce_shutdown``."""

    request = None  # bound by ServiceShutdownAdmin.get_form
    ERROR_FIELDS = {"kind": "kind", "duplicate": "kind", "announcement": "announcement", "notice": "effective_at"}

    class Meta:
        model = ServiceShutdown
        fields = ("kind", "announcement", "effective_at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "effective_at" in self.fields:
            self.fields["effective_at"].help_text = _("At least %(days)d days from now: on or after %(date)s.") % {
                "days": settings.SERVICE_SHUTDOWN_NOTICE_DAYS,
                "date": timezone.localtime(retention_services.earliest_effective_at()).strftime("%Y-%m-%d %H:%M"),
            }

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            retention_services.check_shutdown(
                self.request.user,
                kind=cleaned["kind"],
                announcement=cleaned["announcement"],
                effective_at=cleaned["effective_at"],
            )
        except ValidationError as exc:
            self.add_error(self.ERROR_FIELDS.get(exc.code), exc)
        return cleaned


@admin.register(ServiceShutdown)
class ServiceShutdownAdmin(LabelledDateTimeAdmin):
    """Operations announce a service shutdown (ANON-6) through ``announce_shutdown`` and
    call one off through ``cancel_shutdown``; rows are never edited or deleted here."""

    list_display = ("kind", "status", "announced_at", "effective_at", "job_id")
    list_filter = ("status", "kind")
    ordering = ("-effective_at",)
    actions = ("cancel_shutdowns",)
    add_fields = ("kind", "announcement", "effective_at")
    view_fields = ("kind", "status", "announcement", "announced_at", "effective_at", "announced_by", "job_id")

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.view_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.view_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ServiceShutdownAnnounceForm
        form = super().get_form(request, obj, change, **kwargs)
        form.request = request  # a fresh class per call (modelform_factory)
        return form

    def has_change_permission(self, request, obj=None):
        # The list (and its cancel action) needs it; a row itself is read-only.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False  # the notice and its outcome stay on record (ANON-6)

    def save_model(self, request, obj, form, change):
        """Rows are written only by ``announce_shutdown`` (checked already by the form)."""
        if change:
            raise PermissionDenied
        shutdown = retention_services.announce_shutdown(
            request.user,
            kind=form.cleaned_data["kind"],
            announcement=form.cleaned_data["announcement"],
            effective_at=form.cleaned_data["effective_at"],
            ip=client_ip(request),
        )
        obj.pk = shutdown.pk
        obj.__dict__.update({f.attname: getattr(shutdown, f.attname) for f in shutdown._meta.concrete_fields})
        obj._state.adding = False

    @admin.action(description=_("Cancel the selected shutdowns"), permissions=["change"])
    def cancel_shutdowns(self, request, queryset):
        cancelled = sum(
            retention_services.cancel_shutdown(request.user, shutdown, ip=client_ip(request)) for shutdown in queryset
        )
        skipped = len(queryset) - cancelled
        if cancelled:
            self.message_user(
                request,
                ngettext("%(count)d shutdown was cancelled.", "%(count)d shutdowns were cancelled.", cancelled)
                % {"count": cancelled},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d shutdown was not cancelled: only an announced one can be, before it takes effect.",
                    "%(count)d shutdowns were not cancelled: only announced ones can be, before they take effect.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


# --------------------------------------------------------------------------- SEC-4 incidents


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
