"""Operations console: the consent ledger and privacy settings (CON-2, CON-3), read
only. Decisions are the person's own; staff look, never add, change or delete. People
appear masked (``str(user)`` never shows the full number); discovery digests are not
shown at all."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from consent.models import ConsentRecord, PrivacySettings
from dataprotection.admin_base import ReadOnlyModelAdmin


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyModelAdmin):
    list_display = ("recorded_at", "subject", "purpose", "decision", "channel", "actor", "policy_version")
    list_filter = ("purpose", "decision", "channel", "actor")
    list_select_related = ("user", "policy_version")
    date_hierarchy = "recorded_at"
    fields = ("subject", "purpose", "decision", "channel", "actor", "actor_user", "policy_version", "recorded_at")
    readonly_fields = fields
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
    list_display = ("user", "findable_by_phone", "device_permissions", "updated_at")
    list_filter = ("findable_by_phone",)
    list_select_related = ("user",)
    fields = ("user", "findable_by_phone", "device_permissions", "updated_at")
    readonly_fields = fields
