"""The console's announcements of first-party service shutdowns (ANON-6)."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from dataprotection.admin.base import LabelledDateTimeAdmin
from dataprotection.audit import client_ip
from organizations.models import ServiceShutdown
from organizations.services import retention as retention_services


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
