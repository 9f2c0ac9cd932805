"""Operations console: policy versions (CON-6). Staff write drafts with their texts and
publish them with the "Publish" action, which calls ``publish_policy_version``. Once
published, a version and its texts are read-only here and refused by the services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from consent.forms.policies import PolicyVersionAdminForm
from consent.models import PolicyAcknowledgement, PolicyText, PolicyVersion
from consent.services import policies as services
from dataprotection.admin.base import LabelledDateTimeAdmin, ReadOnlyModelAdmin
from dataprotection.audit import client_ip


def _published(obj) -> bool:
    return obj is not None and obj.published_at is not None


class PolicyTextInline(admin.StackedInline):
    model = PolicyText
    extra = 0
    fields = ("language", "part", "title", "body")

    def has_add_permission(self, request, obj=None):
        return not _published(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not _published(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _published(obj) and super().has_delete_permission(request, obj)


class PublishedListFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("draft", _("Draft")), ("published", _("Published"))]

    def queryset(self, request, queryset):
        if self.value() == "draft":
            return queryset.filter(published_at__isnull=True)
        if self.value() == "published":
            return queryset.filter(published_at__isnull=False)
        return queryset


@admin.register(PolicyVersion)
class PolicyVersionAdmin(LabelledDateTimeAdmin):
    form = PolicyVersionAdminForm
    inlines = (PolicyTextInline,)
    list_display = (
        "edition",
        "version",
        "effective_on",
        "state",
        "published_at",
        "significant",
        "acknowledgement_count",
    )
    list_filter = ("edition", "significant", PublishedListFilter)
    ordering = ("edition", "-effective_on", "-pk")
    actions = ("publish_versions",)
    editable_fields = ("edition", "version", "effective_on", "significant", "significant_changes", "summary")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(ack_count=Count("acknowledgements"))

    @admin.display(description=_("state"))
    def state(self, obj: PolicyVersion) -> str:
        return gettext("Published") if obj.published_at else gettext("Draft")

    @admin.display(description=_("acknowledgements"), ordering="ack_count")
    def acknowledgement_count(self, obj: PolicyVersion) -> int:
        return obj.ack_count

    def get_fields(self, request, obj=None):
        if _published(obj):
            return (*self.editable_fields, "published_at", "acknowledgement_count")
        return self.editable_fields

    def get_readonly_fields(self, request, obj=None):
        if _published(obj):
            return (*self.editable_fields, "published_at", "acknowledgement_count")
        return ()

    def has_change_permission(self, request, obj=None):
        # A published version opens view-only; the list and its action still work.
        return not _published(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Published versions stay readable for good; acknowledgements refer to them.
        return not _published(obj) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if _published(obj):
            raise PermissionDenied
        try:
            services.save_draft_version(obj, actor=request.user, ip=client_ip(request))
        except ValidationError as exc:
            # The form checked everything the service checks except a publish racing
            # this edit; the change view's transaction rolls back on the exception.
            raise PermissionDenied(" ".join(exc.messages)) from exc

    def save_formset(self, request, form, formset, change):
        texts = formset.save(commit=False)
        for text in formset.deleted_objects:
            services.delete_draft_text(text, actor=request.user, ip=client_ip(request))
        for text in texts:
            services.save_draft_text(text, actor=request.user, ip=client_ip(request))

    @admin.action(description=_("Publish the selected versions"), permissions=["change"])
    def publish_versions(self, request, queryset):
        published = 0
        for version in queryset.order_by("effective_on", "pk"):
            try:
                services.publish_policy_version(version, actor=request.user, ip=client_ip(request))
            except ValidationError as exc:
                self.message_user(request, f"{version}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                published += 1
        if published:
            self.message_user(
                request,
                ngettext("%(count)d version was published.", "%(count)d versions were published.", published)
                % {"count": published},
                messages.SUCCESS,
            )


@admin.register(PolicyAcknowledgement)
class PolicyAcknowledgementAdmin(ReadOnlyModelAdmin):
    """Evidence of acknowledgements: read-only, never edited or deleted here."""

    list_display = ("version", "user", "language", "acknowledged_at")
    list_select_related = ("version", "user")
    list_filter = ("version__edition", "language")
    raw_id_fields = ("user", "version")
    show_full_result_count = False
