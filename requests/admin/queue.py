"""Operations console: the request queue, one request's page with its timeline and the
handling forms, and the dashboard (REQ-4 to REQ-6).

Staff act only on requests routed to operations (``organization`` empty, REQ-5); an
organization's requests are read-only here, its administrators answer them. Every
action goes through ``requests.services.workflow``. The details and proposed value are
masked for everyone; staff holding ``requests.view_request_details`` (the request
handler role, SEC-1) reveal them one at a time and download the evidence, each time
audited (SEC-2)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, Q
from django.db.models.functions import TruncMonth
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _

from dataprotection.admin.base import SensitiveValue, SensitiveValuesAdmin, choice_column, choice_filter
from dataprotection.audit import client_ip
from dataprotection.staff_roles import REVEAL_REQUEST_DETAILS
from requests import selectors
from requests.forms.handling import error_messages, handling_form
from requests.models import (
    OPEN_STATUSES,
    DataSubjectRequest,
    RequestEvent,
    RequestStatus,
)
from requests.services import fulfilment, handling, workflow
from requests.services.deadlines import add_months
from requests.views.org import evidence_response

DETAILS_PERMISSION = REVEAL_REQUEST_DETAILS
S = RequestStatus


def can_see_details(user) -> bool:
    return user.has_perm(DETAILS_PERMISSION)


def staff_may_act(user, request: DataSubjectRequest) -> bool:
    """REQ-5: staff handle only what is routed to operations."""
    return request.organization_id is None and user.has_perm("requests.change_datasubjectrequest")


# --------------------------------------------------------------------------- list filters


class DueFilter(admin.SimpleListFilter):
    """REQ-4: the due-soon and overdue queues."""

    title = _("due")
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return [
            ("soon", _("Due soon (within %(days)d days)") % {"days": settings.REQUEST_DUE_SOON_DAYS}),
            ("overdue", _("Overdue")),
        ]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "soon":
            horizon = today + timedelta(days=settings.REQUEST_DUE_SOON_DAYS)
            return queryset.open().filter(due_on__gte=today, due_on__lte=horizon)
        if self.value() == "overdue":
            return queryset.open().filter(due_on__lt=today)
        return queryset


class RoutedFilter(admin.SimpleListFilter):
    """REQ-5: who answers."""

    title = _("routed to")
    parameter_name = "routed"

    def lookups(self, request, model_admin):
        return [("operations", _("Operations staff")), ("organization", _("An organization"))]

    def queryset(self, request, queryset):
        if self.value() == "operations":
            return queryset.for_operations()
        if self.value() == "organization":
            return queryset.filter(organization__isnull=False)
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = _("assigned")
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        return [("me", _("To me")), ("nobody", _("To nobody"))]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(assignee=request.user)
        if self.value() == "nobody":
            return queryset.filter(assignee__isnull=True)
        return queryset


# --------------------------------------------------------------------------- handling

# The actions operations staff take (``requests.services.handling``), with the forms
# of ``requests.forms.handling`` (an organization's request page uses the same), and
# each one's button. Corrections, deletions and archives of operations-routed requests
# are carried out by their own services (the account deletion, the archive builder).
ACTIONS = {
    "assign": _("Save assignment"),
    "note": _("Add note"),
    "start": _("Start work (in progress)"),
    "pause": _("Pause the clock"),
    "resume": _("Resume"),
    "extend": _("Extend the deadline"),
    "refuse": _("Refuse"),
    "complete": _("Complete"),
}


def staff_assignees():
    return get_user_model().objects.filter(is_staff=True, is_active=True).order_by("name", "pk")


# --------------------------------------------------------------------------- the admin


def days_left_text(obj: DataSubjectRequest, today: date) -> tuple[str, str]:
    """(text, kind) of the due badge: kind is overdue, soon, ok or closed."""
    if obj.status not in OPEN_STATUSES:
        return pgettext("requests", "closed"), "closed"
    left = (obj.due_on - today).days
    if left < 0:
        return ngettext("overdue by %(n)d day", "overdue by %(n)d days", -left) % {"n": -left}, "overdue"
    if left == 0:
        return gettext("due today"), "soon"
    kind = "soon" if left <= settings.REQUEST_DUE_SOON_DAYS else "ok"
    return ngettext("%(n)d day left", "%(n)d days left", left) % {"n": left}, kind


def _request_details(label) -> SensitiveValue:
    # The same event as before reveals were one at a time: "who accessed my data" names it.
    return SensitiveValue(
        label=label,
        permission=DETAILS_PERMISSION,
        action="request.details_viewed",
        subject=lambda obj: obj.subject,
        organization=lambda obj: obj.organization_id,
        metadata=lambda obj: {"reference": obj.reference},
    )


@admin.register(DataSubjectRequest)
class DataSubjectRequestAdmin(SensitiveValuesAdmin):
    sensitive_values = {
        "details": _request_details(_("details")),
        "proposed_value": _request_details(_("proposed value")),
    }
    list_display = (
        "reference",
        "kind",
        "jurisdiction",
        "status_display",
        "due_on",
        "due_badge",
        "assignee",
        "routed_to",
    )
    list_display_links = ("reference",)
    list_select_related = ("organization", "assignee")
    list_filter = (
        choice_filter(DataSubjectRequest, "status"),
        DueFilter,
        RoutedFilter,
        AssigneeFilter,
        "kind",
        "jurisdiction",
    )
    status_display = choice_column(DataSubjectRequest, "status")
    search_fields = ("=reference",)
    ordering = ("due_on", "pk")
    show_full_result_count = False
    actions = ("assign_to_me",)
    change_form_template = "admin/requests/datasubjectrequest/change_form.html"
    change_list_template = "admin/requests/datasubjectrequest/change_list.html"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "reference",
                    "kind",
                    "jurisdiction",
                    "status_display",
                    "routed_to",
                    "subject",
                    "agent",
                    "subject_confirmed_at",
                    "member",
                    "assignee",
                )
            },
        ),
        (
            _("Deadline (REQ-4)"),
            {
                "fields": (
                    "received_at",
                    "verified_at",
                    "verification_display",
                    "original_due_on",
                    "due_on",
                    "due_badge",
                    "paused_since",
                    "paused_days",
                    "extended_at",
                    "extension_reason",
                    "closed_at",
                )
            },
        ),
        (
            _("What the person asks"),
            {
                "fields": (
                    "details_display",
                    "deletion_grounds",
                    "field_display",
                    "proposed_value_display",
                    "evidence_display",
                    "automated_decision",
                    "escalated_from",
                    "duplicate_of",
                )
            },
        ),
        (_("Answer"), {"fields": ("answer_display", "refusal_ground")}),
    )

    def get_readonly_fields(self, request, obj=None):
        return [name for _title, options in self.fieldsets for name in options["fields"]]

    def has_add_permission(self, request):
        return False  # people file requests themselves (REQ-1, REQ-3)

    def has_delete_permission(self, request, obj=None):
        return False  # the request is the record that it was answered

    def has_change_permission(self, request, obj=None):
        # REQ-5: an organization's request is answered by its administrators; staff
        # only look. (The list needs it for the "assign to me" action.)
        if obj is not None and obj.organization_id is not None:
            return False
        return super().has_change_permission(request, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization", "assignee")

    # ---- columns

    @admin.display(description=_("verified by"))
    def verification_display(self, obj: DataSubjectRequest) -> str:
        return selectors.verification_label(obj.verification_method)

    @admin.display(description=_("field"))
    def field_display(self, obj: DataSubjectRequest) -> str:
        return selectors.request_field_label(obj) or "—"

    @admin.display(description=_("days left"))
    def due_badge(self, obj: DataSubjectRequest) -> str:
        text, kind = days_left_text(obj, timezone.localdate())
        if kind == "overdue":
            return format_html('<strong class="errornote">⚠ {}</strong>', capfirst(text))
        if kind == "soon":
            return format_html("<strong>{}</strong>", capfirst(text))
        return capfirst(text)

    @admin.display(description=_("routed to"))
    def routed_to(self, obj: DataSubjectRequest) -> str:
        if obj.organization_id is None:
            return gettext("Operations staff")
        return obj.organization.name

    @admin.display(description=_("answer to the person"))
    def answer_display(self, obj: DataSubjectRequest) -> str:
        return obj.answer or "—"  # the portal's answers rendered in the reader's language

    @admin.display(description=_("details"))
    def details_display(self, obj: DataSubjectRequest) -> str:
        return self.sensitive_display(obj, "details")

    @admin.display(description=_("proposed value"))
    def proposed_value_display(self, obj: DataSubjectRequest) -> str:
        return self.sensitive_display(obj, "proposed_value")

    @admin.display(description=_("evidence"))
    def evidence_display(self, obj: DataSubjectRequest) -> str:
        if not obj.evidence:
            return "—"
        request = self._console_request
        if request is None or not can_see_details(request.user):
            return gettext("attached (downloading needs the request handler role)")
        return format_html(
            '{} · <a href="{}">{}</a>',
            gettext("attached"),
            reverse("admin:requests_datasubjectrequest_evidence", args=[obj.pk]),
            gettext("Download (recorded)"),
        )

    # ---- pages

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404
        may_act = staff_may_act(request.user, obj)
        extra = {
            **(extra_context or {}),
            "timeline": list(RequestEvent.objects.filter(request=obj).select_related("actor").order_by("at", "pk")),
            "may_act": may_act,
            # Nothing on the form itself is edited: changes go through the handling forms.
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete_link": False,
            "may_reveal": can_see_details(request.user),
            "handling_forms": self._handling_forms(obj) if may_act else [],
        }
        return super().change_view(request, object_id, form_url, extra)

    @staticmethod
    def _handling_forms(obj: DataSubjectRequest) -> list[tuple]:
        """(action, its unbound form, its button) for each action the request allows."""
        return [
            (
                name,
                handling_form(
                    name,
                    assignees=staff_assignees(),
                    initial={"assignee": obj.assignee_id} if name == "assign" else None,
                ),
                ACTIONS[name],
            )
            for name in handling.available_actions(obj, ACTIONS)
        ]

    def get_urls(self):
        own = [
            path(
                "dashboard/",
                self.admin_site.admin_view(self.dashboard_view),
                name="requests_datasubjectrequest_dashboard",
            ),
            path(
                "<int:pk>/act/<str:action>/",
                self.admin_site.admin_view(self.act_view),
                name="requests_datasubjectrequest_act",
            ),
            path(
                "<int:pk>/evidence/",
                self.admin_site.admin_view(self.evidence_view),
                name="requests_datasubjectrequest_evidence",
            ),
        ]
        return own + super().get_urls()

    def evidence_view(self, request, pk: int):
        """SEC-1: the evidence attached to a correction, decrypted only for the request
        handler role; ``read_evidence`` records the viewing (SEC-2)."""
        obj = get_object_or_404(DataSubjectRequest, pk=pk)
        if not self.has_view_permission(request, obj) or not can_see_details(request.user):
            raise PermissionDenied
        data = fulfilment.read_evidence(obj, actor=request.user, ip=client_ip(request))
        return evidence_response(data, obj.reference)

    def act_view(self, request, pk: int, action: str):
        """One handling form, posted from the request's page; the service decides."""
        if request.method != "POST" or action not in ACTIONS:
            raise Http404
        obj = get_object_or_404(DataSubjectRequest, pk=pk)
        if not staff_may_act(request.user, obj):
            raise PermissionDenied
        form = handling_form(action, request.POST, assignees=staff_assignees())
        change_url = reverse("admin:requests_datasubjectrequest_change", args=[pk])
        if not form.is_valid():
            self.message_user(request, "; ".join(error_messages(form)), messages.ERROR)
            return redirect(change_url)
        try:
            message = handling.carry_out(action, obj, form.cleaned_data, actor=request.user, ip=client_ip(request))
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(request, message, messages.SUCCESS)
        return redirect(change_url)

    @admin.action(description=_("Assign the selected requests to me"), permissions=["change"])
    def assign_to_me(self, request, queryset):
        assigned = skipped = 0
        for obj in queryset:
            if not staff_may_act(request.user, obj) or obj.status not in OPEN_STATUSES:
                skipped += 1
                continue
            workflow.assign_request(obj, request.user, actor=request.user, ip=client_ip(request))
            assigned += 1
        if assigned:
            self.message_user(
                request,
                ngettext("%(n)d request assigned to you.", "%(n)d requests assigned to you.", assigned)
                % {"n": assigned},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)d request skipped: closed, or answered by its organization.",
                    "%(n)d requests skipped: closed, or answered by their organizations.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )

    def dashboard_view(self, request):
        """REQ-4: on-time rate per month (last 12 months) and open requests by age."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Data-subject requests: dashboard"),
            **dashboard_numbers(timezone.localdate()),
        }
        return TemplateResponse(request, "admin/requests/datasubjectrequest/dashboard.html", context)


# --------------------------------------------------------------------------- dashboard

AGE_BUCKETS = ((0, 7), (8, 15), (16, 30), (31, None))
CHART_WIDTH = 300


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def dashboard_numbers(today: date) -> dict:
    """Two queries: closed requests per month with the on-time count, and open requests
    counted per age bucket (age in days since received, local dates)."""
    first_month = add_months(today.replace(day=1), -11)
    months = [add_months(first_month, i) for i in range(12)]
    rows = (
        DataSubjectRequest.objects.filter(status__in=[S.COMPLETED, S.REFUSED], closed_at__gte=_start_of(first_month))
        .annotate(month=TruncMonth("closed_at"))
        .values("month")
        .annotate(total=Count("pk"), on_time=Count("pk", filter=Q(closed_at__date__lte=F("due_on"))))
    )
    by_month = {}
    for row in rows:
        month = row["month"]
        month = month.date() if isinstance(month, datetime) else month
        by_month[month.replace(day=1)] = (row["total"], row["on_time"])
    on_time = []
    for month in months:
        total, timely = by_month.get(month, (0, 0))
        rate = round(100 * timely / total) if total else None
        on_time.append(
            {
                "month": month,
                "total": total,
                "on_time": timely,
                "rate": rate,
                "bar": round(CHART_WIDTH * (rate or 0) / 100),
            }
        )
    counts = {}
    for low, high in AGE_BUCKETS:
        # Age in days = today - received date: received on or after today-high, before today-low+1.
        condition = Q(received_at__lt=_start_of(today - timedelta(days=low - 1)))
        if high is not None:
            condition &= Q(received_at__gte=_start_of(today - timedelta(days=high)))
        counts[f"b{low}"] = Count("pk", filter=condition)
    aggregated = DataSubjectRequest.objects.open().aggregate(**counts)
    largest = max(aggregated.values(), default=0) or 1
    ages = []
    for low, high in AGE_BUCKETS:
        count = aggregated[f"b{low}"]
        label = f"{low}–{high}" if high is not None else f"{low}+"
        ages.append({"label": label, "count": count, "bar": round(CHART_WIDTH * count / largest)})
    return {"on_time": on_time, "ages": ages, "open_total": sum(a["count"] for a in ages), "chart_width": CHART_WIDTH}
