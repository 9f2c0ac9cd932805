"""Operations console for organizations. Roster sensitive columns are masked."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from organizations.models import Administrator, Department, Member, Organization


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


@admin.register(Administrator)
class AdministratorAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role", "appointed_at")
    list_select_related = ("user", "organization")
    list_filter = ("role",)
    raw_id_fields = ("organization", "user", "appointed_by", "scope")
