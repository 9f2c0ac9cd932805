"""Operations console: the holiday calendars behind working-day deadlines (REQ-4)."""

from django.contrib import admin

from requests.models import Holiday


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    """Staff keep each jurisdiction's calendar: holidays, and weekend days that are
    worked (``working_day``). Bulk loads: ``manage.py load_holidays``."""

    list_display = ("date", "name", "jurisdiction", "working_day")
    list_filter = ("jurisdiction", "working_day")
    search_fields = ("name",)
    date_hierarchy = "date"
    ordering = ("jurisdiction", "date")
