"""The console's audit trail: every event, read-only, its chain verified on demand (SEC-2)."""

import json

from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _

from dataprotection import audit_chain, tasks
from dataprotection.admin.base import OrganizationNamesAdmin, ReadOnlyModelAdmin, choice_column, choice_filter
from dataprotection.audit import client_ip, record_event
from dataprotection.audit_labels import action_label
from dataprotection.models import AuditEvent
from dataprotection.staff_roles import VERIFY_AUDIT_CHAIN


class ActionListFilter(admin.SimpleListFilter):
    """The recorded actions by their labels (the codes stay in the query string)."""

    title = _("action")
    parameter_name = "action__exact"  # as Django's own filter named it

    def lookups(self, request, model_admin):
        codes = AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
        return sorted(((code, action_label(code)) for code in codes), key=lambda pair: pair[1])

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(OrganizationNamesAdmin, ReadOnlyModelAdmin):
    """Read-only view of the audit trail for operations staff (SEC-2). The auditor role
    (SEC-1) reads it and starts a verification of the hash chain; nothing here decrypts
    a value: events hold field names, never values."""

    list_display = (
        "occurred_at",
        "action_display",
        "actor_kind_display",
        "actor",
        "subject_user",
        "organization_display",
        "target_display",
    )
    list_filter = (ActionListFilter, choice_filter(AuditEvent, "actor_kind"))
    actor_kind_display = choice_column(AuditEvent, "actor_kind")
    list_select_related = ("actor", "subject_user")
    date_hierarchy = "occurred_at"
    search_fields = ("action", "target_id", "=organization_id")
    fields = (
        "occurred_at",
        "action_display",
        "actor_kind_display",
        "actor",
        "subject_user",
        "organization_display",
        "target_display",
        "ip_address",
        "changes_display",
        "details_display",
        "content_digest",
        "chain_seq",
        "chain_hash",
    )
    readonly_fields = fields

    @admin.display(description=_("action"), ordering="action")
    def action_display(self, obj: AuditEvent):
        return format_html(
            '{}<br><code class="action-code" translate="no">{}</code>', action_label(obj.action), obj.action
        )

    @admin.display(description=_("target"))
    def target_display(self, obj: AuditEvent):
        if not obj.target_type:
            return "—"
        try:
            name = capfirst(apps.get_model(obj.target_type)._meta.verbose_name)
        except (LookupError, ValueError):
            name = obj.target_type
        return format_html('{} <span translate="no">#{}</span>', name, obj.target_id)

    @admin.display(description=_("changed fields"))
    def changes_display(self, obj: AuditEvent):
        if not obj.changes:
            return "—"
        return format_html_join(", ", '<code translate="no">{}</code>', ((name,) for name in obj.changes))

    @admin.display(description=_("details"))
    def details_display(self, obj: AuditEvent):
        if not obj.metadata:
            return "—"
        return format_html(
            '<pre class="json" translate="no">{}</pre>',
            json.dumps(obj.metadata, indent=2, ensure_ascii=False, sort_keys=True),
        )

    change_list_template = "admin/dataprotection/auditevent/change_list.html"

    def has_verify_permission(self, request) -> bool:
        return request.user.has_perm(VERIFY_AUDIT_CHAIN)

    def changelist_view(self, request, extra_context=None):
        # SEC-2: the outcome of the last chain verification, on top of the list, where
        # the operators who read the trail cannot miss a failure.
        self._chain_status(request)
        extra = {**(extra_context or {}), "may_verify": self.has_verify_permission(request)}
        return super().changelist_view(request, extra)

    def get_urls(self):
        own = [
            path(
                "verify/",
                self.admin_site.admin_view(self.verify_view),
                name="dataprotection_auditevent_verify",
            )
        ]
        return own + super().get_urls()

    def verify_view(self, request):
        """SEC-1, SEC-2: the auditor starts a full verification of the chain now, on a
        worker (it streams the whole trail); the list shows the outcome when done."""
        if request.method != "POST":
            raise Http404
        if not (self.has_view_permission(request) and self.has_verify_permission(request)):
            raise PermissionDenied
        with transaction.atomic():
            record_event("audit_chain.verification_requested", actor=request.user, ip=client_ip(request))
            tasks.verify_audit_chain.delay_on_commit(force=True)
        self.message_user(
            request,
            _("The verification of the audit chain was started; its outcome shows on this list when it is done."),
            messages.INFO,
        )
        return redirect("admin:dataprotection_auditevent_changelist")

    def _chain_status(self, request) -> None:
        head = audit_chain.chain_head()
        if head.last_verification_ok is None:
            self.message_user(
                request,
                _("The audit chain has not been verified yet (manage.py verify_audit_chain)."),
                messages.WARNING,
            )
        elif not head.last_verification_ok:
            shown = "; ".join(head.problems[:5])
            self.message_user(
                request,
                _(
                    "AUDIT CHAIN BROKEN: the verification of %(when)s found problems, e.g.: %(problems)s. "
                    "Events may have been altered or deleted; run manage.py verify_audit_chain for the full list "
                    "and investigate before trusting the trail."
                )
                % {
                    "when": date_format(localtime(head.last_verified_at), "DATETIME_FORMAT"),
                    "problems": shown,
                },
                messages.ERROR,
            )
        else:
            self.message_user(
                request,
                _("Audit chain verified on %(when)s: %(count)d events intact.")
                % {
                    "when": date_format(localtime(head.last_verified_at), "DATETIME_FORMAT"),
                    "count": head.verified_events,
                },
                messages.SUCCESS,
            )
