"""Operations console: the service catalog (SVC-1) and, read-only, what organizations
opened (SVC-3), the provider tokens (never a raw token: only its first characters), the
disclosure records (SVC-5) and the outbox of deletion notices, with a "retry now"
action."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from consent.models.sharing import (
    DataScope,
    DeletionNotice,
    Disclosure,
    NoticeStatus,
    ProviderToken,
    Service,
    SharingGrant,
)
from consent.services import notices as notice_services
from consent.services import sharing as sharing_services
from dataprotection.admin.base import ReadOnlyModelAdmin, choice_column, choice_filter
from dataprotection.audit import client_ip


class ServiceAdminForm(forms.ModelForm):
    """The catalog entry. Secrets are write-only: a new client secret is generated
    and shown once; a notice signing secret is typed in and never shown back."""

    data_scopes = forms.MultipleChoiceField(
        label=_("declared data scopes"),
        choices=DataScope.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Adding a scope asks every organization that opened the service to confirm again."),
    )
    privacy_policy_url = forms.URLField(label=_("provider's privacy policy"), required=False, assume_scheme="https")
    notice_url = forms.URLField(
        label=_("deletion notice endpoint"),
        required=False,
        assume_scheme="https",
        help_text=_("Deletion notices are POSTed here as signed JSON until the provider answers with 2xx."),
    )
    rotate_client_secret = forms.BooleanField(
        label=_("Generate a new client secret"),
        required=False,
        help_text=_("Shown once after saving; the provider's old secret stops working."),
    )
    new_notice_secret = forms.CharField(
        label=_("New notice signing secret"),
        required=False,
        strip=True,
        min_length=16,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the current one. Shared with the provider to verify deletion notices."),
    )

    class Meta:
        model = Service
        fields = (
            "code",
            "name",
            "kind",
            "description",
            "provider_name",
            "privacy_policy_url",
            "hosting_region",
            "data_scopes",
            "notice_url",
            "organization",
            "listed",
        )

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        candidate = Service(
            kind=cleaned.get("kind"),
            provider_name=cleaned.get("provider_name", ""),
            privacy_policy_url=cleaned.get("privacy_policy_url", ""),
            notice_url=cleaned.get("notice_url", ""),
            organization=cleaned.get("organization"),
            data_scopes=list(cleaned.get("data_scopes") or []),
            # The secret typed now, else the one stored (never shown back).
            notice_secret=cleaned.get("new_notice_secret") or (self.instance.notice_secret if self.instance.pk else ""),
        )
        try:
            sharing_services.check_catalog_entry(candidate)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                field = "new_notice_secret" if field == "notice_secret" else field
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceAdminForm
    list_display = ("name", "code", "kind", "provider_name", "hosting_region", "scopes_revision", "listed")
    list_filter = ("kind", "listed", "hosting_region")
    search_fields = ("name", "code", "provider_name")
    raw_id_fields = ("organization",)
    readonly_fields = ("scopes_revision", "client_secret_state", "notice_secret_state", "created_at")
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "description", "listed", "organization")}),
        (_("Provider"), {"fields": ("provider_name", "privacy_policy_url", "hosting_region", "notice_url")}),
        (_("Data"), {"fields": ("data_scopes", "scopes_revision")}),
        (
            _("Credentials"),
            {"fields": ("client_secret_state", "rotate_client_secret", "notice_secret_state", "new_notice_secret")},
        ),
        (None, {"fields": ("created_at",)}),
    )

    def has_delete_permission(self, request, obj=None):
        return False  # grants, disclosures and notices point at it: unlist it instead

    @admin.display(description=_("client secret"))
    def client_secret_state(self, obj: Service) -> str:
        return gettext("set") if obj.client_secret_digest else gettext("not set")

    @admin.display(description=_("notice signing secret"))
    def notice_secret_state(self, obj: Service) -> str:
        # Never shown back, not even in part: it signs what providers must trust.
        return gettext("set") if obj.notice_secret else gettext("not set")

    def save_model(self, request, obj, form, change):
        """Every write goes through ``save_catalog_service`` (audited; adding scopes
        raises the revision)."""
        try:
            raw_secret = sharing_services.save_catalog_service(
                request.user,
                obj,
                rotate_client_secret=form.cleaned_data.get("rotate_client_secret", False),
                notice_secret=form.cleaned_data.get("new_notice_secret", ""),
                ip=client_ip(request),
            )
        except ValidationError as exc:  # checked by the form already; a race shows here
            raise PermissionDenied(" ".join(exc.messages)) from exc
        if raw_secret:
            self.message_user(
                request,
                gettext("The new client secret of %(code)s, shown only this once: %(secret)s")
                % {"code": obj.code, "secret": raw_secret},
                messages.WARNING,
            )


@admin.register(SharingGrant)
class SharingGrantAdmin(ReadOnlyModelAdmin):
    list_display = (
        "service", "organization", "status_display", "scopes_revision", "opened_at", "closed_at", "close_reason"
    )  # fmt: skip
    list_filter = (choice_filter(SharingGrant, "status"), "service__kind", "close_reason")
    status_display = choice_column(SharingGrant, "status")
    list_select_related = ("service", "organization")
    search_fields = ("service__code", "organization__name")


@admin.register(ProviderToken)
class ProviderTokenAdmin(ReadOnlyModelAdmin):
    list_display = ("prefix", "grant", "authorization", "created_at", "expires_at", "revoked_at", "last_used_at")
    list_filter = ("revoked_at", "expires_at")
    list_select_related = ("grant__service", "authorization__service")
    fields = ("prefix", "grant", "authorization", "created_at", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = fields


@admin.register(Disclosure)
class DisclosureAdmin(ReadOnlyModelAdmin):
    list_display = ("service", "organization", "member", "times", "first_disclosed_at", "last_disclosed_at")
    list_filter = ("service__kind", "service")
    list_select_related = ("service", "organization", "member")
    raw_id_fields = ("member", "user", "organization")
    show_full_result_count = False


class WaitingOnFilter(admin.SimpleListFilter):
    """Unacknowledged notices by who must act: operations (the service has no endpoint
    or signing secret in the catalog) or the provider (it refuses or cannot be reached)."""

    title = _("waiting on")
    parameter_name = "waiting_on"

    def lookups(self, request, model_admin):
        return (("operations", _("operations (set up the service)")), ("provider", _("the provider")))

    def queryset(self, request, queryset):
        unacknowledged = queryset.exclude(status=NoticeStatus.ACKNOWLEDGED)
        if self.value() == "operations":
            return unacknowledged.filter(notice_services.waiting_on_operations())
        if self.value() == "provider":
            return unacknowledged.exclude(notice_services.waiting_on_operations())
        return queryset


@admin.register(DeletionNotice)
class DeletionNoticeAdmin(ReadOnlyModelAdmin):
    list_display = (
        "uuid",
        "service",
        "organization",
        "reason_display",
        "status_display",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "acknowledged_at",
        "waiting_on",
    )
    list_filter = (
        WaitingOnFilter,
        choice_filter(DeletionNotice, "status"),
        choice_filter(DeletionNotice, "reason"),
        "service",
    )
    list_select_related = ("service", "organization")
    search_fields = ("=uuid",)
    status_display = choice_column(DeletionNotice, "status")
    reason_display = choice_column(DeletionNotice, "reason")
    actions = ("retry_now",)

    @admin.display(description=_("waiting on"))
    def waiting_on(self, obj: DeletionNotice):
        if obj.status == NoticeStatus.ACKNOWLEDGED:
            return "—"
        if notice_services.waits_on_operations(obj.service):
            # The fix: the endpoint and its signing secret in the catalog entry; saving
            # it sends the waiting notices at once.
            return format_html(
                '{} · <a href="{}">{}</a>',
                gettext("operations"),
                reverse("admin:consent_service_change", args=[obj.service_id]),
                gettext("Set up the service"),
            )
        return gettext("the provider")

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("consent.change_deletionnotice")

    @admin.action(description=_("Retry the selected pending notices now"), permissions=["retry"])
    def retry_now(self, request, queryset):
        selected = list(queryset.values_list("pk", flat=True))
        retried = notice_services.retry_notices_now(request.user, selected, ip=client_ip(request))
        if retried:
            self.message_user(
                request,
                ngettext("%(count)d notice will be sent now.", "%(count)d notices will be sent now.", retried)
                % {"count": retried},
                messages.SUCCESS,
            )
        skipped = len(selected) - retried
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d notice was left alone: only pending notices are retried.",
                    "%(count)d notices were left alone: only pending notices are retried.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )
