"""Operations console: the consent ledger and privacy settings (CON-2, CON-3), read
only. Decisions are the person's own; staff look, never add, change or delete. People
appear masked (``str(user)`` never shows the full number); discovery digests are not
shown at all."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from consent.models import ConsentRecord, DevicePermission, PrivacySettings
from dataprotection.admin.base import ReadOnlyModelAdmin, choice_column, choice_filter


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyModelAdmin):
    list_display = (
        "recorded_at", "subject", "purpose", "decision_display", "channel_display", "actor_display", "policy_version"
    )  # fmt: skip
    list_filter = (
        "purpose",
        choice_filter(ConsentRecord, "decision"),
        choice_filter(ConsentRecord, "channel"),
        choice_filter(ConsentRecord, "actor"),
    )
    list_select_related = ("user", "policy_version")
    date_hierarchy = "recorded_at"
    fields = (
        "subject", "purpose", "decision_display", "channel_display", "actor_display", "actor_user", "policy_version",
        "recorded_at",
    )  # fmt: skip
    readonly_fields = fields
    decision_display = choice_column(ConsentRecord, "decision")
    channel_display = choice_column(ConsentRecord, "channel")
    actor_display = choice_column(ConsentRecord, "actor")
    show_full_result_count = False  # the ledger grows without bound: no COUNT(*) per page

    @admin.display(description=_("person or visitor"))
    def subject(self, obj: ConsentRecord) -> str:
        if obj.user_id:
            return str(obj.user)
        if obj.visitor_key:
            return _("visitor %(key)s…") % {"key": obj.visitor_key[:6]}
        return _("deleted account")


@admin.register(PrivacySettings)
class PrivacySettingsAdmin(ReadOnlyModelAdmin):
    list_display = ("user", "findable_by_phone", "permissions_display", "updated_at")
    list_filter = ("findable_by_phone",)
    list_select_related = ("user",)
    fields = ("user", "findable_by_phone", "permissions_display", "updated_at")
    readonly_fields = fields

    @admin.display(description=_("device permissions"))
    def permissions_display(self, obj: PrivacySettings) -> str:
        labels = dict(DevicePermission.choices)
        return ", ".join(str(labels.get(code, code)) for code in obj.device_permissions or ()) or "—"
