"""The console's organizations, departments, roster and administrators (ORG-1, ORG-3,
ORG-9). Sensitive roster columns are masked; children's entries are shown only to staff
holding the explicit right, and every look at one is audited (SEC-3)."""

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dataprotection.audit import client_ip, record_event
from organizations.models import (
    Administrator,
    Department,
    Member,
    Organization,
)
from organizations.models.children import children_anywhere_q

VIEW_CHILDREN_PERMISSION = "organizations.view_children"


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

    def get_queryset(self, request):
        """SEC-3: children's entries only for staff holding the explicit right."""
        queryset = super().get_queryset(request)
        if not request.user.has_perm(VIEW_CHILDREN_PERMISSION):
            queryset = queryset.exclude(children_anywhere_q(timezone.localdate()))
        return queryset

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        # SEC-3: every look at a child's record by staff is audited, like an admin's.
        member = (
            self.get_queryset(request)
            .filter(children_anywhere_q(timezone.localdate()), pk=object_id)
            .select_related("organization", "user")
            .first()
            if str(object_id).isdigit()
            else None
        )
        if member is not None and response.status_code == 200:
            record_event(
                "child.viewed",
                actor=request.user,
                subject=member.user,
                target=member,
                organization=member.organization,
                ip=client_ip(request),
                metadata={"page": "console"},
            )
        return response


@admin.register(Administrator)
class AdministratorAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role", "appointed_at")
    list_select_related = ("user", "organization")
    list_filter = ("role",)
    raw_id_fields = ("organization", "user", "appointed_by", "scope")
