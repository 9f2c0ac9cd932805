"""Building blocks for the operations console shared by every app."""

from django.contrib import admin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """A record staff may look at but never add, change or delete: ledgers, audit
    trails, evidence. Writes happen only through the services that own them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
