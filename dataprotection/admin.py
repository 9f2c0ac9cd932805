from django.contrib import admin

from dataprotection.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only view of the audit trail for operations staff (SEC-2)."""

    list_display = (
        "occurred_at",
        "action",
        "actor_kind",
        "actor",
        "subject_user",
        "organization_id",
        "target_type",
        "target_id",
    )
    list_filter = ("action", "actor_kind")
    list_select_related = ("actor", "subject_user")
    date_hierarchy = "occurred_at"
    search_fields = ("action", "target_id", "=organization_id")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
